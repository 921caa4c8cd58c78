/**
 * Clients that run inside the runner: the evenly paced load for latency at moderate rates,
 * downloads of large bodies, the cold burst, and in-process autocannon for --profile. The
 * saturating load of the bench proper runs in its own process (bench/generator.ts).
 */
import { Agent, get } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import autocannon from 'autocannon';
import { Pool } from 'undici';

/** What every upstream request must carry; bearer-proxy replaces it, the others set their own. */
export const CLIENT_HEADERS = { authorization: 'Bearer direct-bench-token' };

export interface LoadOptions {
  url: string;
  connections: number;
  durationSec: number;
  /** Total requests per second over all connections; unset means as fast as possible. */
  overallRate?: number;
  headers?: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  mbPerSec: number;
  /** Connection errors, timeouts and non-2xx answers together: any of them invalidates the numbers. */
  failures: number;
  seconds: number;
  /** Every 2xx latency in ms, sorted. */
  latencies: number[];
}

/**
 * autocannon's own latency histogram has whole-millisecond resolution, useless for a
 * sub-millisecond "added latency" target, so latencies are taken from its per-response
 * event (float ms from hrtime) instead.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    // The callback form returns the instance, whose per-response event carries the precise time.
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationSec,
        headers: options.headers ?? CLIENT_HEADERS,
        timeout: 10,
        ...(options.overallRate ? { overallRate: options.overallRate } : {}),
      },
      (error, done) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
  latencies.sort((a, b) => a - b);
  const seconds = result.duration;
  return {
    requests: result['2xx'],
    reqPerSec: result['2xx'] / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    mbPerSec: result.throughput.total / seconds / 1e6,
    failures: result.errors + result.timeouts + result.non2xx,
    seconds,
    latencies,
  };
}

export interface PacedOptions {
  url: string;
  connections: number;
  /** Requests per second, spread evenly over time. */
  rate: number;
  durationSec: number;
}

/**
 * Open-loop load at an even rate. autocannon's `overallRate` is a per-second quota: each
 * connection fires its share back to back at the start of every second and then idles,
 * so its "1000 req/s" is really short bursts at full concurrency, and the latency it
 * reports is queueing, not what one request costs at moderate load.
 */
export async function runPaced(options: PacedOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const pool = new Pool(target.origin, { connections: options.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  let bytes = 0;
  let failures = 0;
  const inFlight = new Set<Promise<void>>();
  const one = async (): Promise<void> => {
    const started = performance.now();
    try {
      const { statusCode, body } = await pool.request({ path: target.pathname + target.search, method: 'GET', headers: CLIENT_HEADERS });
      for await (const chunk of body) bytes += (chunk as Buffer).length;
      if (statusCode >= 200 && statusCode < 300) latencies.push(performance.now() - started);
      else failures++;
    } catch {
      failures++;
    }
  };
  const start = performance.now();
  const end = start + options.durationSec * 1000;
  let sent = 0;
  for (let now = start; now < end; now = performance.now()) {
    const due = Math.floor(((now - start) * options.rate) / 1000);
    for (; sent < due; sent++) {
      const request = one();
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - start) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    reqPerSec: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    mbPerSec: bytes / seconds / 1e6,
    failures,
    seconds,
    latencies,
  };
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

export interface Download {
  status: number;
  /** Body bytes after decoding (equal to wireBytes unless the answer was compressed and decoding was asked for). */
  bytes: number;
  wireBytes: number;
  contentEncoding: string | undefined;
  seconds: number;
  /** Occurrences of the needle in the (decoded) body, counted across chunk boundaries. */
  matches: number;
}

export interface DownloadOptions {
  needle?: string;
  headers?: Record<string, string>;
  /** Source address of the connection: a non-loopback one makes this a remote caller to the proxy. */
  localAddress?: string;
  /** Gunzip a gzip answer before counting (a remote caller's view of a re-encoded body). */
  decode?: boolean;
}

/** One GET whose body is consumed as it arrives and never kept: the client must not be what limits a 1 GiB transfer. */
export function download(url: string, options: DownloadOptions = {}): Promise<Download> {
  const pattern = options.needle === undefined ? undefined : Buffer.from(options.needle, 'latin1');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = get(url, { agent: false, headers: options.headers ?? CLIENT_HEADERS, ...(options.localAddress ? { localAddress: options.localAddress } : {}) }, (res) => {
      const encoding = res.headers['content-encoding'];
      let wireBytes = 0;
      res.on('data', (chunk: Buffer) => {
        wireBytes += chunk.length;
      });
      const body: Readable = options.decode && encoding === 'gzip' ? res.pipe(createGunzip()) : res;
      let bytes = 0;
      let matches = 0;
      let carry = Buffer.alloc(0);
      body.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (!pattern) return;
        // A match split across chunks is found in the seam: the previous chunk's last (needle − 1)
        // bytes plus this chunk's first (needle − 1). Neither half alone can hold a whole match.
        const seam = Buffer.concat([carry, chunk.subarray(0, pattern.length - 1)]);
        matches += count(seam, pattern) + count(chunk, pattern);
        const tail = chunk.length >= pattern.length - 1 ? chunk : Buffer.concat([carry, chunk]);
        carry = Buffer.from(tail.subarray(Math.max(0, tail.length - (pattern.length - 1))));
      });
      body.once('end', () => resolve({ status: res.statusCode ?? 0, bytes, wireBytes, contentEncoding: encoding, seconds: (performance.now() - started) / 1000, matches }));
      body.once('error', reject);
      res.once('error', reject);
    });
    req.once('error', reject);
  });
}

function count(haystack: Buffer, needle: Buffer): number {
  let found = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) found++;
  return found;
}

export interface RepeatedDownload {
  runs: number;
  bytes: number;
  seconds: number;
  mbPerSec: number;
  /** Needle matches in the last body, which must equal every other body's. */
  matches: number;
  statuses: number[];
}

/** Downloads the same URL back to back for about `durationSec` (at least `minRuns` times) and reports the aggregate rate. */
export async function downloadRepeatedly(url: string, durationSec: number, minRuns: number, needle?: string): Promise<RepeatedDownload> {
  const deadline = performance.now() + durationSec * 1000;
  let runs = 0;
  let bytes = 0;
  let seconds = 0;
  let matches = 0;
  const statuses = new Set<number>();
  while (runs < minRuns || performance.now() < deadline) {
    const one = await download(url, needle === undefined ? {} : { needle });
    runs++;
    bytes += one.bytes;
    seconds += one.seconds;
    matches = one.matches;
    statuses.add(one.status);
  }
  return { runs, bytes, seconds, mbPerSec: bytes / seconds / 1e6, matches, statuses: [...statuses] };
}

export interface Burst {
  ok: number;
  failed: number;
  seconds: number;
  statuses: Record<string, number>;
}

/** `count` requests started at once, each on its own connection, as a cold Power BI refresh with many queries would. */
export async function burst(url: string, count: number): Promise<Burst> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const started = performance.now();
  const statuses: Record<string, number> = {};
  const one = (): Promise<string> =>
    new Promise((resolve) => {
      const req = get(url, { agent, headers: CLIENT_HEADERS, timeout: 30_000 }, (res) => {
        res.resume();
        res.once('end', () => resolve(String(res.statusCode)));
      });
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  const outcomes = await Promise.all(Array.from({ length: count }, one));
  agent.destroy();
  for (const outcome of outcomes) statuses[outcome] = (statuses[outcome] ?? 0) + 1;
  const ok = statuses['200'] ?? 0;
  return { ok, failed: count - ok, seconds: (performance.now() - started) / 1000, statuses };
}
