import type { RouteTable } from '../routes/table.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import type { RecentErrors } from './recent-errors.ts';
import type { TrafficByRoute } from './route-traffic.ts';
import type { StatusModel } from './status-page.ts';

/** The config file and how its reloads went; the server keeps it, the CLI's reload reports into it. */
export interface ConfigStatus {
  file: string | undefined;
  /** When the config now serving was loaded (start, or the last successful reload). */
  loadedAt: number;
  lastReload?: { at: number; reason: string; problems: string[] };
}

export interface StatusSources {
  version: string;
  startedAt: number;
  now: number;
  routes: RouteTable;
  tokenProviders: ReadonlyMap<string, TokenProvider>;
  recentErrors: RecentErrors;
  /** The upstreams' own 5xx answers, by status. */
  upstreamErrors?: RecentErrors;
  traffic?: TrafficByRoute;
  config?: ConfigStatus;
}

/**
 * What /_status shows, read from the running proxy. Only names, targets (origin and path,
 * never userinfo), states, times, counts and error codes and messages: nothing secret.
 */
export function buildStatusModel(sources: StatusSources): StatusModel {
  return {
    version: sources.version,
    startedAt: sources.startedAt,
    now: sources.now,
    config: sources.config ? { ...sources.config } : { file: undefined, loadedAt: sources.startedAt },
    routes: sources.routes.routes.map((route) => ({ prefix: route.prefix, target: route.baseUrl, tokenSource: route.tokenSource, rewriteUrls: route.rewriteUrls })),
    traffic: sources.routes.routes.map((route) => ({ prefix: route.prefix, ...(sources.traffic?.summary(route.prefix) ?? { requests: 0, proxyErrors: 0, upstream5xx: 0 }) })),
    trafficWindowMinutes: sources.traffic?.windowMinutes ?? 15,
    tokenSources: [...sources.tokenProviders.values()].map((provider) => {
      const state = provider.state();
      const failure = provider.lastFailure();
      const kind = provider.source.kind;
      const next = provider.nextFetch();
      return {
        name: provider.name,
        ...(kind ? { kind } : {}),
        // No token and the last fetch failed: requests are being refused, unlike a source not used yet.
        state: state.status === 'empty' && provider.isFailing() ? 'failing' : state.status,
        ...(state.status === 'empty' ? {} : { obtainedAt: state.obtainedAt, expiresAt: state.expiresAt }),
        ...(next ? { nextFetch: next } : {}),
        ...(provider.isFetching() ? { fetching: true } : {}),
        fetches: provider.stats.fetches,
        fetchFailures: provider.stats.fetchFailures,
        ...(failure ? { lastFailure: failure } : {}),
      };
    }),
    errors: [
      ...sources.recentErrors.summary().map((entry) => ({ ...entry, origin: 'proxy' as const })),
      ...(sources.upstreamErrors?.summary() ?? []).map((entry) => ({ ...entry, origin: 'upstream' as const })),
    ],
    errorWindowMinutes: sources.recentErrors.windowMinutes,
  };
}
