import type { Clock } from '../clock.ts';
import type { TokenSourceConfig } from '../config/schema.ts';
import type { Transport } from '../http/transport.ts';
import type { Logger } from '../log/logger.ts';
import { createClientCredentialsSource } from './client-credentials.ts';
import { TokenProvider, type TokenProviderOptions } from './provider.ts';
import type { TokenSource } from './token.ts';

export interface TokenProviderDeps {
  /** Decides how the IdP is reached: the source's CA, the outbound proxy. */
  transport: Pick<Transport, 'idpFetch'>;
  clock: Clock;
  logger?: Logger | undefined;
  /** Told each fetch's result, 'ok' or the error code, from the same event as the provider's own counts. */
  onFetch?: ((source: string, result: string) => void) | undefined;
  /** Per-request outcomes (a test seam; nothing in the product listens). */
  onDemand?: TokenProviderOptions['onDemand'];
  /** Where tokens come from instead of the IdP: a `--workers` worker asks the primary process. */
  relayedSource?: ((name: string) => TokenSource) | undefined;
}

/**
 * The one place a token source's config becomes a working provider: `serve`, `check` and
 * `token` all build theirs here, so they fetch the same way. Settings come from the
 * schema, which holds every default.
 */
export function createTokenProvider(name: string, source: TokenSourceConfig, deps: TokenProviderDeps): TokenProvider {
  const tokenSource = deps.relayedSource?.(name) ?? idpSource(name, source, deps);
  // A relayed source's fetches are the primary's to log and count; the worker's would read as IdP calls that never happened.
  const relayed = deps.relayedSource !== undefined;
  return new TokenProvider(tokenSource, deps.clock, {
    refreshAhead: source.refreshAhead,
    backoff: { initialMs: source.backoff.initial, maxMs: source.backoff.max },
    logger: relayed ? undefined : deps.logger,
    onFetch: relayed ? undefined : deps.onFetch && ((result) => deps.onFetch!(name, result)),
    honourRetryAfter: relayed,
    onDemand: deps.onDemand,
  });
}

function idpSource(name: string, source: TokenSourceConfig, deps: TokenProviderDeps): TokenSource {
  const fetch = deps.transport.idpFetch(source.ca);
  return createClientCredentialsSource(name, source, { clock: deps.clock, ...(fetch ? { fetch } : {}) });
}

/** Both come from the same schema, so their keys are in the same order and JSON compares them exactly. */
export function sameSourceSettings(a: TokenSourceConfig, b: TokenSourceConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
