import type { Clock } from '../clock.ts';
import { ProxyError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { DEFAULT_BACKOFF_MS, DEFAULT_EXPIRY_SKEW_MS, DEFAULT_REFRESH_AHEAD } from './defaults.ts';
import { RetryLaterError, type AccessToken, type TokenSource } from './token.ts';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export interface TokenProviderOptions {
  /** A token counts as expired this long before its expiry, capped at a tenth of its lifetime. */
  expirySkewMs?: number;
  /** Fraction of a token's lifetime after which a request triggers a background refresh. */
  refreshAhead?: number;
  /** Wait between failed fetches: doubles from initialMs up to maxMs, with jitter. */
  backoff?: BackoffOptions;
  /** Source of jitter in [0, 1); injected so tests are repeatable. */
  random?: () => number;
  /** Each fetch's outcome is logged here: failures at most once per backoff step, never per request. */
  logger?: Logger | undefined;
  /** Told each fetch's result: 'ok' or the error code (for metrics), as stats counts it. */
  onFetch?: ((result: string) => void) | undefined;
  /** Told how each getToken was answered; a seam for tests, so the hot path keeps no counters of its own. */
  onDemand?: ((outcome: TokenDemand) => void) | undefined;
  /** Wait at least as long as a failure's Retry-After says: for a source relayed from another process, which keeps its own backoff. */
  honourRetryAfter?: boolean;
  /** At most one token is dropped for an upstream's 401 in this long (see invalidate). */
  rejectionRefetchIntervalMs?: number;
}

export interface TokenProviderStats {
  /** Fetches the IdP answered or failed (one in flight is not counted yet). */
  fetches: number;
  fetchFailures: number;
}

/**
 * How one getToken was answered: from the cache, from the cache while a background
 * refresh starts, by waiting for a fetch, or refused at once inside a backoff step.
 */
export type TokenDemand = 'cached' | 'refreshedAhead' | 'waited' | 'failedFast';

/** The most recent failed fetch, kept after recovery so an operator can see what happened. */
export interface TokenFailure {
  code: string;
  message: string;
  at: number;
}

export type TokenState = { status: 'empty' } | { status: 'valid'; expiresAt: number; obtainedAt: number } | { status: 'expired'; expiresAt: number; obtainedAt: number };

/**
 * When a request will next make the source fetch: the point past which a request starts a
 * background refresh of the current token, or, after a failure, the end of the backoff step.
 * Requests drive both, so they are "from", not "at".
 */
export type NextFetch = { reason: 'refresh' | 'retry'; at: number };

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: DEFAULT_BACKOFF_MS.initial, maxMs: DEFAULT_BACKOFF_MS.max };

/**
 * Owns one token source's token and the whole of its lifecycle: the cache, one fetch in
 * flight for all waiting requests, a background refresh before expiry so steady traffic
 * never waits, backoff after failures so the IdP is never hammered, and dropping a token
 * the upstream rejected. The forwarder only asks "give me the current token". Time comes
 * from the injected clock and nothing runs on a timer: requests drive every step.
 */
export class TokenProvider {
  readonly stats: TokenProviderStats = { fetches: 0, fetchFailures: 0 };
  #current: AccessToken | undefined;
  #inFlight: Promise<AccessToken> | undefined;
  #consecutiveFailures = 0;
  #retryAt = 0;
  #lastError: ProxyError | undefined;
  #lastFailure: TokenFailure | undefined;
  readonly #skewMs: number;
  readonly #refreshAhead: number;
  readonly #backoff: BackoffOptions;
  readonly #random: () => number;
  readonly #logger: Logger | undefined;
  readonly #onFetch: ((result: string) => void) | undefined;
  readonly #onDemand: ((outcome: TokenDemand) => void) | undefined;
  readonly #rejectionRefetchIntervalMs: number;
  readonly #honourRetryAfter: boolean;
  #lastRejectionDropAt = Number.NEGATIVE_INFINITY;
  /** The token last dropped for an upstream's 401, until a fetch replaces it. */
  #rejected: AccessToken | undefined;

