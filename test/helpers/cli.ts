import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The built CLI (`node dist/cli.js`), as users run it: a spawn through tsx costs 3–4 s on
 * a loaded machine, which put the CLI tests past tap's 30 s per file. `npm test` builds
 * first; a dist/ older than src/ would test old code, so it is refused with the fix.
 */
export function builtCli(): string {
  const cli = join(ROOT, 'dist', 'cli.js');
  let builtAt: number;
  try {
    builtAt = statSync(cli).mtimeMs;
  } catch {
    throw new Error('dist/cli.js is missing: run `npm run build` first (`npm test` does)');
  }
  const newer = sourceFiles(join(ROOT, 'src')).find((file) => statSync(file).mtimeMs > builtAt);
  if (newer) throw new Error(`dist/ is older than ${relative(ROOT, newer)}: run \`npm run build\` first (\`npm test\` does)`);
  return cli;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Flags for node itself, before the script (e.g. --import of a loader hook). */
  nodeArgs?: string[];
}

/** Runs the real (built) CLI in a child process. */
export function runCli(args: string[], options: CliOptions & { input?: string } = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  return collect(child);
}

export function spawnCli(args: string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [...(options.nodeArgs ?? []), builtCli(), ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Resolves with the first stdout line that matches, while the process keeps running. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; got: ${buffered}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((candidate) => pattern.test(candidate));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}
