import type { RouteMetrics } from '../admin/metrics.ts';
import type { Config, TokenSourceConfig } from '../config/schema.ts';
import type { TlsSettings, UpstreamConnections } from '../http/dispatchers.ts';
import { createAuthenticator, type Authenticator } from '../inbound/auth.ts';
import { RouteTable, routesFromConfig } from '../routes/table.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import { sameSourceSettings } from '../tokens/factory.ts';
import { createUpstream, type Upstream } from './upstream.ts';

/**
 * Everything a request needs that comes from the config, built once per config. A reload
 * builds a new one and swaps it in whole; a request keeps the one it started with.
 */
export interface ServingState {
  readonly config: Config;
  /** Each route as an upstream: its token provider, connection pool and rewriting resolved here, not per request. */
  readonly routes: RouteTable<Upstream>;
  readonly authenticator: Authenticator;
  readonly tokenProviders: ReadonlyMap<string, TokenProvider>;
  /** Sources marked prefetch: /readyz waits for them. */
  readonly prefetched: readonly TokenProvider[];
  readonly routeList: { routes: string[] };
}

export interface StateChange {
  state: ServingState;
  /** Token sources whose provider (and cached token) was carried over unchanged. */
  keptSources: string[];
  /** Token sources that are new or whose settings changed: they start without a token. */
  newSources: string[];
}

export type ProviderFactory = (name: string, source: TokenSourceConfig) => TokenProvider;

/** What the state is built from besides the config: how providers, pools and metric series are made. */
export interface StateParts {
  makeProvider: ProviderFactory;
  connectionsFor(tls: TlsSettings, maxConnections: number, origin: string): UpstreamConnections;
  metricsFor(prefix: string): RouteMetrics;
  /** Builds the authenticator for the inbound settings (the server's shares one brute-force throttle across reloads). */
  makeAuthenticator?(inbound: Config['inbound']): Authenticator;
}

/**
 * Builds the state for a config. With the previous state, a token source whose settings
 * are identical keeps its provider, so a reload never costs a token fetch for it.
 */
export function buildServingState(config: Config, parts: StateParts, previous?: ServingState): StateChange {
  const keptSources: string[] = [];
  const newSources: string[] = [];
  const tokenProviders = new Map<string, TokenProvider>();
  for (const [name, source] of Object.entries(config.tokens)) {
    const before = previous?.config.tokens[name];
    const reusable = before !== undefined && sameSourceSettings(before, source) ? previous!.tokenProviders.get(name) : undefined;
    (reusable ? keptSources : newSources).push(name);
    tokenProviders.set(name, reusable ?? parts.makeProvider(name, source));
  }
  // The schema's cross-reference check guarantees every route names a defined source.
  const upstreams = routesFromConfig(config.routes, config.tokens).map((route) =>
    createUpstream(route, tokenProviders.get(route.tokenSource)!, parts.connectionsFor(route.tls, route.maxConnections, route.origin), parts.metricsFor(route.prefix)),
  );
  const routes = new RouteTable(upstreams);
  return {
    state: {
      config,
      routes,
      authenticator: parts.makeAuthenticator?.(config.inbound) ?? createAuthenticator(config.inbound),
      tokenProviders,
      prefetched: [...tokenProviders.values()].filter((provider) => config.tokens[provider.name]!.prefetch),
      routeList: { routes: routes.prefixes },
    },
    keptSources,
    newSources,
  };
}

/**
 * The prefetch sources that hold no token, after asking each for one: a cached token
 * answers at once, an expired one is fetched (within the provider's backoff), so
 * readiness probes also keep idle tokens warm.
 */
export async function sourcesWithoutToken({ prefetched }: ServingState): Promise<string[]> {
  const results = await Promise.allSettled(prefetched.map((provider) => provider.getToken()));
  return prefetched.filter((_, index) => results[index]!.status === 'rejected').map((provider) => provider.name);
}
