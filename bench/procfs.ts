/**
 * What the kernel says a process costs: CPU time and resident memory from /proc (Linux
 * only). A system under test may be several processes (a primary and its workers), so
 * every reading is over a process and its descendants.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for utime/stime; 100 on every Linux build that matters, asked once. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** The fields of /proc/<pid>/stat after the command name, which may itself contain spaces and parentheses. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process and all its descendants, found by parent id (works without CONFIG_PROC_CHILDREN). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // Field 4 of stat is the parent pid; index 1 once the pid and name are cut off.
    const parent = Number(statFields(Number(entry))?.[1]);
    if (Number.isInteger(parent)) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  for (const queue = [root]; queue.length > 0;) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** User plus system CPU seconds the processes have used so far; exited ones count as 0. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    // utime and stime are fields 14 and 15 of stat: indices 11 and 12 here.
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

/** Resident set size in MB, or undefined when the process is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** RSS summed over processes (shared pages of forked workers count once per process, as `ps` would). */
export function totalRssMb(pids: readonly number[]): number | undefined {
  const each = pids.map(rssMb).filter((mb): mb is number => mb !== undefined);
  return each.length === 0 ? undefined : each.reduce((sum, mb) => sum + mb, 0);
}

export interface RssSample {
  startMb: number;
  peakMb: number;
  endMb: number;
}

/**
 * Samples RSS on a timer while a phase runs. A timer in the runner can lag under load, so
 * the interval is short enough that a transient peak of a large transfer is still seen.
 */
export function sampleRss(pids: number | readonly number[], intervalMs = 20): { stop(): RssSample } {
  const list = typeof pids === 'number' ? [pids] : pids;
  const startMb = totalRssMb(list) ?? 0;
  let peakMb = startMb;
  const timer = setInterval(() => {
    const now = totalRssMb(list);
    if (now !== undefined && now > peakMb) peakMb = now;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const endMb = totalRssMb(list) ?? peakMb;
      return { startMb, peakMb: Math.max(peakMb, endMb), endMb };
    },
  };
}

/** CPU used by a set of processes between start() and stop(), for "CPU per request" figures. */
export function cpuMeter(pids: readonly number[]): { stop(): number } {
  const before = cpuSeconds(pids);
  return { stop: () => cpuSeconds(pids) - before };
}
