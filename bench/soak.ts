/**
 * `npm run bench:soak`: does the proxy hold steady over a long run? The built CLI (as users
 * run it, `--log-level warn`, under `node --trace-gc`) serves a mix of every kind of
 * request for many minutes while its token expires every few seconds and its config is
 * reloaded (SIGHUP) every few more: small and streamed rewrites, a gzip answer, $batch,
 * POST bodies, HEAD, clients leaving mid-answer, upstreams resetting connections,
 * rejecting tokens and answering too late, unknown routes, TRACE.
 *
 * It reports, per window, requests, the live heap (the heap after each full GC, from
 * --trace-gc; the least heap in use in the window, from /metrics), RSS, open fds and
 * handles, and judges: live-heap growth per million requests, fds and handles back where
 * they were, every request answered as its kind should be, every link rewritten, no held
 * body left, no error logged, the last reload in force, token fetches as the lifetime asks.
 *
 *   npm run bench:soak -- [--minutes 10] [--connections 16] [--ttl 6] [--reload-every 20]
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent, request, type Dispatcher } from 'undici';
import { startDemoIssuer, type DemoIssuer } from '../src/demo/issuer.ts';
import { freePort, log, ProcessGroup, readReadyLine, stopChildrenOnExit, waitForOk, type Child } from './processes.ts';
import { processTree, totalRssMb } from './procfs.ts';
import { build, buildIsStale, CLI, REPO_ROOT, sourceRevision } from './proxy.ts';
import { atMost, fixed, formatTable, formatVerdicts, info, type Verdict } from './report.ts';
import { parsePrometheusText, sampleValue } from '../test/helpers/prometheus.ts';
import { fullGcOf, leastSquaresSlope, mulberry32 } from './soak-analysis.ts';

const USAGE = `npm run bench:soak -- [options]
  --minutes N        measured minutes after the warm-up (default 10)
  --warmup S         seconds of load before measuring (default 30)
  --window S         seconds per reported window (default 30)
  --connections N    concurrent requests (default 16)
  --ttl S            access token lifetime at the issuer (default 6)
  --reload-every S   seconds between config reloads by SIGHUP (default 20)
  --seed N           the request mix's random seed (default 1)
  --workers N        serve --workers N (default 1: a single process)`;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '30' },
    window: { type: 'string', default: '30' },
    connections: { type: 'string', default: '16' },
    ttl: { type: 'string', default: '6' },
    'reload-every': { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const settings = {
  minutes: Number(values.minutes),
  warmupMs: Number(values.warmup) * 1000,
  windowMs: Number(values.window) * 1000,
  connections: Number(values.connections),
  ttl: Number(values.ttl),
  reloadMs: Number(values['reload-every']) * 1000,
  seed: Number(values.seed),
  workers: Number(values.workers),
};
for (const [name, value] of Object.entries(settings)) if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: a positive number, not ${String(value)}`);

/** Live heap growth per million requests judged a leak; about the noise of a 10-minute run here. */
const LEAK_MB_PER_MILLION = 2;
/** fds and handles the proxy may hold above its idle start once the load has gone and its upstream connections timed out. */
const SETTLE_SLACK = 4;
const IDLE_AFTER_MS = 15_000;

interface Kind {
  name: string;
  weight: number;
  /** The statuses this kind must get; 'left' for a client that leaves mid-answer. */
  expect: ReadonlyArray<number | 'left'>;
  send(agent: Dispatcher, base: string): Promise<{ outcome: number | 'left'; body?: string }>;
}

const BATCH_BODY = ['--b', 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '', 'GET Customers(1) HTTP/1.1', '', '', '--b--', ''].join('\r\n');
const ECHO_BODY = JSON.stringify({ note: 'e'.repeat(1000) });

async function answered(response: Dispatcher.ResponseData, keepBody: boolean): Promise<{ outcome: number; body?: string }> {
  if (!keepBody) {
    await response.body.dump({ limit: Infinity });
    return { outcome: response.statusCode };
  }
  return { outcome: response.statusCode, body: await response.body.text() };
}

function get(path: string, keepBody: boolean, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'TRACE' = 'GET'): Kind['send'] {
  return async (agent, base) => answered(await request(`${base}${path}`, { dispatcher: agent, method, headers }), keepBody);
}

function post(path: string, contentType: string, body: string): Kind['send'] {
  return async (agent, base) => answered(await request(`${base}${path}`, { dispatcher: agent, method: 'POST', headers: { 'content-type': contentType }, body }), true);
}

