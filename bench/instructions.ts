/**
 * Instructions per request, counted by valgrind (callgrind), for when the machine is too
 * noisy for CPU time: on a VM whose host steals 40–70 % of the CPU, CPU µs per request
 * moves by ±50 % between rounds, while an instruction count moves by a few percent. Every
 * system runs under valgrind at the same time, warmed up by its own wrk at full speed; then
 * the count is zeroed and read over a few windows of the same even request rate for every
 * system (a saturating load would not do: work per request depends on how many requests
 * one event-loop turn finds, and that on how fast each system got the CPU). Only the main thread's instructions
 * are reported as the figure (the JavaScript, Node's HTTP work, undici): V8's compiler and
 * GC helper threads are shown beside it, and they still run down after warm-up.
 *
 * Instructions are not time: kernel work (syscalls) is not counted, nor cache misses. Use
 * it to compare builds of bearer-proxy with each other; the ratio to the forwarder is a
 * floor of the CPU-time ratio (1.5× in instructions was 2.2× in CPU µs here).
 *
 *   npx tsx bench/instructions.ts [--proxy-dist LABEL=DIR]… [--proxy-flags LABEL=FLAGS]… [--warm 420] [--window 60] [--windows 3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prepare } from './environment.ts';
import { createGenerator, wrkInstalled } from './generator.ts';
import { leanScript } from './lean.ts';
import { runPaced } from './load.ts';
import { freePort, log, ProcessGroup, readReadyLine, stopChildrenOnExit, waitForOk } from './processes.ts';
import { CLI, revisionOf, smallPath } from './proxy.ts';
import { flaggedBuild, mainCliFromEnv, otherBuild } from './settings.ts';

const USAGE = `npx tsx bench/instructions.ts [options]

Counts the main thread's instructions per request of the undici forwarder and bearer-proxy
(this tree's dist/, plus any --proxy-dist build) under valgrind, all at once. Needs valgrind
and wrk (apt-get install -y valgrind wrk). Takes warm-up + windows × window seconds, plus
about a minute for the starts under valgrind.

  --proxy-dist [LABEL=]DIR  also count the build in DIR (a dist/ or its cli.js); repeatable
  --proxy-flags LABEL=FLAGS  also count the main build run as node FLAGS (space-separated); repeatable
  BENCH_PROXY_CLI=/path/to/dist/cli.js   count that build as "bearer-proxy" (implies --no-build)
  --warm S                  seconds of load before counting (default 420: V8 must have optimised the hot path)
  --window S                seconds per counted window (default 60)
  --windows N               counted windows (default 3); the last is the figure, the others show it has settled
  --rate N                  requests per second per system in the counted windows (default 25)
  --connections N           connections per system (default 20)
  --no-build                use dist/ as it is`;

/**
 * V8 tiers up ten times sooner than by default, so that the warm-up under valgrind stays
 * minutes long. Node 26's V8 refuses --interrupt-budget on the command line; there the
 * invocation counts that decide the two optimising tiers are cut tenfold instead.
 */
const NODE_FLAGS =
  spawnSync(process.execPath, ['--interrupt-budget=6758', '-e', '0']).status === 0 ? ['--interrupt-budget=6758'] : ['--invocation-count-for-maglev=40', '--invocation-count-for-turbofan=300'];

interface Build {
  label: string;
  cli: string;
  /** node flags before the CLI (--proxy-flags). */
  nodeArgs: string[];
}

interface Counted {
  label: string;
  warmRequests: number;
  windows: Array<{ requests: number; mainK: number; allK: number }>;
}

