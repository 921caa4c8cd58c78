import pino, { type DestinationStream, type Logger } from 'pino';
import { prettyStream } from './pretty.ts';

export type { Logger } from 'pino';

/**
 * Declared redaction: whatever object a log call is handed, these never reach the output.
 * Code should not log secrets in the first place; this is the net under it.
 */
export const REDACT_PATHS = [
  'authorization',
  'password',
  'passwordHash',
  'clientSecret',
  'privateKey',
  'client_assertion',
  'client_secret',
  'access_token',
  'accessToken',
  'token.value',
  '*.authorization',
  '*.password',
  '*.passwordHash',
  '*.clientSecret',
  '*.privateKey',
  '*.client_assertion',
  '*.client_secret',
  '*.access_token',
  '*.accessToken',
  'headers["proxy-authorization"]',
  '*.headers.authorization',
  '*.headers["proxy-authorization"]',
];

export interface LoggerOptions {
  level?: string;
  /** Readable lines (for a terminal, see pretty.ts); JSON otherwise. */
  pretty?: boolean;
  /** ANSI colours in readable lines. */
  color?: boolean;
  /** Where lines go instead of standard output (tests). */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = {
    level: options.level ?? 'info',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: cachedIsoTime(),
  };
  if (options.pretty) {
    // In this thread, not as a pino transport: a transport is a worker thread that loads its
    // module by file path, which the bundled builds (npm run dist) do not have. Synchronous,
    // so no line is lost when the process exits.
    return pino(base, prettyStream(options.destination ?? pino.destination({ dest: 1, sync: true }), { color: options.color === true }));
  }
  if (options.destination) return pino(base, options.destination);
  // Synchronous writes (pino's default): measured no slower here than asynchronous ones,
  // and no line is lost if the process dies.
  return pino(base);
}

/**
 * pino's isoTime, formatted once a second: under load many lines share a millisecond, and
 * toISOString costs 1.5–3 µs on the machines here, a visible share of a request's cost.
 * Within a second only the milliseconds change. One cache per logger, not per module.
 */
export function cachedIsoTime(now: () => number = Date.now): () => string {
  let lastMs = -1;
  let text = '';
  let second = -1;
  /** `,"time":"2026-12-03T12:00:00.` for the second being logged. */
  let head = '';
  return () => {
    const ms = now();
    if (ms === lastMs) return text;
    lastMs = ms;
    const inSecond = ms % 1000;
    if (ms - inSecond !== second) {
      second = ms - inSecond;
      head = `,"time":"${new Date(second).toISOString().slice(0, -4)}`;
    }
    text = `${head}${inSecond < 10 ? '00' : inSecond < 100 ? '0' : ''}${inSecond}Z"`;
    return text;
  };
}
