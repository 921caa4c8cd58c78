/**
 * Large bodies: a 1 GiB stream through every system, the 59 MB OData page with rewriting
 * off and on, and the same page gzip-encoded by the upstream, read by a loopback caller
 * (decoded, rewritten, sent as identity) and by a caller on this machine's non-loopback
 * address (decoded, rewritten, gzip-encoded again). Interleaved rounds, medians.
 */
import { networkInterfaces } from 'node:os';
import { measured, type Context, type Phase } from './context.ts';
import { CLIENT_HEADERS, download, type DownloadOptions } from './load.ts';
import { log } from './processes.ts';
import { ROUTES } from './proxy.ts';
import { fixed, times, type Table } from './report.ts';
import { interleave, median, spread } from './rounds.ts';
import type { System } from './systems.ts';

export const GIB = 1024 ** 3;
/** Downloads of the big page per phase: one takes a fraction of a second, too short to time alone. */
const PAGES_PER_PHASE = 3;

interface Case {
  key: string;
  name: string;
  system: System;
  url: string;
  /** Fetched once before the rounds, unmeasured: JIT, pools and first-use buffers are not what a growth figure is about. */
  warmUrl?: string;
  download: DownloadOptions;
  /** What a correct answer looks like: byte count, needle count, encoding. */
  expect: { bytes: number; matches?: number; encoding?: string };
}

export interface TransferSummary {
  name: string;
  system: System;
  mbPerSec: number;
  wireMbPerSec: number;
  spreadPct: number;
  /** Proxy CPU seconds per transferred body. */
  cpuSecondsPerBody: number;
  /** Share of one CPU the system was busy during the transfers. */
  busyPct: number;
  peakMb: number;
  /** Largest RSS rise over the start of any one phase (after the warm-up download). */
  growthMb: number;
  problems: string[];
}

/** `count` downloads of one case back to back as one phase; a wrong answer is recorded, not thrown, so the table still prints. */
async function transferPhase(item: Case, count: number, problems: string[]): Promise<Phase & { wireMbPerSec: number }> {
  let wire = 0;
  const phase = await measured(
    item.system,
    async () => {
      let bytes = 0;
      let seconds = 0;
      for (let index = 0; index < count; index++) {
        const one = await download(item.url, item.download);
        bytes += one.bytes;
        wire += one.wireBytes;
        seconds += one.seconds;
        const wrong = [
          one.status !== 200 && `status ${one.status}`,
          one.bytes !== item.expect.bytes && `${one.bytes} bytes, not ${item.expect.bytes}`,
          item.expect.matches !== undefined && one.matches !== item.expect.matches && `${one.matches}/${item.expect.matches} expected URLs`,
          one.contentEncoding !== item.expect.encoding && `content-encoding ${one.contentEncoding ?? 'none'}, not ${item.expect.encoding ?? 'none'}`,
        ].filter(Boolean);
        if (wrong.length > 0 && problems.length < 3) problems.push(wrong.join(', '));
      }
      return { requests: count, seconds, p50Ms: Number.NaN, p99Ms: Number.NaN, mbPerSec: bytes / seconds / 1e6, failures: 0 };
    },
    10,
  );
  return { ...phase, wireMbPerSec: wire / phase.seconds / 1e6 };
}

async function runCases(ctx: Context, cases: readonly Case[], perPhase: number): Promise<Map<string, TransferSummary>> {
  const problems = new Map(cases.map((c) => [c.key, [] as string[]]));
  for (const item of cases) await download(item.warmUrl ?? item.url, item.download);
  const phases = await interleave(cases, ctx.settings.rounds, async (item, round) => {
    const phase = await transferPhase(item, perPhase, problems.get(item.key)!);
    log(`  round ${round + 1} ${item.name}: ${phase.mbPerSec.toFixed(0)} MB/s`);
    return phase;
  });
  return new Map(
    cases.map((item) => {
      const list = phases.get(item.key)!;
      return [
        item.key,
        {
          name: item.name,
          system: item.system,
          mbPerSec: median(list.map((p) => p.mbPerSec)),
          wireMbPerSec: median(list.map((p) => p.wireMbPerSec)),
          spreadPct: spread(list.map((p) => p.mbPerSec)),
          cpuSecondsPerBody: median(list.map((p) => p.cpuSeconds / p.requests)),
          busyPct: median(list.map((p) => (p.cpuSeconds / p.seconds) * 100)),
          peakMb: Math.max(...list.map((p) => p.peakMb)),
          growthMb: Math.max(...list.map((p) => p.growthMb)),
          problems: problems.get(item.key)!,
        },
      ];
    }),
  );
}

