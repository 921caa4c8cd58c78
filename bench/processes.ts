import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { finished } from 'node:stream/promises';

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** The last few KB the child wrote to stderr, for error messages. */
  stderrTail(): string;
}

export interface SpawnOptions {
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** 'pipe' only for children that print a single ready line or one result; a chatty pipe would cost the runner CPU. */
  stdout?: 'ignore' | 'pipe';
  /** A CPU list for `taskset -c` (e.g. "0" or "0-1"); unset: the runner's own affinity, which children inherit. */
  cpus?: string;
}

const STDERR_TAIL_BYTES = 4096;

/**
 * Every child the bench starts, so that a failure anywhere (or Ctrl+C) still stops all of
 * them. One instance per script run, owned by the entry point.
 */
export class ProcessGroup {
  readonly #children = new Set<Child>();

  spawn(name: string, command: string, options: SpawnOptions): Child {
    // stdin stays a pipe: our own children exit when it closes, so even a SIGKILLed runner leaves no orphans.
    // taskset execs the command, so the pid (and its /proc figures) are the command's own.
    const [file, args]: [string, string[]] = options.cpus === undefined ? [command, options.args] : ['taskset', ['-c', options.cpus, command, ...options.args]];
    const proc = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', options.stdout ?? 'ignore', 'pipe'],
    });
    if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    let tail = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (text: string) => {
      tail = (tail + text).slice(-STDERR_TAIL_BYTES);
    });
    proc.stdin?.on('error', () => {}); // EPIPE when the child is already gone is expected
    const exited = new Promise<number | string>((resolve) => {
      proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      proc.once('error', (error) => {
        tail += `\n${error.message}`;
        resolve('spawn-error');
      });
    });
    const child: Child = { name, process: proc, pid: proc.pid, exited, stderrTail: () => tail.trim() };
    this.#children.add(child);
    void exited.then(() => this.#children.delete(child));
    return child;
  }

  /** SIGTERM, then SIGKILL if the child has not exited within the grace period. */
  async stop(child: Child, graceMs = 5000): Promise<number | string> {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return child.exited;
    child.process.kill('SIGTERM');
    const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
    try {
      return await child.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#children].map((child) => this.stop(child)));
  }

  /** For process 'exit' handlers, where nothing asynchronous runs any more. */
  killAllNow(): void {
    for (const child of this.#children) child.process.kill('SIGKILL');
  }
}

/** Whatever ends the script (an error, Ctrl+C, SIGTERM), no child may outlive it. */
export function stopChildrenOnExit(group: ProcessGroup): void {
  process.once('exit', () => group.killAllNow());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      group.killAllNow();
      process.exit(130);
    });
  }
}

/** Reads the first stdout line of a child as JSON; our own children announce their port this way. */
export async function readReadyLine<T>(child: Child, timeoutMs = 15_000): Promise<T> {
  const stdout = child.process.stdout;
  if (!stdout) throw new Error(`${child.name}: stdout is not a pipe`);
  const lines = createInterface({ input: stdout });
  const timeout = sleep(timeoutMs, 'timeout' as const);
  const first = new Promise<string>((resolve) => lines.once('line', resolve));
  const outcome = await Promise.race([first, timeout, child.exited.then(() => 'exited' as const)]);
  lines.close();
  stdout.resume(); // nothing more is expected, but a full pipe must never block the child
  if (outcome === 'timeout') throw new Error(`${child.name} printed no ready line within ${timeoutMs} ms. stderr:\n${child.stderrTail()}`);
  if (outcome === 'exited') throw new Error(`${child.name} exited before it was ready. stderr:\n${child.stderrTail()}`);
  return JSON.parse(outcome) as T;
}

/** All a short-lived child prints on stdout, once it has exited 0; its stderr tail in the error otherwise. */
export async function outputOf(child: Child): Promise<string> {
  const stdout = child.process.stdout;
  if (!stdout) throw new Error(`${child.name}: stdout is not a pipe`);
  let text = '';
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => {
    text += chunk;
  });
  // 'exit' can come before the last of stdout has been read: on a loaded machine the whole
  // output of a wrk run was still in the pipe, and the result looked empty.
  const [code] = await Promise.all([child.exited, finished(stdout).catch(() => undefined)]);
  if (code !== 0) throw new Error(`${child.name} exited with ${code}. stderr:\n${child.stderrTail()}`);
  return text;
}

/** Status code of one GET, or undefined when the connection fails (not listening yet). */
export function probe(url: string, timeoutMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
  });
}

/** Polls until the URL answers 200; fails early with the child's stderr if it dies first. */
export async function waitForOk(url: string, child: Child, timeoutMs = 15_000, intervalMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let gone = false;
  void child.exited.then(() => {
    gone = true;
  });
  while (performance.now() < deadline) {
    if (gone) throw new Error(`${child.name} exited (${await child.exited}) before ${url} answered. stderr:\n${child.stderrTail()}`);
    if ((await probe(url)) === 200) return;
    await sleep(intervalMs);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms. stderr of ${child.name}:\n${child.stderrTail()}`);
}

/** A port that was free a moment ago; the CLI needs one up front because its stdout is not read. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Kept here for the scripts that import it from this module. */
export { median } from './rounds.ts';

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
