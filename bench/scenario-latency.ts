/**
 * Latency at moderate load: 1000 req/s evenly paced over 10 connections, well below what any
 * system saturates at, so latency is each request's cost and not queueing. The client runs
 * in the runner (pinned: off the system-under-test's CPU).
 */
import { measured, type Context } from './context.ts';
import { runPaced } from './load.ts';
import { log } from './processes.ts';
import { fixed, type Table } from './report.ts';
import { interleave } from './rounds.ts';
import { summarize, type Summary } from './scenario-small.ts';
import type { System } from './systems.ts';

export const MODERATE_RATE = 1000;
const ROUND_SEC = 2;

export async function moderateLatency(ctx: Context): Promise<{ table: Table; summaries: Map<string, Summary> }> {
  const { lineup, settings, env } = ctx;
  const systems: System[] = [lineup.direct(env.smallUpstreamUrl)];
  for (const kind of ['undici', 'http-proxy'] as const) {
    const system = settings.systems.has(kind) ? await lineup.comparator(kind, env.smallUpstreamUrl) : undefined;
    if (system) systems.push(system);
  }
  systems.push(await lineup.bearer(ctx.info));
  for (const other of ctx.others) systems.push(await lineup.bearer(other));
  log(`small JSON at ${MODERATE_RATE} req/s over 10 connections, ${settings.rounds} rounds × ${ROUND_SEC} s`);
  const phases = await interleave(systems, settings.rounds, (system) =>
    measured(system, () => runPaced({ url: `${system.url}${system.smallPath}`, connections: 10, durationSec: ROUND_SEC, rate: MODERATE_RATE })),
  );
  const summaries = new Map(systems.map((system) => [system.key, summarize(system, phases.get(system.key)!)]));
  const direct = summaries.get('direct')!;
  const rows = [...summaries.values()].map((s) => [
    s.system.name,
    fixed(s.reqPerSec, 0),
    fixed(s.p50Ms, 3),
    fixed(s.p99Ms, 3),
    s === direct ? '' : `+${(s.p50Ms - direct.p50Ms).toFixed(3)}`,
    fixed(s.cpuUsPerReq, 0),
    s.failures > 0 ? `${s.failures} failed` : '',
  ]);
  return {
    summaries,
    table: {
      title: `Latency at ${MODERATE_RATE} req/s, 10 connections (${settings.rounds} interleaved rounds, medians)`,
      columns: ['system', 'req/s', 'p50 ms', 'p99 ms', 'added p50 ms', 'CPU µs/req', 'note'],
      rows,
    },
  };
}
