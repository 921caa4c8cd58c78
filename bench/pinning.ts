/**
 * Where each process runs. Pinned: the system under test alone on the first CPU the bench
 * may use, everything else (this runner, the load generator, the upstreams) on the rest,
 * so the proxy's numbers are not decided by how the scheduler shares cores with the load
 * generator. Unpinned: wherever the scheduler puts them, as before.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Placement {
  pinned: boolean;
  /** taskset CPU list for systems under test; undefined when unpinned. */
  sut: string | undefined;
  /** Every CPU the bench may use, for a system that should spread over all of them (workers). */
  all: string;
  /** For the report: where what ran. */
  describe: string;
}

export type PinMode = 'auto' | 'pinned' | 'unpinned';

/** The CPUs this process may run on (its affinity, which a container or an outer taskset narrows). */
function allowedCpus(): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return list.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    return Array.from({ length: to! - from! + 1 }, (_, index) => from! + index);
  });
}

function hasTaskset(): boolean {
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/**
 * Decides the placement and moves this runner (all its threads) onto the non-SUT CPUs;
 * children inherit that, so only the systems under test need an explicit taskset.
 */
export function place(mode: PinMode): Placement {
  const cpus = allowedCpus();
  const all = cpuList(cpus);
  const possible = cpus.length >= 2 && hasTaskset();
  if (mode === 'pinned' && !possible) throw new Error(`--pinned needs taskset on PATH and at least 2 CPUs; this machine has ${cpus.length} usable CPU(s)${hasTaskset() ? '' : ' and no taskset'}`);
  if (mode === 'unpinned' || !possible) {
    return { pinned: false, sut: undefined, all, describe: `unpinned: systems under test, load generator and upstreams share CPUs ${all}${possible ? '' : ' (taskset or a 2nd CPU missing)'}` };
  }
  const sut = String(cpus[0]);
  const rest = cpuList(cpus.slice(1));
  repin(process.pid, rest);
  return { pinned: true, sut, all, describe: `pinned: each system under test alone on CPU ${sut} (taskset -c ${sut}); load generator, upstreams and this runner on CPU ${rest}` };
}

/** Moves a running process, all its threads, onto `cpus`. */
function repin(pid: number, cpus: string): void {
  const moved = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
  if (moved.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid} failed: ${moved.stderr.trim()}`);
}

/** [0,1,2,5] → "0-2,5". */
function cpuList(cpus: readonly number[]): string {
  const parts: string[] = [];
  for (let index = 0; index < cpus.length; index++) {
    const from = cpus[index]!;
    while (index + 1 < cpus.length && cpus[index + 1] === cpus[index]! + 1) index++;
    parts.push(from === cpus[index] ? String(from) : `${from}-${cpus[index]}`);
  }
  return parts.join(',');
}
