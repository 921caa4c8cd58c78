import type { Clock } from '../clock.ts';
import type { TokenSourceConfig } from '../config/schema.ts';
import { ProxyError } from '../errors.ts';
import type { Transport } from '../http/transport.ts';
import type { Logger } from '../log/logger.ts';
import { sourceKind } from './describe.ts';
import { TokenProvider, type TokenProviderOptions } from './provider.ts';
import type { TokenSource } from './token.ts';

export interface TokenProviderDeps {
  /** Decides how the IdP is reached: the source's CA and client certificate, the outbound proxy. */
  transport: Pick<Transport, 'idpFetch'>;
  clock: Clock;
  /** Where a managed identity finds its endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER, …); unset: none of them, so IMDS. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
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
  // A worker's tokens come from the primary process; its kind is still this config's.
  const tokenSource = deps.relayedSource ? { ...deps.relayedSource(name), kind: sourceKind(source, deps.env ?? {}) } : createTokenSource(name, source, deps);
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

/** The TokenSource for a config: a managed identity, or an OAuth grant (client credentials or JWT bearer) with its client authentication. */
export function createTokenSource(name: string, source: TokenSourceConfig, deps: Pick<TokenProviderDeps, 'transport' | 'clock' | 'env'>): TokenSource {
  const env = deps.env ?? {};
  if (source.managedIdentity) {
    // IMDS and the App Service/Arc endpoints are on this host: never through the outbound proxy.
    const fetch = deps.transport.idpFetch({ ca: source.ca, direct: true });
    return deferred(name, sourceKind(source, env), async () => (await import('./managed-identity.ts')).createManagedIdentitySource(name, source, { clock: deps.clock, fetch, env }));
  }
  const unfilled = source.azureWorkloadIdentity ? (['tokenUrl', 'clientId', 'clientAssertionFile'] as const).filter((key) => !source[key] && !(key === 'tokenUrl' && source.issuer)) : [];
  if (unfilled.length > 0) {
    // The loader fills these from AZURE_* variables and refuses a file without them; a config made in code may still lack them.
    const error = new ProxyError(
      'TOKEN_FETCH_FAILED',
      `No access token for "${name}": azureWorkloadIdentity has no ${unfilled.join(', ')} (set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE, or write them)`,
    );
    return { name, kind: 'Azure workload identity (federated token file)', fetchToken: () => Promise.reject(error) };
  }
  const fetch = deps.transport.idpFetch({ ca: source.ca, cert: source.tls?.cert, key: source.tls?.key });
  return deferred(name, sourceKind(source, env), async () => (await import('./client-credentials.ts')).createClientCredentialsSource(name, source, { clock: deps.clock, ...(fetch ? { fetch } : {}) }));
}

/**
 * A source whose implementation loads with its first fetch: openid-client and jose take
 * about 15 MB and a tenth of serve's start, and a proxy that has not had a request yet
 * (or a `--workers` worker, whose tokens come from its primary) needs neither.
 */
function deferred(name: string, kind: string, load: () => Promise<TokenSource>): TokenSource {
  let loaded: Promise<TokenSource> | undefined;
  return {
    name,
    kind,
    fetchToken: async (context) => {
      loaded ??= load().catch((error: unknown) => {
        loaded = undefined;
        throw error;
      });
      return (await loaded).fetchToken(context);
    },
  };
}

/** Both come from the same schema, so their keys are in the same order and JSON compares them exactly. */
export function sameSourceSettings(a: TokenSourceConfig, b: TokenSourceConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
