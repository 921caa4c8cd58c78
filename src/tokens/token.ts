import { ProxyError, type ErrorCode } from '../errors.ts';

export interface AccessToken {
  value: string;
  /** Lower-cased, as the IdP's token_type is case-insensitive. */
  tokenType: string;
  obtainedAt: number;
  expiresAt: number;
  scope?: string;
}

/** Why a fetch happens, for sources that relay it elsewhere (a worker asking the primary process). */
export interface FetchContext {
  /** The token held now and still valid: this fetch renews it ahead of its expiry. */
  renewing?: AccessToken | undefined;
  /** The token an upstream refused (401), dropped just before this fetch. */
  rejected?: AccessToken | undefined;
}

/** One way of obtaining tokens (one grant, one IdP). Failures are ProxyErrors with a token code. */
export interface TokenSource {
  readonly name: string;
  /** What kind of source this is, for check, token and /_status ("managed identity (IMDS)"): never a secret. */
  readonly kind?: string;
  fetchToken(context?: FetchContext): Promise<AccessToken>;
}

/**
 * A failure the IdP said when to retry after (HTTP 429 or 503 with Retry-After, as IMDS
 * throttles): the provider waits at least that long (up to its backoff.max) before the next attempt.
 */
export class RetryLaterError extends ProxyError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly retryAfterMs: number,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/**
 * The three forms of HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, RFC 850 and asctime (which
 * carries no zone, and is GMT). Only these go to Date.parse, which also reads "1.5" as
 * January 2001 and "3600, 5" as the year 3600.
 */
const HTTP_DATE =
  /^(?:[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT|[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/;

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!HTTP_DATE.test(text)) return undefined;
  const at = Date.parse(text.endsWith('GMT') ? text : `${text} GMT`);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