function integer(text: string | undefined, fallback: number, flag: string): number {
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${flag} must be a positive whole number, not "${text}"`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'proxy-dist': { type: 'string', multiple: true },
      'proxy-flags': { type: 'string', multiple: true },
      warm: { type: 'string' },
      window: { type: 'string' },
      windows: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      'no-build': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).error) throw new Error('valgrind is not installed (apt-get install -y valgrind)');
  if (!wrkInstalled()) throw new Error('wrk is not installed (apt-get install -y wrk)');
  const warmSec = integer(values.warm, 420, '--warm');
  const windowSec = integer(values.window, 60, '--window');
  const windows = integer(values.windows, 3, '--windows');
  const connections = integer(values.connections, 20, '--connections');
  const rate = integer(values.rate, 25, '--rate');
  const mainCli = mainCliFromEnv(process.env) ?? CLI;
  const builds: Array<Build & { revision: string }> = [
    { label: 'bearer-proxy', cli: mainCli, nodeArgs: [] },
    ...(values['proxy-dist'] ?? []).map(otherBuild).map(({ label, cli }) => ({ label: `bearer-proxy@${label}`, cli, nodeArgs: [] })),
    ...(values['proxy-flags'] ?? []).map(flaggedBuild).map(({ label, nodeArgs }) => ({ label: `bearer-proxy@${label}`, cli: mainCli, nodeArgs })),
  ].map((build: Build) => ({
    ...build,
    // Read now: a commit made while the counts run would otherwise name code that was not measured.
    revision: revisionOf(build.cli),
  }));

  const group = new ProcessGroup();
  stopChildrenOnExit(group);
  const env = await prepare(group, { build: values['no-build'] || process.env.BENCH_PROXY_CLI ? 'never' : 'auto' });
  const outDir = await mkdtemp(join(tmpdir(), 'bearer-proxy-callgrind-'));
  const generator = createGenerator(group, 'wrk');
  const valgrind = ['--tool=callgrind', '--cache-sim=no', '--collect-jumps=no', '--separate-threads=yes', `--callgrind-out-file=${join(outDir, '%p')}`];

  const count = async (label: string, pid: number, url: string): Promise<Counted> => {
    const warm = await generator.run({ url, connections, durationSec: warmSec });
    const counted: Counted = { label, warmRequests: warm.requests, windows: [] };
    for (let window = 1; window <= windows; window++) {
      control('-z', pid);
      const load = await runPaced({ url, connections, rate, durationSec: windowSec });
      control('-d', pid);
      const { main, all } = await readDump(outDir, pid, window);
      if (load.failures > 0) throw new Error(`${label}: ${load.failures} failed requests in window ${window}`);
      counted.windows.push({ requests: load.requests, mainK: main / load.requests / 1000, allK: all / load.requests / 1000 });
      log(`${label}: window ${window}, ${load.requests} requests, ${(main / load.requests / 1000).toFixed(1)}k instructions/request on the main thread`);
    }
    return counted;
  };

  const forwarder = async (): Promise<Counted> => {
    const child = group.spawn('undici forwarder', 'valgrind', {
      args: [...valgrind, process.execPath, ...NODE_FLAGS, leanScript('undici-forwarder')],
      env: { ...process.env, BENCH_TARGET: env.smallUpstreamUrl, BENCH_AUTHORIZATION: env.issuer.authorization },
      stdout: 'pipe',
    });
    const { port } = await readReadyLine<{ port: number }>(child, 300_000);
    return count('undici forwarder', child.pid, `http://127.0.0.1:${port}${smallPath()}`);
  };
  const bearer = async ({ label, cli, nodeArgs }: Build): Promise<Counted> => {
    const port = await freePort();
    const child = group.spawn(label, 'valgrind', {
      args: [...valgrind, process.execPath, ...NODE_FLAGS, ...nodeArgs, cli, 'serve', '-c', env.config.file, '--port', String(port), '--log-level', 'info'],
      env: env.config.env,
      cwd: env.config.dir,
      stdout: 'ignore',
    });
    await waitForOk(`http://127.0.0.1:${port}/healthz`, child, 300_000, 500);
    return count(`${label} info`, child.pid, `http://127.0.0.1:${port}${smallPath()}`);
  };

  try {
    log(`${builds.length + 1} systems under valgrind at once: ${warmSec} s warm-up, then ${windows} × ${windowSec} s counted`);
    const results = await Promise.all([forwarder(), ...builds.map(bearer)]);
    process.stdout.write(report(results, builds, { warmSec, windowSec, connections, rate }));
    return 0;
  } finally {
    await env.close();
    await rm(outDir, { recursive: true, force: true });
  }
}

function control(flag: '-z' | '-d', pid: number): void {
  const done = spawnSync('callgrind_control', [flag, String(pid)], { encoding: 'utf8' });
  if (done.status !== 0) throw new Error(`callgrind_control ${flag} ${pid} failed: ${done.stderr || done.stdout}`);
}

/** The dump callgrind_control -d just asked for: one file per thread, PID.N-TT; thread 01 runs the JavaScript. */
async function readDump(dir: string, pid: number, dump: number): Promise<{ main: number; all: number }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const files = (await readdir(dir)).filter((name) => name.startsWith(`${pid}.${dump}-`));
    if (files.some((name) => name.endsWith('-01'))) {
      let main = 0;
      let all = 0;
      for (const name of files) {
        const total = Number(/^(?:summary|totals): (\d+)/m.exec(await readFile(join(dir, name), 'utf8'))?.[1] ?? NaN);
        all += total;
        if (name.endsWith('-01')) main = total;
      }
      if (Number.isFinite(all)) return { main, all };
    }
    if (Date.now() > deadline) throw new Error(`callgrind wrote no dump ${dump} for ${pid} in ${dir}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function report(results: Counted[], builds: Array<Build & { revision: string }>, run: { warmSec: number; windowSec: number; connections: number; rate: number }): string {
  const forwarder = results[0]!.windows.at(-1)!.mainK;
  const ours = results[1]!.windows.at(-1)!.mainK;
  const header = `| system | warm-up requests | ${results[0]!.windows.map((_, at) => `window ${at + 1}`).join(' | ')} | all threads, last | × undici | × this build |`;
  const rows = results.map(({ label, warmRequests, windows }) => {
    const last = windows.at(-1)!;
    const cells = windows.map(({ requests, mainK }) => `${mainK.toFixed(1)}k (${requests})`);
    return `| ${label} | ${warmRequests} | ${cells.join(' | ')} | ${last.allK.toFixed(1)}k | ${(last.mainK / forwarder).toFixed(2)}× | ${(last.mainK / ours).toFixed(2)}× |`;
  });
  return [
    '### Instructions per request, main thread (callgrind; requests counted in parentheses)',
    '',
    header,
    `|${'---|'.repeat(results[0]!.windows.length + 5)}`,
    ...rows,
    '',
    `bearer-proxy = node ${NODE_FLAGS.join(' ')} ${builds[0]!.cli} serve --log-level info (${builds[0]!.revision})${builds
      .slice(1)
      .map(({ label, cli, nodeArgs, revision }) => `; ${label} = ${[...nodeArgs, cli].join(' ')} (${revision})`)
      .join('')}`,
    `each under valgrind --tool=callgrind, all at once; ${run.warmSec} s warm-up (wrk -t1 -c${run.connections} each), then ${run.windowSec} s windows at ${run.rate} req/s over ${run.connections} connections each`,
    `Node ${process.version}`,
    '',
  ].join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench/instructions failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
