/** What every scenario gets: the environment, the settings, where processes run, the systems and the load generator. */
import type { Environment } from './environment.ts';
import type { Generator, Saturation } from './generator.ts';
import type { Placement } from './pinning.ts';
import { cpuMeter, sampleRss } from './procfs.ts';
import type { Settings } from './settings.ts';
import type { BearerVariant, Lineup, System } from './systems.ts';

export interface Context {
  env: Environment;
  settings: Settings;
  placement: Placement;
  lineup: Lineup;
  generator: Generator;
  /** The build the targets are about, at --log-level info, access log to /dev/null. */
  info: BearerVariant;
  /** The same build at warn: no access line per request. */
  warn: BearerVariant;
  /** At warn on a route without link rewriting: with lean, what each of the two costs. */
  plain: BearerVariant;
  /** At warn on a route without link rewriting or forwarded headers: the proxy without the per-request work a config can turn off. */
  lean: BearerVariant;
  /** --proxy-dist builds at info. */
  others: BearerVariant[];
}

/** One measured phase of one system: the load's own numbers plus what the system's processes spent. */
export interface Phase {
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  mbPerSec: number;
  failures: number;
  /** Proxy CPU (user + system, all its processes) divided by answered requests; NaN for a direct connection. */
  cpuUsPerReq: number;
  cpuSeconds: number;
  /** Peak RSS during the phase and its rise over the phase's start; NaN for a direct connection. */
  peakMb: number;
  growthMb: number;
}

/** Runs `load` while reading the system's CPU time before and after and sampling its RSS. */
export async function measured(system: System, load: () => Promise<Omit<Saturation, 'reqPerSec'> & { reqPerSec?: number }>, rssIntervalMs = 100): Promise<Phase> {
  const pids = system.pids();
  const cpu = cpuMeter(pids);
  const rss = pids.length > 0 ? sampleRss(pids, rssIntervalMs) : undefined;
  const result = await load();
  const cpuSeconds = pids.length > 0 ? cpu.stop() : Number.NaN;
  const sample = rss?.stop();
  return {
    requests: result.requests,
    seconds: result.seconds,
    reqPerSec: result.reqPerSec ?? result.requests / result.seconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    mbPerSec: result.mbPerSec,
    failures: result.failures,
    cpuSeconds,
    cpuUsPerReq: (cpuSeconds * 1e6) / result.requests,
    peakMb: sample?.peakMb ?? Number.NaN,
    growthMb: sample ? sample.peakMb - sample.startMb : Number.NaN,
  };
}