async function leaveMidAnswer(agent: Dispatcher, base: string): Promise<{ outcome: number | 'left' }> {
  const controller = new AbortController();
  try {
    const response = await request(`${base}/api/slow`, { dispatcher: agent, signal: controller.signal });
    for await (const chunk of response.body) {
      if ((chunk as Buffer).length > 0) controller.abort();
    }
    return { outcome: response.statusCode };
  } catch (error) {
    if ((error as Error).name === 'AbortError' || (error as { code?: string }).code === 'UND_ERR_ABORTED') return { outcome: 'left' };
    throw error;
  }
}

const KINDS: Kind[] = [
  { name: 'small JSON, rewritten whole', weight: 36, expect: [200], send: get('/api/small', true) },
  { name: 'HEAD', weight: 3, expect: [200], send: get('/api/small', false, {}, 'HEAD') },
  { name: '200 KB JSON, rewritten streaming', weight: 6, expect: [200], send: get('/api/page', true) },
  { name: 'gzip answer, decoded and rewritten', weight: 5, expect: [200], send: get('/api/gz', true, { 'accept-encoding': 'gzip' }) },
  { name: '$batch, multipart', weight: 8, expect: [200], send: post('/api/$batch', 'multipart/mixed; boundary=b', BATCH_BODY) },
  { name: 'POST 1 KB, held for a replay', weight: 10, expect: [200], send: post('/api/echo', 'application/json', ECHO_BODY) },
  { name: 'client leaves mid-answer', weight: 5, expect: ['left'], send: leaveMidAnswer },
  { name: 'upstream resets the connection', weight: 4, expect: [502], send: get('/api/reset', false) },
  { name: 'upstream rejects the token', weight: 2, expect: [502], send: get('/api/reject', false) },
  { name: 'upstream answers after the timeout', weight: 1, expect: [504], send: get('/late/late', false) },
  { name: 'no such route', weight: 3, expect: [404], send: get('/nope', false) },
  { name: 'TRACE', weight: 1, expect: [405], send: get('/api/small', false, {}, 'TRACE') },
  { name: '/healthz', weight: 1, expect: [200], send: get('/healthz', false) },
];

interface Tally {
  requests: number;
  byKind: Map<string, Map<string, number>>;
  unexpected: Map<string, number>;
  upstreamLinks: number;
}

function record(tally: Tally, kind: Kind, outcome: number | string): void {
  tally.requests++;
  const counts = tally.byKind.get(kind.name) ?? new Map<string, number>();
  counts.set(String(outcome), (counts.get(String(outcome)) ?? 0) + 1);
  tally.byKind.set(kind.name, counts);
  if (!kind.expect.includes(outcome as number)) {
    const key = `${kind.name}: ${String(outcome)}`;
    tally.unexpected.set(key, (tally.unexpected.get(key) ?? 0) + 1);
  }
}

function configYaml(issuer: DemoIssuer, clientId: string, upstream: string, generation: number): string {
  return [
    'tokens:',
    '  soak:',
    `    tokenUrl: ${issuer.tokenUrl}`,
    `    clientId: ${clientId}`,
    '    clientSecret: ${SOAK_CLIENT_SECRET}',
    '    allowInsecure: true',
    'routes:',
    '  /api:',
    `    target: ${upstream}/api`,
    '    token: soak',
    '    headers:',
    `      x-soak-generation: "${generation}"`,
    '  /late:',
    `    target: ${upstream}/api`,
    '    token: soak',
    '    timeout: 200ms',
    '',
  ].join('\n');
}

interface Sample {
  at: number;
  requests: number;
  heapUsedMb?: number;
  handles?: number;
  replayBytes?: number;
  rssMb?: number;
  fds?: number;
}

/** Open fds of the process and its workers. */
function openFds(pid: number): number | undefined {
  try {
    return processTree(pid).reduce((sum, each) => sum + readdirSync(`/proc/${each}/fd`).length, 0);
  } catch {
    return undefined;
  }
}

async function sample(pid: number, base: string, admin: Dispatcher, requests: number): Promise<Sample> {
  const at = performance.now();
  const response = await request(`${base}/metrics`, { dispatcher: admin });
  const metrics = parsePrometheusText(await response.body.text());
  return {
    at,
    requests,
    heapUsedMb: sampleValue(metrics, 'bearer_proxy_nodejs_heap_size_used_bytes')! / 1e6,
    handles: sampleValue(metrics, 'bearer_proxy_nodejs_active_handles_total'),
    replayBytes: sampleValue(metrics, 'bearer_proxy_replay_buffered_bytes'),
    rssMb: totalRssMb(processTree(pid)),
    fds: openFds(pid),
  };
}