function rows(summaries: Map<string, TransferSummary>, reference: (s: TransferSummary) => string[]): string[][] {
  return [...summaries.values()].map((s) => [
    s.name,
    fixed(s.mbPerSec, 0),
    Number.isNaN(s.spreadPct) ? '' : `${s.spreadPct.toFixed(1)}%`,
    fixed(s.cpuSecondsPerBody, 2),
    Number.isNaN(s.busyPct) ? '' : `${s.busyPct.toFixed(0)}%`,
    Number.isFinite(s.peakMb) ? s.peakMb.toFixed(1) : '',
    Number.isFinite(s.growthMb) ? `+${s.growthMb.toFixed(1)}` : '',
    ...reference(s),
    s.problems.join('; '),
  ]);
}

export async function stream(ctx: Context): Promise<{ table: Table; summaries: Map<string, TransferSummary> }> {
  const { lineup, settings, env } = ctx;
  const systems: System[] = [];
  if (settings.systems.has('direct')) systems.push(lineup.direct(env.upstreamUrl));
  for (const kind of ['undici', 'http-proxy', 'nginx'] as const) {
    const system = settings.systems.has(kind) ? await lineup.comparator(kind, env.upstreamUrl) : undefined;
    if (system) systems.push(system);
  }
  systems.push(await lineup.bearer(ctx.info), ...(await Promise.all(ctx.others.map((other) => lineup.bearer(other)))));
  await lineup.measureIdle(systems);
  const cases = systems.map((system): Case => ({
    key: system.key,
    name: system.name,
    system,
    url: `${system.url}${system.rootPrefix}/stream?bytes=${GIB}`,
    warmUrl: `${system.url}${system.rootPrefix}/stream?bytes=${64 * 1024 ** 2}`,
    download: {},
    expect: { bytes: GIB },
  }));
  log(`1 GiB stream, ${settings.rounds} rounds: ${cases.map((c) => c.name).join(' | ')}`);
  const summaries = await runCases(ctx, cases, 1);
  const undici = summaries.get('undici');
  const httpProxy = summaries.get('http-proxy');
  return {
    summaries,
    table: {
      title: `1 GiB stream (${settings.rounds} interleaved rounds, medians)`,
      columns: ['system', 'MB/s', 'range', 'CPU s/GiB', 'CPU busy', 'peak RSS MB', 'RSS growth MB', '× undici', '× http-proxy', 'problems'],
      rows: rows(summaries, (s) => [undici ? times(s.mbPerSec / undici.mbPerSec) : '', httpProxy ? times(s.mbPerSec / httpProxy.mbPerSec) : '']),
    },
  };
}

export async function rewrite(ctx: Context): Promise<{ table: Table; summaries: Map<string, TransferSummary> }> {
  const { lineup, settings, env } = ctx;
  const page = env.upstream.bigPageBytes;
  const urls = env.upstream.bigPageUrls;
  const upstreamBase = `${env.upstreamUrl}/odata`;
  const cases: Case[] = [
    { key: 'direct', name: 'direct (no proxy)', system: lineup.direct(env.upstreamUrl), url: `${upstreamBase}/Big`, download: { needle: upstreamBase }, expect: { bytes: page, matches: urls } },
  ];
  for (const variant of [ctx.info, ...ctx.others]) {
    const system = await lineup.bearer(variant);
    const proxyBase = `${system.url}${ROUTES.rewriteOn}`;
    cases.push(
      {
        key: `${variant.key} off`,
        name: `${variant.name}, rewriteUrls: false`,
        system,
        url: `${system.url}${ROUTES.rewriteOff}/Big`,
        download: { needle: upstreamBase },
        expect: { bytes: page, matches: urls },
      },
      // Rewriting changes the length: the proxy URL is shorter or longer than the upstream's.
      {
        key: `${variant.key} on`,
        name: `${variant.name}, rewriteUrls: true`,
        system,
        url: `${proxyBase}/Big`,
        download: { needle: proxyBase },
        expect: { bytes: page + urls * (proxyBase.length - upstreamBase.length), matches: urls },
      },
    );
  }
  log(`OData page ${(page / 1e6).toFixed(0)} MB, ${PAGES_PER_PHASE} downloads per phase, ${settings.rounds} rounds`);
  const summaries = await runCases(ctx, cases, PAGES_PER_PHASE);
  return {
    summaries,
    table: {
      title: `OData page ${(page / 1e6).toFixed(0)} MB with ${urls} absolute URLs, rewriting off vs on (${settings.rounds} rounds × ${PAGES_PER_PHASE} pages, medians)`,
      columns: ['system', 'MB/s', 'range', 'CPU s/page', 'CPU busy', 'peak RSS MB', 'RSS growth MB', 'on ÷ off', 'problems'],
      rows: rows(summaries, (s) => {
        const key = [...summaries].find(([, value]) => value === s)![0];
        const off = key.endsWith(' on') ? summaries.get(`${key.slice(0, -3)} off`) : undefined;
        return [off ? times(s.mbPerSec / off.mbPerSec) : ''];
      }),
    },
  };
}

