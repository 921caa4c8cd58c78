/**
 * `npm run bench`: bearer-proxy against a direct connection, http-proxy 1.18 and (when
 * installed) nginx, all as separate processes, load from this process. Prints progress on
 * stderr, one table and PASS/FAIL lines on stdout. A failed target is a finding, not an
 * error: the exit code is non-zero only when the bench itself breaks.
 *
 *   npm run bench                          the whole suite (about 2 minutes)
 *   npm run bench -- --duration 8          seconds per load phase (default 6)
 *   npm run bench -- --log-level warn      the proxy without its access log
 *   npm run bench -- --profile [--scenario small|rewrite|stream]
 *
 * nginx joins the comparison when `nginx` is on PATH (no root or install needed: it runs
 * with a generated config in a temp dir).
 */
import { rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { HTTP_PROXY, nginxPath, startHttpProxy, startNginx, type Comparator } from './comparators.ts';
import { prepare, type Environment } from './environment.ts';
import { burst, download, mergeResults, runLoad, runPaced, type LoadResult } from './load.ts';
import { profile, type ProfileScenario } from './profile.ts';
import { log, median, ProcessGroup, rssMb, sampleRss, stopChildrenOnExit } from './processes.ts';
import { ROUTES, sourceRevision, startBearerProxy, type RunningProxy } from './proxy.ts';
import { atLeast, below, formatTable, formatVerdicts, type Row, type Verdict } from './report.ts';

interface Settings {
  durationSec: number;
  logLevel: string;
}

const GIB = 1024 ** 3;
const COLD_REQUESTS = 1000;
const STARTUP_RUNS = 5;
/** Well below what any of the proxies saturates at on two cores, so latency is not queueing. */
const MODERATE_RATE = 1000;

/** One way of reaching the upstream: directly, or through one of the proxies. */
interface Via {
  name: string;
  base: string;
  /** The path prefix that maps to the upstream's root (bearer-proxy routes by prefix). */
  apiPath: string;
  streamPath: string;
  pid?: number;
  /** A bearer-proxy variant that explains a gap (no rewriting, no access log); no target depends on it. */
  diagnostic?: boolean;
}

const NO_REWRITE = 'bearer-proxy rewriteUrls:false';
const NO_REWRITE_QUIET = 'bearer-proxy rewriteUrls:false, log warn';

async function measureStartup(env: Environment, settings: Settings): Promise<{ rows: Row[]; verdicts: Verdict[]; proxy: RunningProxy }> {
  const startups: number[] = [];
  const idle: number[] = [];
  let last: RunningProxy | undefined;
  for (let run = 0; run < STARTUP_RUNS; run++) {
    const proxy = await startBearerProxy(env.group, env.config, { logLevel: settings.logLevel });
    startups.push(proxy.startupMs);
    // Settle: lazy module loading and the first GC happen right after the listen.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    idle.push(rssMb(proxy.child.pid) ?? Number.NaN);
    if (run < STARTUP_RUNS - 1) await env.group.stop(proxy.child);
    last = proxy;
  }
  log(`startup ${startups.map((ms) => ms.toFixed(0)).join(', ')} ms; idle RSS ${idle.map((mb) => mb.toFixed(1)).join(', ')} MB`);

  // The last fresh process has never fetched a token: the cold burst goes to it.
  const proxy = last!;
  const before = env.issuer.tokenRequests;
  log(`cold start: ${COLD_REQUESTS} concurrent requests to a fresh proxy`);
  const cold = await burst(`${proxy.url}${ROUTES.api}/small`, COLD_REQUESTS);
  const tokenRequests = env.issuer.tokenRequests - before;
  const statuses = Object.entries(cold.statuses).map(([status, n]) => `${status}×${n}`).join(' ');

  const startupMs = median(startups);
  const idleMb = median(idle);
  return {
    proxy,
    rows: [
      { scenario: 'startup', via: 'bearer-proxy', note: `spawn→/healthz 200, median of ${STARTUP_RUNS}: ${startupMs.toFixed(0)} ms` },
      { scenario: 'idle', via: 'bearer-proxy', rss: { peakMb: idleMb }, note: `fresh process, 1 s after ready, median of ${STARTUP_RUNS}` },
      {
        scenario: `cold ${COLD_REQUESTS} concurrent`,
        via: 'bearer-proxy',
        note: `${tokenRequests} token request(s); ${statuses}; ${cold.seconds.toFixed(2)} s`,
      },
    ],
    verdicts: [
      {
        id: '5',
        title: `${COLD_REQUESTS} concurrent cold requests → 1 token request`,
        pass: tokenRequests === 1 && cold.failed === 0,
        detail: `${tokenRequests} token request(s) at the issuer, ${cold.ok}/${COLD_REQUESTS} answered 200`,
      },
      below('6a', 'idle RSS', idleMb, 80, ' MB'),
      below('6b', 'startup, spawn → /healthz 200 (median)', startupMs, 500, ' ms'),
    ],
  };
}

function loadRow(scenario: string, via: Via, result: LoadResult, rss?: { peakMb: number }): Row {
  return {
    scenario,
    via: via.name,
    reqPerSec: result.reqPerSec,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    mbPerSec: result.mbPerSec,
    ...(rss ? { rss } : {}),
    ...(result.failures > 0 ? { note: `${result.failures} failed requests` } : {}),
  };
}

function addNote(row: Row, note: string): void {
  row.note = row.note ? `${row.note}; ${note}` : note;
}

async function measureSmallJson(vias: readonly Via[], settings: Settings): Promise<{ rows: Row[]; saturated: Map<string, LoadResult>; moderate: Map<string, LoadResult> }> {
  const rows: Row[] = [];
  const saturated = new Map<string, LoadResult>();
  const saturatedRows: Row[] = [];
  for (const via of vias) {
    const url = `${via.base}${via.apiPath}/small`;
    log(`small JSON, 50 connections, ${settings.durationSec} s: ${via.name}`);
    await runLoad({ url, connections: 50, durationSec: 1 }); // warm-up: JIT and keep-alive pools
    const rss = via.pid === undefined ? undefined : sampleRss(via.pid, 100);
    const result = await runLoad({ url, connections: 50, durationSec: settings.durationSec });
    saturated.set(via.name, result);
    saturatedRows.push(loadRow('small JSON c=50', via, result, rss?.stop()));
  }
  const direct = saturated.get('direct')!;
  const httpProxy = saturated.get(HTTP_PROXY);
  for (const row of saturatedRows) {
    row.ratio = row.reqPerSec! / direct.reqPerSec;
    if (row.via.startsWith('bearer-proxy') && httpProxy) addNote(row, `${(row.reqPerSec! / httpProxy.reqPerSec).toFixed(2)}× http-proxy`);
  }
  rows.push(...saturatedRows);

  // Rounds with the cases interleaved: a sub-millisecond difference drowns in drift otherwise.
  const rounds = 3;
  const roundSec = Math.max(2, settings.durationSec / rounds);
  log(`small JSON, ${MODERATE_RATE} req/s evenly paced over 10 connections, ${rounds} rounds of ${roundSec} s per case`);
  const perVia = new Map<string, LoadResult[]>(vias.map((via) => [via.name, []]));
  const samplers = new Map(vias.filter((via) => via.pid !== undefined).map((via) => [via.name, sampleRss(via.pid!, 100)]));
  for (let round = 0; round < rounds; round++) {
    for (const via of vias) {
      perVia.get(via.name)!.push(await runPaced({ url: `${via.base}${via.apiPath}/small`, connections: 10, durationSec: roundSec, rate: MODERATE_RATE }));
    }
  }
  const moderate = new Map<string, LoadResult>();
  for (const via of vias) {
    const result = mergeResults(perVia.get(via.name)!);
    moderate.set(via.name, result);
    const row = loadRow(`small JSON c=10 @${MODERATE_RATE}/s`, via, result, samplers.get(via.name)?.stop());
    const base = moderate.get('direct');
    if (base && via.name !== 'direct') addNote(row, `+${(result.p50Ms - base.p50Ms).toFixed(3)} ms p50`);
    rows.push(row);
  }
  return { rows, saturated, moderate };
}

interface Transfer {
  runs: number;
  bytes: number;
  seconds: number;
  bestMbPerSec: number;
  /** Largest RSS rise over the start of any one transfer, and the highest RSS seen. */
  growthMb?: number;
  peakMb?: number;
  matches: number;
  statuses: Set<number>;
}

/**
 * One GET per case and round, the cases interleaved, so drift on a shared machine (other
 * load, thermal, page cache) hits every case alike instead of whichever ran last.
 */
async function interleaved(
  cases: ReadonlyArray<{ name: string; url: string; pid?: number; needle?: string }>,
  rounds: { min: number; seconds: number },
): Promise<Map<string, Transfer>> {
  const totals = new Map(cases.map((c) => [c.name, { runs: 0, bytes: 0, seconds: 0, bestMbPerSec: 0, matches: 0, statuses: new Set<number>() } as Transfer]));
  const deadline = performance.now() + rounds.seconds * 1000;
  for (let round = 0; round < rounds.min || performance.now() < deadline; round++) {
    for (const item of cases) {
      const rss = item.pid === undefined ? undefined : sampleRss(item.pid, 10);
      const one = await download(item.url, item.needle);
      const sample = rss?.stop();
      const total = totals.get(item.name)!;
      total.runs++;
      total.bytes += one.bytes;
      total.seconds += one.seconds;
      total.bestMbPerSec = Math.max(total.bestMbPerSec, one.bytes / one.seconds / 1e6);
      total.matches = one.matches;
      total.statuses.add(one.status);
      if (sample) {
        total.growthMb = Math.max(total.growthMb ?? 0, sample.peakMb - sample.startMb);
        total.peakMb = Math.max(total.peakMb ?? 0, sample.peakMb);
      }
    }
  }
  return totals;
}

function rssOf(transfer: Transfer): { rss: { peakMb: number; growthMb: number } } | Record<string, never> {
  return transfer.peakMb === undefined ? {} : { rss: { peakMb: transfer.peakMb, growthMb: transfer.growthMb ?? 0 } };
}

async function measureStream(vias: readonly Via[]): Promise<{ rows: Row[]; results: Map<string, Transfer> }> {
  const measured = vias.filter((v) => !v.diagnostic);
  log(`1 GiB stream, 2 rounds: ${measured.map((v) => v.name).join(', ')}`);
  const results = await interleaved(
    measured.map((via) => ({ name: via.name, url: `${via.base}${via.streamPath}/stream?bytes=${GIB}`, ...(via.pid === undefined ? {} : { pid: via.pid }) })),
    { min: 2, seconds: 0 },
  );
  const direct = results.get('direct')!;
  const rows = measured.map((via): Row => {
    const result = results.get(via.name)!;
    if (result.bytes !== result.runs * GIB || [...result.statuses].some((status) => status !== 200)) {
      throw new Error(`1 GiB via ${via.name}: statuses ${[...result.statuses].join(', ')}, ${result.bytes} bytes in ${result.runs} runs`);
    }
    return {
      scenario: '1 GiB stream',
      via: via.name,
      mbPerSec: result.bestMbPerSec,
      ...rssOf(result),
      ratio: result.bestMbPerSec / direct.bestMbPerSec,
      note: `best of ${result.runs}`,
    };
  });
  return { rows, results };
}

async function measureRewrite(env: Environment, proxy: RunningProxy, settings: Settings): Promise<{ rows: Row[]; verdict: Verdict }> {
  const upstreamBase = `http://127.0.0.1:${env.upstream.port}/odata`;
  const proxyBase = `${proxy.url}${ROUTES.rewriteOn}`;
  const cases = [
    { name: 'direct', url: `${upstreamBase}/Big`, needle: upstreamBase },
    { name: 'bearer-proxy rewriteUrls:false', url: `${proxy.url}${ROUTES.rewriteOff}/Big`, needle: upstreamBase, pid: proxy.child.pid },
    { name: 'bearer-proxy rewriteUrls:true', url: `${proxyBase}/Big`, needle: proxyBase, pid: proxy.child.pid },
  ];
  const seconds = Math.max(6, settings.durationSec * 2);
  log(`big OData page, interleaved for ${seconds} s: ${cases.map((c) => c.name).join(', ')}`);
  const results = await interleaved(cases, { min: 3, seconds });
  const rate = (name: string): number => {
    const result = results.get(name)!;
    return result.bytes / result.seconds / 1e6;
  };
  const off = rate(cases[1]!.name);
  const rows = cases.map((item): Row => {
    const result = results.get(item.name)!;
    if ([...result.statuses].some((status) => status !== 200)) throw new Error(`big page via ${item.name}: statuses ${[...result.statuses].join(', ')}`);
    const expected = result.matches === env.upstream.bigPageUrls;
    return {
      scenario: `OData page ${(env.upstream.bigPageBytes / 1e6).toFixed(0)} MB`,
      via: item.name,
      reqPerSec: result.runs / result.seconds,
      mbPerSec: rate(item.name),
      ...rssOf(result),
      ...(item.name === 'direct' ? {} : { ratio: rate(item.name) / off }),
      note: `${result.runs} runs; ${result.matches}/${env.upstream.bigPageUrls} ${item.needle === proxyBase ? 'proxy' : 'upstream'} URLs in body${expected ? '' : ' (MISMATCH)'}`,
    };
  });
  const rewritten = results.get(cases[2]!.name)!.matches;
  const verdict = atLeast('4', 'OData page throughput, rewriteUrls true vs false', rate(cases[2]!.name) / off, 0.8);
  if (rewritten !== env.upstream.bigPageUrls) {
    verdict.pass = false;
    verdict.detail += `; only ${rewritten} of ${env.upstream.bigPageUrls} upstream URLs were rewritten`;
  } else {
    verdict.detail += `; all ${rewritten} URLs rewritten`;
  }
  return { rows, verdict };
}

async function benchmark(group: ProcessGroup, settings: Settings): Promise<string> {
  const started = performance.now();
  const env = await prepare(group);
  try {
    const startup = await measureStartup(env, settings);
    const proxy = startup.proxy;
    const comparators: Comparator[] = [await startHttpProxy(group, env.upstream.port)];
    const nginx = nginxPath();
    if (nginx) comparators.push(await startNginx(group, nginx, env.upstream.port, env.config.dir));
    else log('nginx is not on PATH: skipping it');

    // A second proxy without the access log, to show what logging costs per request.
    const quiet = await startBearerProxy(group, env.config, { logLevel: 'warn' });

    const vias: Via[] = [
      { name: 'direct', base: `http://127.0.0.1:${env.upstream.port}`, apiPath: '/api', streamPath: '' },
      { name: 'bearer-proxy', base: proxy.url, apiPath: ROUTES.api, streamPath: ROUTES.stream, pid: proxy.child.pid },
      { name: NO_REWRITE, base: proxy.url, apiPath: ROUTES.plain, streamPath: ROUTES.stream, pid: proxy.child.pid, diagnostic: true },
      { name: NO_REWRITE_QUIET, base: quiet.url, apiPath: ROUTES.plain, streamPath: ROUTES.stream, pid: quiet.child.pid, diagnostic: true },
      ...comparators.map((c) => ({ name: c.name, base: c.url, apiPath: '/api', streamPath: '', pid: c.child.pid })),
    ];

    const small = await measureSmallJson(vias, settings);
    await group.stop(quiet.child);
    const stream = await measureStream(vias);
    const rewrite = await measureRewrite(env, proxy, settings);

    const direct = small.saturated.get('direct')!;
    const ours = small.saturated.get('bearer-proxy')!;
    const httpProxy = small.saturated.get(HTTP_PROXY)!;
    const addedP50 = small.moderate.get('bearer-proxy')!.p50Ms - small.moderate.get('direct')!.p50Ms;
    const streamOurs = stream.results.get('bearer-proxy')!;
    const streamDirect = stream.results.get('direct')!;
    const failures = [...small.saturated.values(), ...small.moderate.values()].reduce((sum, r) => sum + r.failures, 0);

    const verdicts: Verdict[] = [
      atLeast('1a', 'small JSON c=50, bearer-proxy vs direct req/s', ours.reqPerSec / direct.reqPerSec, 0.5),
      atLeast('1b', 'small JSON c=50, bearer-proxy vs http-proxy req/s', ours.reqPerSec / httpProxy.reqPerSec, 1.8),
      below('2', `added p50 latency at ${MODERATE_RATE} req/s, 10 connections`, addedP50, 1, ' ms', 3),
      below('3a', '1 GiB stream, proxy RSS growth', streamOurs.growthMb, 50, ' MB'),
      atLeast('3b', '1 GiB stream, bearer-proxy vs direct throughput (best of 2)', streamOurs.bestMbPerSec / streamDirect.bestMbPerSec, 0.7),
      rewrite.verdict,
      ...startup.verdicts,
    ];
    const rows = [...startup.rows, ...small.rows, ...stream.rows, ...rewrite.rows];
    const notes = [
      `bearer-proxy ${sourceRevision()}: node dist/cli.js serve --log-level ${settings.logLevel}, stdout to /dev/null; load phases ${settings.durationSec} s; ` +
        `Node ${process.version}; ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), shared by the load generator, the upstream and the proxy.`,
      ...(nginx ? [] : ['nginx: not on PATH, skipped.']),
      ...(failures > 0 ? [`WARNING: ${failures} requests failed during the load phases; see the notes column.`] : []),
      `total bench time ${((performance.now() - started) / 1000).toFixed(0)} s`,
    ];
    return `${formatTable(rows)}\n\n${formatVerdicts(verdicts)}\n\n${notes.join('\n')}\n`;
  } finally {
    await group.stopAll();
    await env.issuer.close();
    await rm(env.config.dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      profile: { type: 'boolean' },
      scenario: { type: 'string' },
      duration: { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const settings: Settings = { durationSec: Number(values.duration ?? 6), logLevel: values['log-level'] ?? 'info' };
  if (!(settings.durationSec >= 1)) throw new Error('--duration must be a number of seconds ≥ 1');

  const group = new ProcessGroup();
  stopChildrenOnExit(group);
  if (values.profile) {
    const scenario = (values.scenario ?? 'small') as ProfileScenario;
    if (!['small', 'rewrite', 'stream'].includes(scenario)) throw new Error(`--scenario must be small, rewrite or stream, not "${scenario}"`);
    await profile(group, { scenario, durationSec: Math.max(settings.durationSec, 8), logLevel: settings.logLevel });
    return 0;
  }
  process.stdout.write(await benchmark(group, settings));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
