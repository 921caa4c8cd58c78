import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { cachedIsoTime } from './logger.ts';

/** One request's access line: only values that are safe to log (the path without its query, the user name, error codes and messages). */
export interface AccessEntry {
  requestId: string;
  method: string | undefined;
  path: string | undefined;
  route: string | undefined;
  status: number;
  durationMs: number;
  upstreamStatus: number | undefined;
  tokenSource: string | undefined;
  bytes: number | undefined;
  user: string | undefined;
  retriedWithNewToken?: true;
  resentAfterConnectionClosed?: true;
  aborted?: true;
  error?: Record<string, unknown>;
}

/** info for traffic; warn for a failure of the proxy's own making (a 5xx it answered); error for a bug. */
export type AccessLevel = 'info' | 'warn' | 'error';

export interface AccessLog {
  write(entry: AccessEntry, level: AccessLevel): void;
  /** Writes out what is held (at shutdown). */
  flush(): void;
}

/**
 * Access lines through a logger (tests, the terminal, the demo). Without generic
 * redaction: the entry holds only safe values, and redaction cost about a sixth of the
 * CPU per request here.
 */
export function loggerAccessLog(logger: Logger): AccessLog {
  const child = logger.child({}, { redact: [] });
  return { write: (entry, level) => child[level](entry, 'request'), flush: () => child.flush() };
}

/** Characters held before a write (bytes, for the ASCII lines most are); most lines are ~300, so about a dozen go out in one call. */
const BATCH_CHARS = 4096;
/** A quiet proxy's lines still go out within this long. */
const BATCH_MS = 1000;

/**
 * JSON access lines to standard output (or another descriptor), in pino's own line format, serialised here for the
 * fields an access line has and written in batches: a write call per request was the
 * largest single cost of a proxied request after the HTTP work itself. Lines go out once
 * 4 KiB are held or a second has passed, and on flush; a process killed outright loses at
 * most that. Every other log line stays unbuffered, so a line about the proxy itself may
 * come out ahead of access lines written just before it.
 *
 * The batch is held here and written with one write call, its byte length measured once:
 * sonic-boom (pino's destination) ran Buffer.byteLength over each line and three times
 * over the held text on every write, 1–2 % of a request's CPU here. What that call cannot take (a full non-blocking pipe)
 * goes to sonic-boom after all, which waits and retries until it is written.
 */
export function batchedAccessLog(level: string, { fd = 1, bindings = {} }: { fd?: number; bindings?: Record<string, string | number> } = {}): AccessLog {
  const threshold = pino.levels.values[level]!;
  if (threshold > pino.levels.values.error!) return { write: () => undefined, flush: () => undefined };
  const time = cachedIsoTime();
  // Fields of every line (a worker's number), serialised once, as a pino child's bindings are.
  const bound = Object.entries(bindings)
    .map(([key, value]) => `,${JSON.stringify(key)}:${JSON.stringify(value)}`)
    .join('');
  let held = '';
  let slowPath: BytesDestination | undefined;
  // contentMode 'buffer' takes Buffers (a remainder can end inside a UTF-8 character); pino's types know only strings.
  const rest = (): BytesDestination => (slowPath ??= pino.destination({ dest: fd, sync: true, contentMode: 'buffer' }) as unknown as BytesDestination);
  const writeHeld = (): void => {
    if (held === '') return;
    const batch = held;
    held = '';
    writeBatch(fd, batch, rest);
  };
  setInterval(writeHeld, BATCH_MS).unref();
  return {
    write: (entry, entryLevel) => {
      if (LEVEL_VALUES[entryLevel] < threshold) return;
      held += serialise(entry, LEVEL_TEXT[entryLevel], time() + bound);
      if (held.length >= BATCH_CHARS) writeHeld();
    },
    flush: () => {
      writeHeld();
      slowPath?.flushSync();
    },
  };
}

interface BytesDestination {
  write(bytes: Buffer): boolean;
  flushSync(): void;
}

/** The whole batch, in order: one write call, and what it did not take through the waiting writer. */
function writeBatch(fd: number, batch: string, rest: () => BytesDestination): void {
  let written: number;
  try {
    written = writeSync(fd, batch);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    written = 0;
  }
  // Compared with the byte length, not the character count: a partial write of a batch
  // holding a multi-byte character can take exactly as many bytes as it has characters.
  if (written === Buffer.byteLength(batch)) return;
  rest().write(Buffer.from(batch).subarray(written));
}

const LEVEL_VALUES: Record<AccessLevel, number> = { info: 30, warn: 40, error: 50 };
const LEVEL_TEXT: Record<AccessLevel, string> = { info: '30', warn: '40', error: '50' };

/** pino's line for `info(entry, 'request')` (or warn, error): level, time, bindings, the fields in order (undefined ones left out), msg. */
function serialise(entry: AccessEntry, level: string, timeAndBindings: string): string {
  let line = `{"level":${level}${timeAndBindings},"requestId":${JSON.stringify(entry.requestId)}`;
  if (entry.method !== undefined) line += `,"method":${JSON.stringify(entry.method)}`;
  if (entry.path !== undefined) line += `,"path":${JSON.stringify(entry.path)}`;
  if (entry.route !== undefined) line += `,"route":${JSON.stringify(entry.route)}`;
  line += `,"status":${entry.status},"durationMs":${entry.durationMs}`;
  if (entry.upstreamStatus !== undefined) line += `,"upstreamStatus":${entry.upstreamStatus}`;
  if (entry.tokenSource !== undefined) line += `,"tokenSource":${JSON.stringify(entry.tokenSource)}`;
  if (entry.bytes !== undefined) line += `,"bytes":${entry.bytes}`;
  if (entry.user !== undefined) line += `,"user":${JSON.stringify(entry.user)}`;
  if (entry.retriedWithNewToken) line += ',"retriedWithNewToken":true';
  if (entry.resentAfterConnectionClosed) line += ',"resentAfterConnectionClosed":true';
  if (entry.aborted) line += ',"aborted":true';
  if (entry.error !== undefined) line += `,"error":${JSON.stringify(entry.error)}`;
  return `${line},"msg":"request"}\n`;
}