/** An IPv4 address of this machine that is not loopback (eth0 here): connecting from it makes a remote caller. */
export function externalIPv4(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;
}

export async function gzip(ctx: Context): Promise<{ table?: Table; summaries: Map<string, TransferSummary>; skipped?: string }> {
  const { lineup, settings, env } = ctx;
  const ip = externalIPv4();
  if (!ip) return { summaries: new Map(), skipped: 'no non-loopback IPv4 address on this machine' };
  const page = env.upstream.bigPageBytes;
  const urls = env.upstream.bigPageUrls;
  const upstreamBase = `${env.upstreamUrl}/odata`;
  const accept = { ...CLIENT_HEADERS, 'accept-encoding': 'gzip' };
  const local = await lineup.bearer(ctx.info);
  const remote = await lineup.remoteBearer({ ...ctx.info, key: 'remote', name: `bearer-proxy info on ${ip}` }, ip);
  const localBase = `${local.url}${ROUTES.rewriteOn}`;
  const remoteBase = `${remote.url}${ROUTES.rewriteOn}`;
  const rewritten = (base: string): number => page + urls * (base.length - upstreamBase.length);
  const cases: Case[] = [
    {
      key: 'loopback',
      name: 'loopback caller: gunzip, rewrite, identity out',
      system: local,
      url: `${localBase}/BigGz`,
      download: { headers: accept, needle: localBase },
      expect: { bytes: rewritten(localBase), matches: urls },
    },
    {
      key: 'remote',
      name: `caller on ${ip}: gunzip, rewrite, gzip out`,
      system: remote,
      url: `${remoteBase}/BigGz`,
      download: { headers: accept, needle: remoteBase, localAddress: ip, decode: true },
      expect: { bytes: rewritten(remoteBase), matches: urls, encoding: 'gzip' },
    },
    {
      key: 'remote raw',
      name: `caller on ${ip}, rewriteUrls: false: gzip passed through`,
      system: remote,
      url: `${remote.url}${ROUTES.rewriteOff}/BigGz`,
      download: { headers: accept, needle: upstreamBase, localAddress: ip, decode: true },
      expect: { bytes: page, matches: urls, encoding: 'gzip' },
    },
  ];
  log(`gzip-encoded OData page (${(env.upstream.bigPageGzipBytes / 1e6).toFixed(1)} MB on the wire), ${settings.rounds} rounds`);
  const summaries = await runCases(ctx, cases, 1);
  const loopback = summaries.get('loopback')!;
  return {
    summaries,
    table: {
      title: `gzip-encoded OData page, ${(page / 1e6).toFixed(0)} MB decoded (${settings.rounds} rounds, medians; MB/s of decoded body)`,
      columns: ['case', 'MB/s', 'range', 'CPU s/page', 'CPU busy', 'peak RSS MB', 'RSS growth MB', 'wire MB/s', '× loopback', 'problems'],
      rows: rows(summaries, (s) => [fixed(s.wireMbPerSec, 1), times(s.mbPerSec / loopback.mbPerSec)]),
    },
  };
}