/** What the proxy printed: --trace-gc lines (heap after each full GC) and its warn/error log lines. */
function watchOutput(child: Child, requestsSoFar: () => number) {
  const fullGcs: Array<{ pid: number; requests: number; afterMb: number }> = [];
  const errors: string[] = [];
  const warnings = new Map<string, number>();
  const lines = createInterface({ input: child.process.stdout! });
  lines.on('line', (line) => {
    if (!line.startsWith('{')) {
      const gc = fullGcOf(line);
      if (gc) fullGcs.push({ ...gc, requests: requestsSoFar() });
      return;
    }
    const entry = JSON.parse(line) as { level?: number; msg?: string; status?: number; error?: { code?: string } };
    // Access lines of the proxy's own 5xx answers are warnings: counted by status and code.
    const what = [entry.msg, entry.status, entry.error?.code].filter((part) => part !== undefined).join(' ');
    if ((entry.level ?? 0) >= 50) errors.push(what || line.slice(0, 200));
    else if (entry.level === 40) warnings.set(what, (warnings.get(what) ?? 0) + 1);
  });
  return { fullGcs, errors, warnings };
}

async function soak(group: ProcessGroup): Promise<string> {
  if (buildIsStale()) {
    log('building (npm run build)');
    await build();
  }
  const dir = await mkdtemp(join(tmpdir(), 'bearer-proxy-soak-'));
  const clientId = 'soak-client';
  const clientSecret = randomBytes(24).toString('base64url');
  const issuer = await startDemoIssuer({ clientId, clientSecret, audience: 'https://soak.bearer-proxy.local', ttlSeconds: settings.ttl });
  const agent = new Agent({ connections: settings.connections });
  const admin = new Agent({ connections: 1 });
  try {
    const upstreamChild = group.spawn('upstream', process.execPath, { args: ['--import', 'tsx', join(REPO_ROOT, 'bench', 'soak-upstream.ts')], cwd: REPO_ROOT, stdout: 'pipe' });
    const upstream = `http://127.0.0.1:${(await readReadyLine<{ port: number }>(upstreamChild)).port}`;
    const file = join(dir, 'proxy.yaml');
    let generation = 1;
    await writeFile(file, configYaml(issuer, clientId, upstream, generation));
    const port = await freePort();
    const proxy = group.spawn('bearer-proxy', process.execPath, {
      // Workers are forked with the primary's node flags: each prints its own GCs, prefixed by its pid.
      args: ['--trace-gc', CLI, 'serve', '-c', file, '--port', String(port), '--log-level', 'warn', ...(settings.workers > 1 ? ['--workers', String(settings.workers)] : [])],
      env: { ...process.env, SOAK_CLIENT_SECRET: clientSecret },
      cwd: dir,
      stdout: 'pipe',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForOk(`${base}/healthz`, proxy);
    const tally: Tally = { requests: 0, byKind: new Map(), unexpected: new Map(), upstreamLinks: 0 };
    const output = watchOutput(proxy, () => tally.requests);
    const beforeLoad = await sample(proxy.pid, base, admin, 0);
    log(
      `proxy ${sourceRevision()} on ${base}${settings.workers > 1 ? ` with ${settings.workers} workers` : ''}, upstream ${upstream}; ${settings.connections} connections, token lifetime ${settings.ttl} s, a reload every ${settings.reloadMs / 1000} s`,
    );

    const random = mulberry32(settings.seed);
    const totalWeight = KINDS.reduce((sum, kind) => sum + kind.weight, 0);
    const pick = (): Kind => {
      let left = random() * totalWeight;
      return KINDS.find((kind) => (left -= kind.weight) < 0) ?? KINDS[0]!;
    };
    let stopping = false;
    const loop = async (): Promise<void> => {
      while (!stopping) {
        const kind = pick();
        try {
          const { outcome, body } = await kind.send(agent, base);
          if (body?.includes(upstream)) tally.upstreamLinks++;
          record(tally, kind, outcome);
        } catch (error) {
          record(tally, kind, `error ${(error as { code?: string }).code ?? (error as Error).name}`);
        }
      }
    };
    const started = performance.now();
    const loops = Array.from({ length: settings.connections }, loop);
    const reloads = setInterval(() => {
      generation++;
      void writeFile(file, configYaml(issuer, clientId, upstream, generation)).then(() => proxy.process.kill('SIGHUP'));
    }, settings.reloadMs);

    const measuredMs = settings.minutes * 60_000;
    const windows: Sample[][] = [];
    let warmupEnd: { requests: number; sample: Sample } | undefined;
    const tokensBefore = issuer.tokensIssued;
    while (performance.now() - started < settings.warmupMs + measuredMs) {
      await sleep(1000);
      const now = await sample(proxy.pid, base, admin, tally.requests);
      const elapsed = now.at - started;
      if (elapsed < settings.warmupMs || elapsed >= settings.warmupMs + measuredMs) continue;
      warmupEnd ??= { requests: tally.requests, sample: now };
      const index = Math.floor((elapsed - settings.warmupMs) / settings.windowMs);
      (windows[index] ??= []).push(now);
      if (windows[index].length === 1)
        log(`${Math.round((elapsed - settings.warmupMs) / 1000)} s measured, ${tally.requests} requests, heap used ${fixed(now.heapUsedMb, 1)} MB, RSS ${fixed(now.rssMb, 1)} MB`);
    }
    const measuredSeconds = (performance.now() - started - settings.warmupMs) / 1000;
    const tokensIssued = issuer.tokensIssued - tokensBefore;
    stopping = true;
    clearInterval(reloads);
    await Promise.all(loops);
    await agent.close();
    log(`load stopped after ${tally.requests} requests; idle ${IDLE_AFTER_MS / 1000} s`);
    await sleep(IDLE_AFTER_MS);
    const idle = await sample(proxy.pid, base, admin, tally.requests);
    const seen = await request(`${upstream}/generation`);
    const lastGeneration = await seen.body.text();
    await group.stop(proxy);
    await group.stop(upstreamChild);
    return report({ tally, windows, warmupEnd: warmupEnd!, beforeLoad, idle, output, measuredSeconds, tokensIssued, lastGeneration, generation });
  } finally {
    await admin.close();
    await agent.destroy();
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  }
}

interface Run {
  tally: Tally;
  windows: Sample[][];
  warmupEnd: { requests: number; sample: Sample };
  beforeLoad: Sample;
  idle: Sample;
  output: ReturnType<typeof watchOutput>;
  measuredSeconds: number;
  tokensIssued: number;
  lastGeneration: string;
  generation: number;
}

function report(run: Run): string {
  const { tally, windows, warmupEnd, beforeLoad, idle, output } = run;
  const measuredRequests = tally.requests - warmupEnd.requests;
  const million = (requests: number) => (requests - warmupEnd.requests) / 1e6;
  const gcs = output.fullGcs.filter((gc) => gc.requests >= warmupEnd.requests);
  const windowRows = windows.map((window) => {
    const inWindow = gcs.filter((gc) => gc.requests >= window[0]!.requests && gc.requests <= window.at(-1)!.requests);
    const least = (values: Array<number | undefined>) => Math.min(...values.filter((value): value is number => value !== undefined));
    const most = (values: Array<number | undefined>) => Math.max(...values.filter((value): value is number => value !== undefined));
    return {
      requests: window.at(-1)!.requests,
      // The least per process (a primary and its workers each have a heap), the busiest first.
      liveAfterGc: [...new Set(inWindow.map((gc) => gc.pid))]
        .map((pid) => inWindow.filter((gc) => gc.pid === pid))
        .sort((a, b) => b.length - a.length)
        .map((own) => fixed(least(own.map((gc) => gc.afterMb)), 1))
        .join(' / '),
      heapLeast: least(window.map((s) => s.heapUsedMb)),
      rssMost: most(window.map((s) => s.rssMb)),
      fds: window.at(-1)!.fds,
      handles: window.at(-1)!.handles,
    };
  });
  const table = formatTable({
    title: `Soak: ${settings.minutes} min after a ${settings.warmupMs / 1000} s warm-up, ${settings.connections} connections${settings.workers > 1 ? `, ${settings.workers} workers` : ''} (windows of ${settings.windowMs / 1000} s)`,
    columns: ['window', 'requests so far', 'live heap after full GC MB', 'least heap used MB', 'peak RSS MB', 'open fds', settings.workers > 1 ? 'handles (the worker /metrics reached)' : 'handles'],
    rows: windowRows.map((row, index) => [String(index + 1), String(row.requests), row.liveAfterGc, fixed(row.heapLeast, 1), fixed(row.rssMost, 1), String(row.fds ?? ''), String(row.handles ?? '')]),
  });
  const kinds = formatTable({
    title: 'Requests by kind and outcome',
    columns: ['kind', 'expected', 'outcomes'],
    rows: KINDS.map((kind) => [
      kind.name,
      kind.expect.join(', '),
      [...(tally.byKind.get(kind.name) ?? new Map<string, number>())]
        .sort()
        .map(([outcome, count]) => `${outcome}×${count}`)
        .join(', '),
    ]),
  });
  // Over the second half only: the first still holds what a process keeps once and for all
  // (compiled code's feedback, caches filling up), which a longer run would not repeat.
  const half = warmupEnd.requests + measuredRequests / 2;
  const lateGcs = gcs.filter((gc) => gc.requests >= half);
  const lateWindows = windowRows.filter((row) => row.requests >= half);
  // Each process has its own heap (a primary and its workers): the steepest of them is the figure.
  const slopes = [...new Set(lateGcs.map((gc) => gc.pid))].map((pid) => {
    const own = lateGcs.filter((gc) => gc.pid === pid);
    return own.length >= 4 ? leastSquaresSlope(own.map((gc) => [million(gc.requests), gc.afterMb])) : undefined;
  });
  const measuredSlopes = slopes.filter((slope): slope is number => slope !== undefined);
  const gcSlope = measuredSlopes.length ? Math.max(...measuredSlopes) : undefined;
  const windowSlope = lateWindows.length >= 3 ? leastSquaresSlope(lateWindows.map((row) => [million(row.requests), row.heapLeast])) : undefined;
  const expectedTokens = run.measuredSeconds / (settings.ttl * 0.8);
  const verdicts: Verdict[] = [
    atMost('soak.1', 'live heap growth per million requests over the second half, heap after each full GC (least squares)', gcSlope, LEAK_MB_PER_MILLION, ' MB', 2),
    // The least heap in use still holds young garbage, whose amount depends on where each sample fell: shown, not judged.
    info('soak.1b', 'the same from the least heap in use per window', windowSlope === undefined ? 'not measured' : `${windowSlope.toFixed(2)} MB`),
    atMost('soak.2', `open fds ${IDLE_AFTER_MS / 1000} s after the load, over those before it (${beforeLoad.fds ?? '?'})`, (idle.fds ?? NaN) - (beforeLoad.fds ?? NaN), SETTLE_SLACK, '', 0),
    atMost('soak.3', `handles ${IDLE_AFTER_MS / 1000} s after the load, over those before it (${beforeLoad.handles ?? '?'})`, (idle.handles ?? NaN) - (beforeLoad.handles ?? NaN), SETTLE_SLACK, '', 0),
    atMost(
      'soak.4',
      'requests answered otherwise than their kind expects',
      [...tally.unexpected.values()].reduce((sum, count) => sum + count, 0),
      0,
      '',
      0,
    ),
    atMost('soak.5', 'answers that still named the upstream (a link not rewritten)', tally.upstreamLinks, 0, '', 0),
    atMost('soak.6', 'body bytes still held for a replay after the load', idle.replayBytes, 0, ' B', 0),
    atMost('soak.7', 'error-level log lines', output.errors.length, 0, '', 0),
    {
      id: 'soak.8',
      title: 'the last reload is in force (the generation header the upstream last saw)',
      pass: run.lastGeneration === String(run.generation),
      detail: `${run.lastGeneration} of ${run.generation}`,
    },
    info(
      'soak.9',
      'token fetches while measured',
      `${run.tokensIssued} in ${run.measuredSeconds.toFixed(0)} s (a lifetime of ${settings.ttl} s renewed at ~80 % asks ~${expectedTokens.toFixed(0)}; rejected tokens add some)`,
    ),
    info(
      'soak.10',
      'requests measured',
      `${measuredRequests} (${(measuredRequests / run.measuredSeconds).toFixed(0)}/s); full GCs seen ${gcs.length}; RSS ${fixed(warmupEnd.sample.rssMb, 1)} MB after the warm-up, ${fixed(idle.rssMb, 1)} MB idle after the load`,
    ),
  ];
  const unexpected = [...tally.unexpected].map(([what, count]) => `  ${what} ×${count}`);
  const warnings = [...output.warnings].map(([message, count]) => `  warn ×${count}: ${message}`);
  const errors = output.errors.slice(0, 10).map((message) => `  error: ${message}`);
  return [table, '', kinds, '', formatVerdicts(verdicts), ...unexpected, ...warnings, ...errors, '', `bearer-proxy ${sourceRevision()}, node ${process.version}, seed ${settings.seed}`].join('\n');
}

const group = new ProcessGroup();
stopChildrenOnExit(group);
try {
  process.stdout.write(`${await soak(group)}\n`);
} finally {
  await group.stopAll();
}
