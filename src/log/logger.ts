import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

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
  /** Human-readable output (for a terminal); JSON otherwise. */
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = {
    level: options.level ?? 'info',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: cachedIsoTime(),
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    // In this thread, not as a pino transport: a transport is a worker thread that loads
    // pino-pretty by file path, which the bundled builds (npm run dist) do not have.
    // Synchronous, so no line is lost when the process exits.
    const pretty = loadPinoPretty()({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
    return pino(base, pretty);
  }
  // Synchronous writes (pino's default): measured no slower here than asynchronous ones,
  // and no line is lost if the process dies.
  return pino(base);
}

/**
 * pino's isoTime with the text kept for the millisecond it names: under load many lines
 * share a millisecond, and formatting a Date for each was a visible share of a request's
 * cost. One cache per logger, not per module.
 */
export function cachedIsoTime(): () => string {
  let lastMs = -1;
  let text = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      text = `,"time":"${new Date(now).toISOString()}"`;
    }
    return text;
  };
}

/**
 * Loaded only for a terminal (it takes ~50 ms). The npm build is ESM and has no `require`;
 * the bundled build is CommonJS, where this literal `require` call is what makes esbuild
 * include pino-pretty in the bundle.
 */
function loadPinoPretty(): typeof PinoPretty {
  return typeof require === 'function' ? (require('pino-pretty') as typeof PinoPretty) : (createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty);
}
