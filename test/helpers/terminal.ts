import { spawn } from 'node:child_process';
import { builtCli } from './cli.ts';

export interface TerminalSession {
  /** Everything shown on the terminal so far (stdout and stderr, as a terminal shows them). */
  readonly output: string;
  /** Resolves with the output once it matches. */
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  type(text: string): void;
  readonly exited: Promise<{ code: number | null; output: string }>;
}

/**
 * The built CLI on a new pseudo-terminal, made by util-linux `script`: what it writes, as a
 * terminal would show it, and what we type (Ctrl+C is "\u0003": SIGINT from the terminal).
 */
export function onTerminal(args: string[], env: Record<string, string> = {}): TerminalSession {
  const command = [process.execPath, builtCli(), ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  // -q quiet, -f flush at once, -e the command's exit code, -c the command; no typescript file.
  // `exec`: the shell that runs it must not stay in the terminal's process group, where
  // Ctrl+C would interrupt it too and its exit code would be 130 whatever the CLI's was.
  const child = spawn('script', ['-qfec', `exec ${command}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', TERM: 'xterm-256color', ...env } });
  let output = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of waiters) check();
  });
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.on('close', (code) => resolve({ code, output })));
  return {
    get output() {
      return output;
    },
    exited,
    type: (text) => void child.stdin.write(text),
    waitFor: (pattern, timeoutMs = 15_000) =>
      new Promise<string>((resolve, reject) => {
        const matches = () => (typeof pattern === 'string' ? output.includes(pattern) : pattern.test(output));
        if (matches()) return resolve(output);
        const check = () => {
          if (!matches()) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(output);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${String(pattern)} on the terminal within ${timeoutMs} ms; it shows: ${JSON.stringify(output)}`));
        }, timeoutMs);
        waiters.add(check);
      }),
  };
}

/** The text without ANSI colour sequences and carriage returns (a pty turns \n into \r\n). */
export function plainText(output: string): string {
  // eslint-disable-next-line no-control-regex
  return output.replace(/\u001b\[[0-9;]*m/g, '').replace(/\r/g, '');
}
