#!/usr/bin/env node
// Only the command table is imported up front: each command loads its own modules when it
// runs, so `--version`, `--help` and usage mistakes start no dependency (issue 13).
import * as nodeModule from 'node:module';
import { isSea } from 'node:sea';
import { parseCommandLine } from './cli/args.ts';
import { packageVersion, print, UsageError, type CliIo, type IpcChannel } from './cli/io.ts';
import type { SignalSubscriber } from './cli/serve.ts';

async function main(io: CliIo, onSignal: SignalSubscriber): Promise<number> {
  const line = parseCommandLine(io.argv);
  if (line.version) return (print(io.stdout, packageVersion()), 0);
  return line.command.run({ io, values: line.values, positionals: line.positionals, onSignal });
}

/** Turns every expected failure into a message and an exit code; only a real bug shows a stack. */
async function reportFailure(io: CliIo, error: unknown): Promise<number> {
  if (error instanceof UsageError) {
    print(io.stderr, `bearer-proxy: ${error.message}`);
    return error.exitCode;
  }
  // By name, not instanceof: importing the config loader here would load yaml and zod into every start.
  if ((error as Error | undefined)?.name === 'ConfigError') {
    print(io.stderr, (error as Error).message);
    return 1;
  }
  // Only reached after a command ran, when errors.ts is loaded already.
  const { isProxyError } = await import('./errors.ts');
  if (isProxyError(error)) {
    print(io.stderr, `bearer-proxy: ${error.code}: ${error.message}`);
    return 1;
  }
  print(io.stderr, `bearer-proxy: unexpected failure: ${(error as Error)?.stack ?? String(error)}`);
  return 70;
}

// Node ≥ 22.1 can keep the compiled code of the modules a command loads between runs (in the
// temp directory; tsc does the same): about a tenth off serve's start. Node 20 has no such
// cache, and a directory that cannot be written only means no cache.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

/**
 * The command line after the script. A single executable is its own script (argv[1] is the
 * executable again), and cluster.fork puts its `exec`, the executable, before the command
 * line once more: a worker of `serve --workers` drops that copy.
 */
function commandLine(): string[] {
  const args = process.argv.slice(2);
  return process.send !== undefined && args[0] === process.execPath && isSea() ? args.slice(1) : args;
}

const io: CliIo = {
  argv: commandLine(),
  env: process.env,
  cwd: process.cwd(),
  entry: process.argv[1],
  ...(process.send ? { ipc: process as IpcChannel } : {}),
  stdout: process.stdout,
  // Opening a standard stream costs a few ms: only failures write to stderr, only hash-password reads stdin.
  get stderr() {
    return process.stderr;
  },
  get stdin() {
    return process.stdin;
  },
};
const onSignal: SignalSubscriber = (handler, signals) => {
  for (const signal of signals) process.on(signal, () => handler(signal));
};
void main(io, onSignal)
  .catch((error: unknown) => reportFailure(io, error))
  .then((code) => {
    process.exitCode = code;
    // Servers and timers are closed by now; anything still holding the loop is not ours to wait for.
    setTimeout(() => process.exit(code), 200).unref();
  });
