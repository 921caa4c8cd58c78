import { PassThrough } from 'node:stream';
import type { CliIo } from '../../src/cli/io.ts';
import type { SignalSubscriber } from '../../src/cli/serve.ts';

/** A stream that keeps what was written to it, for reading back what a command printed. */
export interface Captured {
  stream: PassThrough;
  readonly text: string;
  /** Resolves once the text contains `expected`; rejects after `timeoutMs` with what it holds. */
  waitFor(expected: string, timeoutMs?: number): Promise<void>;
}

export function captured(): Captured {
  const stream = new PassThrough();
  let text = '';
  const waiters = new Set<() => void>();
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const waiter of [...waiters]) waiter();
  });
  return {
    stream,
    get text() {
      return text;
    },
    waitFor: (expected, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!text.includes(expected)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${JSON.stringify(expected)} within ${timeoutMs} ms; got ${JSON.stringify(text)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

/**
 * Standard input as a terminal presents it to a command: isTTY, and setRawMode, whose calls
 * are kept (a prompt that leaves the terminal raw breaks the user's shell).
 */
export interface FakeTerminal extends PassThrough {
  isTTY: true;
  readonly rawModes: boolean[];
  setRawMode(mode: boolean): this;
}

export function fakeTerminal(): FakeTerminal {
  const rawModes: boolean[] = [];
  return Object.assign(new PassThrough(), {
    isTTY: true as const,
    rawModes,
    setRawMode(this: FakeTerminal, mode: boolean) {
      rawModes.push(mode);
      return this;
    },
  });
}

export interface TestIo {
  io: CliIo;
  stdout: Captured;
  stderr: Captured;
  /** Both streams, for asserting that something appears in neither. */
  readonly output: string;
}

/**
 * The CliIo that cli.ts fills from the process, on PassThrough streams: a command runs in
 * this process and what it prints is read back. Standard input is empty and not a terminal
 * unless one is given.
 */
export function testIo(options: { cwd: string; env?: Record<string, string | undefined>; stdin?: CliIo['stdin'] }): TestIo {
  const stdout = captured();
  const stderr = captured();
  const stdin = options.stdin ?? new PassThrough().end();
  return {
    io: { argv: [], env: options.env ?? {}, cwd: options.cwd, stdout: stdout.stream, stderr: stderr.stream, stdin },
    stdout,
    stderr,
    get output() {
      return stdout.text + stderr.text;
    },
  };
}

export interface TestSignals {
  onSignal: SignalSubscriber;
  /** The signals the command subscribed to, in order. */
  subscribed: string[];
  /** serve and demo subscribe once they are listening. */
  subscribedYet: () => boolean;
  /** Delivers a signal to the command, as process.on(signal) would. */
  send: (signal: string) => void;
}

/** A subscriber standing in for process.on(signal): the test delivers the signals. */
export function testSignals(): TestSignals {
  let handler: ((signal: string) => void) | undefined;
  const subscribed: string[] = [];
  return {
    onSignal: (listener, list) => {
      handler = listener;
      subscribed.push(...list);
    },
    subscribed,
    subscribedYet: () => handler !== undefined,
    send: (signal) => handler!(signal),
  };
}
