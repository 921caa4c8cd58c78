import type { Clock } from '../clock.ts';
import type { RouteTable } from '../routes/table.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import type { RouteMetrics } from './metrics.ts';
import { RecentErrors } from './recent-errors.ts';
import { TrafficByRoute, withTraffic } from './route-traffic.ts';
import { buildStatusModel, type ConfigStatus } from './status-model.ts';
import { renderStatusPage } from './status-page.ts';

/** Everything /_status reports that the proxy gathers while it runs, kept for the server's life (across reloads). */
export interface StatusBoard {
  /** Error answers of the proxy's own, by code. */
  readonly recentErrors: RecentErrors;
  /** A route's metric series that also feeds its traffic window and counts the upstream's 5xx. */
  observe(prefix: string, series: RouteMetrics): RouteMetrics;
  /** How a reload of the config file went: no problems is success. */
  reloadAttempted: (outcome: { reason: string; problems: readonly string[] }) => void;
  /** The page for the state serving now. */
  render(current: { routes: RouteTable; tokenProviders: ReadonlyMap<string, TokenProvider> }): string;
}

export function createStatusBoard(options: { clock: Clock; version: string; configFile?: string | undefined }): StatusBoard {
  const { clock, version } = options;
  const startedAt = clock.now();
  const recentErrors = new RecentErrors(clock);
  // The upstreams' own 5xx by status, beside the proxy's codes.
  const upstreamErrors = new RecentErrors(clock);
  const traffic = new TrafficByRoute(clock);
  const config: ConfigStatus = { file: options.configFile, loadedAt: startedAt };
  return {
    recentErrors,
    observe: (prefix, series) => withTraffic(series, traffic.forRoute(prefix), upstreamErrors),
    reloadAttempted({ reason, problems }) {
      const at = clock.now();
      config.lastReload = { at, reason, problems: [...problems] };
      if (problems.length === 0) config.loadedAt = at;
    },
    render: ({ routes, tokenProviders }) => renderStatusPage(buildStatusModel({ version, startedAt, now: clock.now(), routes, tokenProviders, recentErrors, upstreamErrors, traffic, config })),
  };
}
