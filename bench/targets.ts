/** Issue 19's targets (and the older start-up and latency ones) as PASS/FAIL lines from one run's medians. */
import { MODERATE_RATE } from './scenario-latency.ts';
import type { SmallResult, Summary } from './scenario-small.ts';
import { SETTLED_AFTER_MS } from './scenario-startup.ts';
import type { TransferSummary } from './scenario-transfer.ts';
import type { System } from './systems.ts';
import { atLeast, atMost, below, info, skipped, type Verdict } from './report.ts';

export interface Measured {
  small?: SmallResult;
  latency?: Map<string, Summary>;
  stream?: Map<string, TransferSummary>;
  rewrite?: Map<string, TransferSummary>;
  gzip?: { summaries: Map<string, TransferSummary>; skipped?: string };
  idleMb?: number;
}

function appended(verdict: Verdict, text: string): Verdict {
  return { ...verdict, detail: `${verdict.detail}; ${text}` };
}

/** Pinned, each proxy saturates its CPU, so the req/s ratio should be close to the inverse CPU-per-request ratio: a check on the numbers. */
function withCpu(verdict: Verdict, ours: Summary, other: Summary): Verdict {
  return appended(verdict, `CPU ${ours.cpuUsPerReq.toFixed(0)} vs ${other.cpuUsPerReq.toFixed(0)} µs/req, requests per CPU-second ${(other.cpuUsPerReq / ours.cpuUsPerReq).toFixed(2)}×`);
}

/**
 * A memory target fails or passes for the bare comparators too: their figure in the same
 * rounds tells a cost of ours from one of Node and undici themselves.
 */
function comparedMemory<S extends { system: System }>(verdict: Verdict, systems: Map<string, S>, megabytes: (summary: S) => number): Verdict {
  const others: string[] = [];
  for (const key of ['undici', 'http-proxy']) {
    const summary = systems.get(key);
    if (summary !== undefined && Number.isFinite(megabytes(summary))) others.push(`${summary.system.name}: ${megabytes(summary).toFixed(1)} MB`);
  }
  return others.length > 0 ? appended(verdict, `same rounds: ${others.join(', ')}`) : verdict;
}

export function targets(m: Measured): Verdict[] {
  const verdicts: Verdict[] = [];
  const small = m.small?.summaries;
  if (small) {
    const ours = small.get('info')!;
    const undici = small.get('undici');
    const httpProxy = small.get('http-proxy');
    verdicts.push(
      undici
        ? withCpu(atLeast('19.1', 'small JSON req/s, bearer-proxy info ÷ undici forwarder', ours.reqPerSec / undici.reqPerSec, 0.9), ours, undici)
        : skipped('19.1', 'req/s vs undici forwarder', 'undici forwarder not in --systems'),
      httpProxy
        ? withCpu(atLeast('19.2', 'small JSON req/s, bearer-proxy info ÷ http-proxy', ours.reqPerSec / httpProxy.reqPerSec, 1.6), ours, httpProxy)
        : skipped('19.2', 'req/s vs http-proxy', 'http-proxy not in --systems'),
      undici
        ? atMost('19.3', `small JSON p99, bearer-proxy info vs undici forwarder (${undici.p99Ms.toFixed(2)} ms)`, ours.p99Ms, Number(undici.p99Ms.toFixed(2)), ' ms', 2)
        : skipped('19.3', 'p99 vs undici forwarder', 'undici forwarder not in --systems'),
      comparedMemory(atMost('19.4', 'RSS under load (peak over the small-JSON rounds)', ours.peakMb, 100, ' MB'), small, (s) => s.peakMb),
    );
    const one = small.get('workers-1');
    const two = small.get('workers-2');
    verdicts.push(
      one && two
        ? info(
            '19.w',
            '--workers 2 vs 1 process, small JSON req/s, both on all CPUs',
            `${(two.reqPerSec / one.reqPerSec).toFixed(2)}× (${two.reqPerSec.toFixed(0)} vs ${one.reqPerSec.toFixed(0)} req/s; CPU ${two.cpuUsPerReq.toFixed(0)} vs ${one.cpuUsPerReq.toFixed(0)} µs/req)`,
          )
        : skipped('19.w', '--workers 2 vs 1 process', m.small?.workersSkipped ?? 'workers not in --systems'),
    );
  }
  // The startup scenario's figure is the settled one (see SETTLED_AFTER_MS); the small scenario's is read 1 s after the first answer.
  const idle = m.idleMb ?? small?.get('info')?.system.idleMb;
  const idleTitle =
    m.idleMb !== undefined ? `idle RSS, settled (${SETTLED_AFTER_MS / 1000} s idle, median of 5 processes)` : 'idle RSS 1 s after the first answer (the startup scenario reads the settled figure)';
  if (idle !== undefined) verdicts.push(atMost('19.5', idleTitle, idle, 70, ' MB'));
  if (m.stream) {
    const ours = m.stream.get('info')!;
    const undici = m.stream.get('undici');
    verdicts.push(
      undici
        ? appended(
            atLeast('19.6', '1 GiB stream MB/s, bearer-proxy ÷ undici forwarder', ours.mbPerSec / undici.mbPerSec, 1),
            `CPU ${ours.cpuSecondsPerBody.toFixed(2)} vs ${undici.cpuSecondsPerBody.toFixed(2)} s/GiB` +
              (Math.max(ours.busyPct, undici.busyPct) < 90 ? ` (neither proxy saturated its CPU: the upstream and client side limit MB/s here, compare CPU s/GiB)` : ''),
          )
        : skipped('19.6', '1 GiB stream vs undici forwarder', 'undici forwarder not in --systems'),
      comparedMemory(below('19.7', '1 GiB stream, RSS growth (largest over the rounds)', ours.growthMb, 20, ' MB'), m.stream, (s) => s.growthMb),
    );
  }
  if (m.rewrite) {
    const on = m.rewrite.get('info on')!;
    const off = m.rewrite.get('info off')!;
    const verdict = atLeast('19.8', 'OData page MB/s, rewriteUrls on ÷ off', on.mbPerSec / off.mbPerSec, 0.85);
    if (on.problems.length > 0) {
      verdict.pass = false;
      verdict.detail += `; wrong answers: ${on.problems[0]}`;
    }
    verdicts.push(verdict);
  }
  if (m.gzip?.skipped) verdicts.push(skipped('19.9', 'gzip re-encoding for a non-loopback caller', m.gzip.skipped));
  else if (m.gzip) {
    const remote = m.gzip.summaries.get('remote')!;
    const loopback = m.gzip.summaries.get('loopback')!;
    const detail = `${remote.mbPerSec.toFixed(0)} MB/s decoded (${remote.wireMbPerSec.toFixed(1)} MB/s on the wire), ${(remote.mbPerSec / loopback.mbPerSec).toFixed(2)}× the loopback path, RSS growth +${remote.growthMb.toFixed(1)} MB`;
    verdicts.push(
      remote.problems.length > 0
        ? { id: '19.9', title: 'gzip re-encoding for a non-loopback caller', pass: false, detail: `${detail}; wrong answers: ${remote.problems[0]}` }
        : info('19.9', 'gzip re-encoding for a non-loopback caller', detail),
    );
  }
  if (m.latency) {
    const added = m.latency.get('info')!.p50Ms - m.latency.get('direct')!.p50Ms;
    verdicts.push(below('latency', `added p50 latency at ${MODERATE_RATE} req/s, 10 connections`, added, 1, ' ms', 3));
  }
  return verdicts;
}
