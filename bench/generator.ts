/**
 * Closed-loop load at full speed (N connections, each sending its next request as soon as
 * the previous answer arrived): wrk when installed, else autocannon in a child process.
 * Either runs where the runner runs (pinned: off the system-under-test's CPU).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { leanScript } from './lean.ts';
import { CLIENT_HEADERS } from './load.ts';
import { outputOf, type ProcessGroup } from './processes.ts';
import { REPO_ROOT } from './proxy.ts';

export interface SaturationOptions {
  url: string;
  connections: number;
  durationSec: number;
}

export interface Saturation {
  /** 2xx answers only. */
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  mbPerSec: number;
  /** Connection errors, timeouts and non-2xx answers: any of them invalidates the numbers. */
  failures: number;
  seconds: number;
}

export interface Generator {
  /** For the report, e.g. "wrk -t1 -c50". */
  describe(connections: number): string;
  run(options: SaturationOptions): Promise<Saturation>;
}

export type GeneratorKind = 'wrk' | 'autocannon';

export function wrkInstalled(): boolean {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

export function createGenerator(group: ProcessGroup, kind: GeneratorKind): Generator {
  return kind === 'wrk' ? wrk(group) : autocannonChild(group);
}

function resultLine(output: string, who: string): Record<string, number> {
  const line = output.split('\n').find((text) => text.startsWith('BENCH_RESULT '));
  if (!line) throw new Error(`${who} printed no BENCH_RESULT line:\n${output.slice(-2000)}`);
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as Record<string, number>;
}

function wrk(group: ProcessGroup): Generator {
  const script = join(REPO_ROOT, 'bench', 'wrk-report.lua');
  const headers = Object.entries(CLIENT_HEADERS).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  return {
    // One thread: one CPU's worth of load generator is several times what any proxy here answers.
    describe: (connections) => `wrk -t1 -c${connections}`,
    async run(options) {
      const args = ['-t1', `-c${options.connections}`, `-d${options.durationSec}s`, '--timeout', '10s', ...headers, '-s', script, options.url];
      const r = resultLine(await outputOf(group.spawn('wrk', 'wrk', { args, stdout: 'pipe' })), 'wrk');
      const seconds = r.durationUs! / 1e6;
      // wrk counts non-2xx/3xx answers in requests and in statusErrors.
      const requests = r.requests! - r.statusErrors!;
      return {
        requests,
        reqPerSec: requests / seconds,
        p50Ms: r.p50Us! / 1000,
        p99Ms: r.p99Us! / 1000,
        mbPerSec: r.bytes! / seconds / 1e6,
        failures: r.connectErrors! + r.readErrors! + r.writeErrors! + r.statusErrors! + r.timeouts!,
        seconds,
      };
    },
  };
}

function autocannonChild(group: ProcessGroup): Generator {
  const script = leanScript('autocannon-child');
  return {
    describe: (connections) => `autocannon -c${connections} (own process)`,
    async run(options) {
      const args = [script, JSON.stringify({ ...options, headers: CLIENT_HEADERS })];
      const r = resultLine(await outputOf(group.spawn('autocannon', process.execPath, { args, stdout: 'pipe' })), 'autocannon');
      return {
        requests: r.requests!,
        reqPerSec: r.requests! / r.seconds!,
        p50Ms: r.p50Ms!,
        p99Ms: r.p99Ms!,
        mbPerSec: r.bytes! / r.seconds! / 1e6,
        failures: r.failures!,
        seconds: r.seconds!,
      };
    },
  };
}
