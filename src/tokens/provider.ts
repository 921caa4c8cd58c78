import type { Clock } from '../clock.ts';
import type { AccessToken, TokenSource } from './token.ts';

export interface TokenProviderOptions {
  /** A token counts as expired this long before its expiry, capped at a tenth of its lifetime. */
  expirySkewMs?: number;
}

export interface TokenProviderStats {
  /** Fetches started at the IdP. */
  fetches: number;
  fetchFailures: number;
  /** getToken calls that had to wait for a fetch (no valid token was cached). */
  waited: number;
  /** getToken calls answered from the cache. */
  cached: number;
}

export type TokenState =
  | { status: 'empty' }
  | { status: 'valid'; expiresAt: number; obtainedAt: number }
  | { status: 'expired'; expiresAt: number };

/**
 * Owns one token source's token: the cache, a single fetch in flight for all waiting
 * requests, and dropping a token the upstream rejected. The forwarder only asks
 * "give me the current token".
 */
export class TokenProvider {
  readonly stats: TokenProviderStats = { fetches: 0, fetchFailures: 0, waited: 0, cached: 0 };
  #current: AccessToken | undefined;
  #inFlight: Promise<AccessToken> | undefined;
  readonly #skewMs: number;

  constructor(
    readonly source: TokenSource,
    private readonly clock: Clock,
    options: TokenProviderOptions = {},
  ) {
    this.#skewMs = options.expirySkewMs ?? 30_000;
  }

  get name(): string {
    return this.source.name;
  }

  getToken(): Promise<AccessToken> {
    const current = this.#current;
    if (current && this.#isFresh(current)) {
      this.stats.cached++;
      return Promise.resolve(current);
    }
    this.stats.waited++;
    return this.#fetchShared();
  }

  /** Drops a token the upstream refused, unless a newer one has already replaced it. */
  invalidate(token: AccessToken): void {
    if (this.#current === token) this.#current = undefined;
  }

  state(): TokenState {
    const current = this.#current;
    if (!current) return { status: 'empty' };
    if (this.#isFresh(current)) return { status: 'valid', expiresAt: current.expiresAt, obtainedAt: current.obtainedAt };
    return { status: 'expired', expiresAt: current.expiresAt };
  }

  #isFresh(token: AccessToken): boolean {
    const skew = Math.min(this.#skewMs, (token.expiresAt - token.obtainedAt) / 10);
    return this.clock.now() < token.expiresAt - skew;
  }

  #fetchShared(): Promise<AccessToken> {
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #fetch(): Promise<AccessToken> {
    this.stats.fetches++;
    try {
      const token = await this.source.fetchToken();
      this.#current = token;
      return token;
    } catch (error) {
      this.stats.fetchFailures++;
      throw error;
    }
  }
}
