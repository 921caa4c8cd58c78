import type { RouteTable } from '../routes/table.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import type { RecentErrors } from './recent-errors.ts';
import type { StatusModel } from './status-page.ts';

export interface StatusSources {
  version: string;
  startedAt: number;
  now: number;
  routes: RouteTable;
  tokenProviders: ReadonlyMap<string, TokenProvider>;
  recentErrors: RecentErrors;
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
    routes: sources.routes.routes.map((route) => ({ prefix: route.prefix, target: route.baseUrl, tokenSource: route.tokenSource, rewriteUrls: route.rewriteUrls })),
    tokenSources: [...sources.tokenProviders.values()].map((provider) => {
      const state = provider.state();
      const failure = provider.lastFailure();
      const kind = provider.source.kind;
      return {
        name: provider.name,
        ...(kind ? { kind } : {}),
        // No token and the last fetch failed: requests are being refused, unlike a source not used yet.
        state: state.status === 'empty' && provider.isFailing() ? 'failing' : state.status,
        ...(state.status === 'empty' ? {} : { expiresAt: state.expiresAt }),
        fetches: provider.stats.fetches,
        fetchFailures: provider.stats.fetchFailures,
        ...(failure ? { lastFailure: failure } : {}),
      };
    }),
    errors: sources.recentErrors.summary(),
    errorWindowMinutes: sources.recentErrors.windowMinutes,
  };
}
