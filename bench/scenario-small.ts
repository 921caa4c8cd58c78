/**
 * Small JSON at full speed: every system in interleaved rounds under the same closed-loop
 * load, the medians compared with the undici forwarder and http-proxy of the same run. The
 * --workers slot runs bearer-proxy with 1 process and with 2 workers on all CPUs (sharing
 * them with the load generator), since that is the only fair way to give it a second core.
 */
import { measured, type Context, type Phase } from './context.ts';
import { log } from './processes.ts';
import { supportsWorkers, CLI } from './proxy.ts';
import { fixed, times, type Table } from './report.ts';
import { interleave, median, spread } from './rounds.ts';
import type { BearerVariant, System } from './systems.ts';

export interface Summary {
  system: System;
  phases: Phase[];
  reqPerSec: number;
  cpuUsPerReq: number;
  p50Ms: number;
  p99Ms: number;
  /** Highest RSS seen in any round. */
  peakMb: number;
  spreadPct: number;
  cpuSpreadPct: number;
  /** Share of one CPU the system's processes were busy: near 100% pinned means the system, not the load side, was the limit. */
  busyPct: number;
  failures: number;
}

export interface SmallResult {
  table: Table;
  summaries: Map<string, Summary>;
  /** Set when the --workers slot could not run, with the reason. */
  workersSkipped?: string;
}

export function summarize(system: System, phases: Phase[]): Summary {
  return {
    system,
    phases,
    reqPerSec: median(phases.map((p) => p.reqPerSec)),
    cpuUsPerReq: median(phases.map((p) => p.cpuUsPerReq)),
    p50Ms: median(phases.map((p) => p.p50Ms)),
    p99Ms: median(phases.map((p) => p.p99Ms)),
    peakMb: Math.max(...phases.map((p) => p.peakMb)),
    spreadPct: spread(phases.map((p) => p.reqPerSec)),
    cpuSpreadPct: spread(phases.map((p) => p.cpuUsPerReq)),
    busyPct: median(phases.map((p) => (p.cpuSeconds / p.seconds) * 100)),
    failures: phases.reduce((sum, p) => sum + p.failures, 0),
  };
}

/** Starts the workers pair, or says why not; a build without the flag is a finding to print, not an error. */
async function workerSystems(ctx: Context): Promise<{ systems: System[]; skipped?: string }> {
  const cli = ctx.info.cli ?? CLI;
  if (!supportsWorkers(cli)) return { systems: [], skipped: '--workers not supported by this build' };
  const all = ctx.placement.all;
  // Unpinned, nothing is pinned and taskset may be missing: the runner's affinity is already all CPUs.
  const cpus = ctx.placement.pinned ? { cpus: all } : {};
  const one: BearerVariant = { ...ctx.info, key: 'workers-1', name: `bearer-proxy info, 1 process, CPUs ${all}`, ...cpus };
  const two: BearerVariant = { ...ctx.info, key: 'workers-2', name: `bearer-proxy info, --workers 2, CPUs ${all}`, ...cpus, workers: 2 };
  try {
    return { systems: [await ctx.lineup.bearer(one), await ctx.lineup.bearer(two)] };
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n').slice(0, 3).join(' ');
    return { systems: [], skipped: `--workers 2 did not start (${first})` };
  }
}

export async function smallJson(ctx: Context): Promise<SmallResult> {
  const { lineup, settings, env } = ctx;
  const target = env.smallUpstreamUrl;
  const want = settings.systems;
  const systems: System[] = [];
  if (want.has('direct')) systems.push(lineup.direct(target));
  for (const kind of ['undici', 'http-proxy', 'nginx'] as const) {
    if (!want.has(kind)) continue;
    const system = await lineup.comparator(kind, target);
    if (system) systems.push(system);
    else log(`${kind}: not installed, skipped`);
  }
  systems.push(await lineup.bearer(ctx.info));
  if (want.has('warn')) systems.push(await lineup.bearer(ctx.warn));
  if (want.has('plain')) systems.push(await lineup.bearer(ctx.plain));
  if (want.has('lean')) systems.push(await lineup.bearer(ctx.lean));
  for (const other of ctx.others) systems.push(await lineup.bearer(other));
  const workers = want.has('workers') ? await workerSystems(ctx) : { systems: [] };
  if (workers.skipped) log(`skipped: ${workers.skipped}`);
  systems.push(...workers.systems);
  await lineup.measureIdle(systems);

  const load = (system: System, durationSec: number) => () => ctx.generator.run({ url: `${system.url}${system.smallPath}`, connections: settings.connections, durationSec });
  log(`small JSON, ${ctx.generator.describe(settings.connections)}, ${settings.rounds} rounds × ${settings.durationSec} s: ${systems.map((s) => s.name).join(' | ')}`);
  const phases = await interleave(systems, settings.rounds, async (system, round) => {
    if (round === 0) await load(system, settings.warmupSec)(); // JIT, keep-alive pools, first token
    const phase = await measured(system, load(system, settings.durationSec));
    log(`  round ${round + 1} ${system.name}: ${phase.reqPerSec.toFixed(0)} req/s, ${fixed(phase.cpuUsPerReq, 0)} µs CPU/req, p99 ${phase.p99Ms.toFixed(1)} ms`);
    return phase;
  });
  const summaries = new Map(systems.map((system) => [system.key, summarize(system, phases.get(system.key)!)]));
  return { table: smallTable(summaries, settings.rounds), summaries, ...(workers.skipped ? { workersSkipped: workers.skipped } : {}) };
}

function smallTable(summaries: Map<string, Summary>, rounds: number): Table {
  const undici = summaries.get('undici');
  const httpProxy = summaries.get('http-proxy');
  const rows = [...summaries.values()].map((s) => [
    s.system.name,
    fixed(s.reqPerSec, 0),
    Number.isNaN(s.spreadPct) ? '' : `${s.spreadPct.toFixed(1)}%`,
    fixed(s.cpuUsPerReq, 0),
    Number.isNaN(s.cpuSpreadPct) ? '' : `${s.cpuSpreadPct.toFixed(1)}%`,
    Number.isNaN(s.busyPct) ? '' : `${s.busyPct.toFixed(0)}%`,
    fixed(s.p50Ms, 2),
    fixed(s.p99Ms, 2),
    fixed(s.system.idleMb, 1),
    Number.isFinite(s.peakMb) ? s.peakMb.toFixed(1) : '',
    undici ? times(s.reqPerSec / undici.reqPerSec) : '',
    httpProxy ? times(s.reqPerSec / httpProxy.reqPerSec) : '',
    s.phases.map((p) => p.reqPerSec.toFixed(0)).join(' ') + (s.failures > 0 ? ` (${s.failures} failed)` : ''),
  ]);
  return {
    title: `Small JSON (${rounds} interleaved rounds, medians)`,
    columns: ['system', 'req/s', 'range', 'CPU µs/req', 'range', 'CPU busy', 'p50 ms', 'p99 ms', 'idle RSS MB', 'load RSS MB', '× undici', '× http-proxy', 'req/s per round'],
    rows,
  };
}