  constructor(
    readonly source: TokenSource,
    private readonly clock: Clock,
    options: TokenProviderOptions = {},
  ) {
    this.#skewMs = options.expirySkewMs ?? DEFAULT_EXPIRY_SKEW_MS;
    this.#refreshAhead = options.refreshAhead ?? DEFAULT_REFRESH_AHEAD;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger;
    this.#onFetch = options.onFetch;
    this.#onDemand = options.onDemand;
    this.#rejectionRefetchIntervalMs = options.rejectionRefetchIntervalMs ?? 30_000;
    this.#honourRetryAfter = options.honourRetryAfter ?? false;
  }

  get name(): string {
    return this.source.name;
  }

  getToken(): Promise<AccessToken> {
    const cached = this.cachedToken();
    if (cached) return Promise.resolve(cached);
    const now = this.clock.now();
    if (!this.#inFlight && this.#lastError && now < this.#retryAt) {
      this.#onDemand?.('failedFast');
      return Promise.reject(this.#failFast(this.#lastError, this.#retryAt - now));
    }
    this.#onDemand?.('waited');
    return this.#fetchShared();
  }

  /**
   * getToken's answer when the cache has it (starting a refresh ahead of expiry as getToken
   * does), or undefined when only getToken can answer: a caller with its token in hand
   * goes on in the same tick, without a promise to wait for.
   */
  cachedToken(): AccessToken | undefined {
    const current = this.#current;
    if (!current) return undefined;
    const now = this.clock.now();
    if (!this.#isFresh(current, now)) return undefined;
    if (!this.#inFlight && now >= this.#retryAt && this.#isDueForRefresh(current, now)) {
      this.#onDemand?.('refreshedAhead');
      // Failures are recorded by #fetch and the current token stays in use meanwhile.
      this.#fetchShared().catch(() => undefined);
    } else this.#onDemand?.('cached');
    return current;
  }

  /**
   * Drops a token the upstream refused, so the next getToken fetches another; true when
   * asking again is worth it. Any caller can make an upstream answer 401 (a wrong API key
   * in a query, a resource outside the token's scope), so only one token is dropped per
   * interval: otherwise each such request would cost an IdP fetch, the IdP would start
   * throttling, and every route on this source would fail with it.
   */
  invalidate(token: AccessToken): boolean {
    if (this.#current !== token) return true; // already replaced: the newer token may do
    const now = this.clock.now();
    if (now - this.#lastRejectionDropAt < this.#rejectionRefetchIntervalMs) return false;
    this.#lastRejectionDropAt = now;
    this.#rejected = token;
    this.#current = undefined;
    return true;
  }

  /**
   * A token fresher than the one held: joins the fetch in flight or starts one, unless a
   * failure's backoff step has not passed (then it fails fast, as getToken would). For a
   * primary process answering a worker that is renewing ahead of expiry.
   */
  refresh(): Promise<AccessToken> {
    const now = this.clock.now();
    if (!this.#inFlight && this.#lastError && now < this.#retryAt) return Promise.reject(this.#failFast(this.#lastError, this.#retryAt - now));
    return this.#fetchShared();
  }

  /** The token held now, fresh or not (the same object getToken gives), without fetching. */
  current(): AccessToken | undefined {
    return this.#current;
  }

  state(): TokenState {
    const current = this.#current;
    if (!current) return { status: 'empty' };
    if (this.#isFresh(current, this.clock.now())) return { status: 'valid', expiresAt: current.expiresAt, obtainedAt: current.obtainedAt };
    return { status: 'expired', expiresAt: current.expiresAt, obtainedAt: current.obtainedAt };
  }

  nextFetch(): NextFetch | undefined {
    if (this.#lastError) return { reason: 'retry', at: this.#retryAt };
    const current = this.#current;
    if (!current) return undefined;
    return { reason: 'refresh', at: current.obtainedAt + (current.expiresAt - current.obtainedAt) * this.#refreshAhead };
  }

  /** True while a fetch is under way. */
  isFetching(): boolean {
    return this.#inFlight !== undefined;
  }

  lastFailure(): TokenFailure | undefined {
    return this.#lastFailure;
  }

  /** True from a failed fetch until the next successful one (lastFailure outlives recovery). */
  isFailing(): boolean {
    return this.#lastError !== undefined;
  }

  #isFresh(token: AccessToken, now: number): boolean {
    const skew = Math.min(this.#skewMs, (token.expiresAt - token.obtainedAt) / 10);
    return now < token.expiresAt - skew;
  }

  #isDueForRefresh(token: AccessToken, now: number): boolean {
    return now >= token.obtainedAt + (token.expiresAt - token.obtainedAt) * this.#refreshAhead;
  }

  #fetchShared(): Promise<AccessToken> {
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** One event per finished fetch feeds both the provider's counts and the metrics listener. */
  #fetched(result: string): void {
    this.stats.fetches++;
    if (result !== 'ok') this.stats.fetchFailures++;
    this.#onFetch?.(result);
  }

  async #fetch(): Promise<AccessToken> {
    const startedAt = this.clock.now();
    const ahead = this.#current !== undefined && this.#isFresh(this.#current, startedAt);
    try {
      const token = await this.source.fetchToken({ renewing: ahead ? this.#current : undefined, rejected: this.#rejected });
      this.#current = token;
      this.#rejected = undefined;
      this.#consecutiveFailures = 0;
      this.#retryAt = 0;
      this.#lastError = undefined;
      this.#fetched('ok');
      this.#logger?.info(
        { tokenSource: this.name, result: 'ok', ahead, durationMs: this.clock.now() - startedAt, expiresInS: Math.round((token.expiresAt - token.obtainedAt) / 1000) },
        'token fetched',
      );
      return token;
    } catch (error) {
      this.#consecutiveFailures++;
      // An IdP that said when to come back (429 Retry-After) is not asked sooner, nor later than backoff.max;
      // a source relayed from another process says when that one tries again, and asking sooner is pointless.
      const askedMs = error instanceof RetryLaterError ? Math.min(error.retryAfterMs, this.#backoff.maxMs) : 0;
      const relayedMs = this.#honourRetryAfter ? Number((error as ProxyError).headers?.['retry-after']) * 1000 : 0;
      const delayMs = Math.max(this.#backoffDelay(this.#consecutiveFailures), askedMs, Number.isFinite(relayedMs) ? relayedMs : 0);
      this.#retryAt = this.clock.now() + delayMs;
      this.#lastError = error instanceof ProxyError ? error : new ProxyError('TOKEN_UNAVAILABLE', undefined, { cause: error });
      this.#lastFailure = { code: this.#lastError.code, message: this.#lastError.message, at: this.clock.now() };
      this.#fetched(this.#lastError.code);
      // The message is built from the IdP's error code and description; the cause may hold the
      // request, so it is not logged.
      this.#logger?.warn(
        {
          tokenSource: this.name,
          result: this.#lastError.code,
          ahead,
          durationMs: this.clock.now() - startedAt,
          failures: this.#consecutiveFailures,
          retryInMs: delayMs,
          error: this.#lastError.message,
          ...(ahead ? { cachedTokenValidForMs: this.#current!.expiresAt - this.clock.now() } : {}),
        },
        ahead ? 'token refresh failed; the cached token stays in use' : 'token fetch failed',
      );
      // The requests that waited on this fetch are told the same as those failed fast after it.
      throw this.#failFast(this.#lastError, delayMs);
    }
  }

  /** Doubling from initialMs to maxMs, then between half and all of it ("equal jitter"), so replicas do not retry in step. */
  #backoffDelay(failures: number): number {
    const ceiling = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.#random());
  }

  /** The last failure again, with Retry-After saying when the next attempt will be made. */
  #failFast(error: ProxyError, waitMs: number): ProxyError {
    return new ProxyError(error.code, error.message, { cause: error.cause, headers: { ...error.headers, 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) } });
  }
}
