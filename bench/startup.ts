/**
 * `npm run bench:startup`: how long the built CLI takes to start, as a user meets it.
 * Each command is a fresh `node dist/cli.js …` process, timed from spawn:
 *   --version, --help    until the process has exited
 *   serve                until its "listening" log line, and until /healthz answers 200
 * Several runs each; prints min, median and max, and PASS/FAIL against the targets of
 * issue 13 (--version and --help well under 300 ms, serve ready under 500 ms).
 *
 *   npm run bench:startup                      build, then 15 runs of each
 *   npm run bench:startup -- --runs 30
 *   npm run bench:startup -- --cli /other/checkout/dist/cli.js   another build (no build step)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { freePort, log, median, probe } from './processes.ts';
import { build, REPO_ROOT, sourceRevision } from './proxy.ts';
import { below, formatVerdicts, type Verdict } from './report.ts';

interface Sample {
  name: string;
  ms: number[];
}

const VERSION_TARGET_MS = 300;
const SERVE_TARGET_MS = 500;

async function main(): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: 'string', default: '15' }, cli: { type: 'string' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number ≥ 1, not "${values.runs}"`);
  const cli = values.cli ?? join(REPO_ROOT, 'dist', 'cli.js');
  if (!values.cli) {
    log('building (npm run build)');
    await build();
  }
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
    const samples: Sample[] = [
      { name: '--version (spawn → exit)', ms: [] },
      { name: '--help (spawn → exit)', ms: [] },
      { name: 'serve (spawn → listening line)', ms: [] },
      { name: 'serve (spawn → /healthz 200)', ms: [] },
    ];
    // Interleaved, so that a slow moment of a shared machine spreads over every command.
    for (let run = 0; run < runs; run++) {
      samples[0]!.ms.push(await timeToExit([cli, '--version']));
      samples[1]!.ms.push(await timeToExit([cli, '--help']));
      const served = await timeToServe(cli, config, dir);
      samples[2]!.ms.push(served.listeningMs);
      samples[3]!.ms.push(served.healthyMs);
    }
    const width = Math.max(...samples.map((sample) => sample.name.length));
    const lines = [
      `${'command'.padEnd(width)}   min ms  median ms  max ms   (${runs} runs each)`,
      ...samples.map((sample) => {
        const sorted = [...sample.ms].sort((a, b) => a - b);
        return `${sample.name.padEnd(width)}  ${sorted[0]!.toFixed(0).padStart(7)}  ${median(sorted).toFixed(0).padStart(9)}  ${sorted.at(-1)!.toFixed(0).padStart(6)}`;
      }),
    ];
    const verdicts: Verdict[] = [
      below('13a', '--version, median', median(samples[0]!.ms), VERSION_TARGET_MS, ' ms', 0),
      below('13b', '--help, median', median(samples[1]!.ms), VERSION_TARGET_MS, ' ms', 0),
      below('13c', 'serve ready (/healthz 200), median', median(samples[3]!.ms), SERVE_TARGET_MS, ' ms', 0),
    ];
    const baseline = median(await repeat(runs, () => timeToExit(['-e', '0'])));
    process.stdout.write(
      `${lines.join('\n')}\n\n${formatVerdicts(verdicts)}\n\n` +
        `${cli} (${values.cli ? 'as given' : sourceRevision()}); Node ${process.version}; ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}); ` +
        `a bare \`node -e 0\` takes ${baseline.toFixed(0)} ms (median) on this machine now.\n`,
    );
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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

async function timeToServe(cli: string, config: string, cwd: string): Promise<{ listeningMs: number; healthyMs: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [cli, 'serve', '-c', config, '--port', String(port)], { cwd, env: { ...process.env, BENCH_SECRET: 'not-a-real-secret' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const lines = createInterface({ input: child.stdout });
    const listening = await Promise.race([
      new Promise<number>((resolve) => lines.on('line', (line) => line.includes('listening on') && resolve(performance.now() - started))),
      exited.then((code) => Promise.reject(new Error(`serve exited (${code}) before it listened`))),
    ]);
    // Listening means ready; the probe proves it (and would catch a listener that does not answer).
    const deadline = performance.now() + 15_000;
    while ((await probe(`http://127.0.0.1:${port}/healthz`)) !== 200) {
      if (performance.now() > deadline) throw new Error('serve listened but /healthz did not answer 200 within 15 s');
    }
    return { listeningMs: listening, healthyMs: performance.now() - started };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`bench:startup failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
