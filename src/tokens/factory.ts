import type { Clock } from '../clock.ts';
import type { TokenSourceConfig } from '../config/schema.ts';
import type { Transport } from '../http/transport.ts';
import type { Logger } from '../log/logger.ts';
import { createClientCredentialsSource } from './client-credentials.ts';
import { TokenProvider, type TokenProviderOptions } from './provider.ts';

export interface TokenProviderDeps {
  /** Decides how the IdP is reached: the source's CA, the outbound proxy. */
  transport: Pick<Transport, 'idpFetch'>;
  clock: Clock;
  logger?: Logger | undefined;
  /** Told each fetch's result, 'ok' or the error code, from the same event as the provider's own counts. */
  onFetch?: ((source: string, result: string) => void) | undefined;
  /** Per-request outcomes (a test seam; nothing in the product listens). */
  onDemand?: TokenProviderOptions['onDemand'];
}

/**
 * The one place a token source's config becomes a working provider: `serve`, `check` and
 * `token` all build theirs here, so they fetch the same way. Settings come from the
 * schema, which holds every default.
 */
export function createTokenProvider(name: string, source: TokenSourceConfig, deps: TokenProviderDeps): TokenProvider {
  const fetch = deps.transport.idpFetch(source.ca);
  const tokenSource = createClientCredentialsSource(name, source, { clock: deps.clock, ...(fetch ? { fetch } : {}) });
  return new TokenProvider(tokenSource, deps.clock, {
    refreshAhead: source.refreshAhead,
    backoff: { initialMs: source.backoff.initial, maxMs: source.backoff.max },
    logger: deps.logger,
    onFetch: deps.onFetch && ((result) => deps.onFetch!(name, result)),
    onDemand: deps.onDemand,
  });
}
