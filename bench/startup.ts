/**
 * `npm run bench:startup`: how long the built CLI takes to start, as a user meets it.
 * Each command is a fresh `node dist/cli.js …` process, timed from spawn:
 *   --version, --help    until the process has exited
 *   serve                until its "listening" log line, and until /healthz answers 200;
 *                        also the CPU time it had used by then (Linux), which a busy
 *                        machine inflates far less than the wall-clock time
 * Several runs each, interleaved; prints min, median and max, and PASS/FAIL against the
 * targets of issue 13 (--version and --help well under 300 ms, serve ready under 500 ms).
 *
 *   npm run bench:startup                                  build, then 15 runs of each
 *   npm run bench:startup -- --runs 30
 *   npm run bench:startup -- --cli /other/checkout/dist/cli.js        another build, no build step
 *   npm run bench:startup -- --baseline /old/checkout/dist/cli.js     this build and an older one, run by run
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { freePort, log, median, probe } from './processes.ts';
import { build, REPO_ROOT, sourceRevision } from './proxy.ts';
import { below, formatVerdicts, type Verdict } from './report.ts';

const VERSION_TARGET_MS = 300;
const SERVE_TARGET_MS = 500;
/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

const MEASURES = ['--version (spawn → exit)', '--help (spawn → exit)', 'serve (spawn → listening line)', 'serve (spawn → /healthz 200)', 'serve CPU time until listening'] as const;
type Samples = Record<(typeof MEASURES)[number], number[]>;

async function main(): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: 'string', default: '15' }, cli: { type: 'string' }, baseline: { type: 'string' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number ≥ 1, not "${values.runs}"`);
  const cli = values.cli ? resolve(values.cli) : join(REPO_ROOT, 'dist', 'cli.js');
  if (!values.cli) {
    log('building (npm run build)');
    await build();
  }
  const builds = [
    { label: values.cli ? cli : `this build (${sourceRevision()})`, cli },
    ...(values.baseline ? [{ label: `baseline ${resolve(values.baseline)}`, cli: resolve(values.baseline) }] : []),
  ];
  const dir = await mkdtemp(join(tmpdir(), 'bearer-proxy-startup-'));
  try {
    const config = join(dir, 'proxy.yaml');
    // A realistic file: a token source (never contacted: nothing is prefetched) and two routes.
    await writeFile(
      config,
      [
        'tokens:',
        '  api: { tokenUrl: "https://idp.example.invalid/oauth2/token", clientId: bench, clientSecret: "${BENCH_SECRET}", scope: "api://bench/.default" }',
        'routes:',
        '  /sales: { target: "https://api.example.invalid/odata/v4/sales", token: api }',
        '  /hr: { target: "https://api.example.invalid/odata/v4/hr", token: api }',
        '',
      ].join('\n'),
    );
    const samples = builds.map(() => Object.fromEntries(MEASURES.map((name) => [name, [] as number[]])) as Samples);
    // Interleaved, so that a slow moment of a shared machine spreads over every command and build.
    for (let run = 0; run < runs; run++) {
      for (const [index, { cli }] of builds.entries()) {
        const sample = samples[index]!;
        sample['--version (spawn → exit)'].push(await timeToExit([cli, '--version']));
        sample['--help (spawn → exit)'].push(await timeToExit([cli, '--help']));
        const served = await timeToServe(cli, config, dir);
        sample['serve (spawn → listening line)'].push(served.listeningMs);
        sample['serve (spawn → /healthz 200)'].push(served.healthyMs);
        if (served.cpuMs !== undefined) sample['serve CPU time until listening'].push(served.cpuMs);
      }
    }
    const baseline = median(await repeat(runs, () => timeToExit(['-e', '0'])));
    const ours = samples[0]!;
    const verdicts: Verdict[] = [
      below('13a', '--version, median', median(ours['--version (spawn → exit)']), VERSION_TARGET_MS, ' ms', 0),
      below('13b', '--help, median', median(ours['--help (spawn → exit)']), VERSION_TARGET_MS, ' ms', 0),
      below('13c', 'serve ready (/healthz 200), median', median(ours['serve (spawn → /healthz 200)']), SERVE_TARGET_MS, ' ms', 0),
    ];
    const tables = builds.map(({ label }, index) => `${label}\n${formatSamples(samples[index]!, runs)}`);
    process.stdout.write(
      `${tables.join('\n\n')}\n\n${formatVerdicts(verdicts)}\n\n` +
        `Node ${process.version}; ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}); a bare \`node -e 0\` takes ${baseline.toFixed(0)} ms (median) on this machine now.\n`,
    );
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function formatSamples(samples: Samples, runs: number): string {
  const width = Math.max(...MEASURES.map((name) => name.length));
  const rows = MEASURES.filter((name) => samples[name].length > 0).map((name) => {
    const sorted = [...samples[name]].sort((a, b) => a - b);
    return `${name.padEnd(width)}  ${sorted[0]!.toFixed(0).padStart(7)}  ${median(sorted).toFixed(0).padStart(9)}  ${sorted.at(-1)!.toFixed(0).padStart(6)}`;
  });
  return [`${'measure'.padEnd(width)}   min ms  median ms  max ms   (${runs} runs)`, ...rows].join('\n');
}

async function repeat(runs: number, measure: () => Promise<number>): Promise<number[]> {
  const results: number[] = [];
  for (let run = 0; run < runs; run++) results.push(await measure());
  return results;
}

/** `node ARGS…` from spawn until the process has exited (0, or the run counts as broken). */
function timeToExit(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`node ${args.join(' ')} exited ${code}`))));
  });
}

async function timeToServe(cli: string, config: string, cwd: string): Promise<{ listeningMs: number; healthyMs: number; cpuMs?: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [cli, 'serve', '-c', config, '--port', String(port)], {
    cwd,
    env: { ...process.env, BENCH_SECRET: 'not-a-real-secret' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const lines = createInterface({ input: child.stdout });
    const listening = await Promise.race([
      new Promise<number>((resolve) => lines.on('line', (line) => line.includes('listening on') && resolve(performance.now() - started))),
      exited.then((code) => Promise.reject(new Error(`serve exited (${code}) before it listened`))),
    ]);
    const cpuMs = cpuTimeMs(child.pid!);
    // Listening means ready; the probe proves it (and would catch a listener that does not answer).
    const deadline = performance.now() + 15_000;
    while ((await probe(`http://127.0.0.1:${port}/healthz`)) !== 200) {
      if (performance.now() > deadline) throw new Error('serve listened but /healthz did not answer 200 within 15 s');
    }
    return { listeningMs: listening, healthyMs: performance.now() - started, ...(cpuMs === undefined ? {} : { cpuMs }) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** User + system CPU time of a running process so far, from /proc (Linux only). */
function cpuTimeMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at the state, field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`bench:startup failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
