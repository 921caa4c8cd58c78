import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { BoundCounter } from './bound-counter.ts';
import { BoundHistogram } from './bound-histogram.ts';
import type { Clock } from '../clock.ts';
import type { TokenProvider } from '../tokens/provider.ts';

/** Label for requests that matched no route, so paths never become label values. */
export const NO_ROUTE_LABEL = '(none)';

/** Seconds; from a fast local upstream to OData.Feed's 600 s patience. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * The series of one route (or of requests that matched none), bound once: prom-client
 * hashes a label set on every call, even through labels(), which cost more per request
 * than all of them (hence BoundCounter and BoundHistogram).
 */
export interface RouteMetrics {
  /** proxyError: the answer is an error of the proxy's own, not the upstream's (or the route list's). */
  requestFinished(status: number, seconds: number, proxyError?: boolean): void;
  upstreamResponded(seconds: number): void;
  rewritten(bytes: number): void;
  /** A request found every connection to the upstream busy (the route's maxConnections) and waited for one. */
  waitedForConnection(): void;
}

export interface ProxyMetrics {
  readonly registry: Registry;
  requestStarted(): void;
  /** The bound series of a route prefix; each upstream keeps its own. */
  forRoute: (prefix: string) => RouteMetrics;
  /** Requests that matched no route. */
  readonly unrouted: RouteMetrics;
  tokenFetched: (source: string, result: string) => void;
  configReloaded(result: 'ok' | 'failed'): void;
  authFailed(code: 'AUTH_INVALID' | 'AUTH_REQUIRED' | 'AUTH_THROTTLED'): void;
  authThrottled: (by: 'address' | 'user', action: 'delayed' | 'refused') => void;
}

/**
 * One registry per proxy instance (no prom-client global), so two proxies in one process,
 * as in tests, never share counters. Label values are route prefixes, token source names,
 * status codes and error codes: all bounded by the config.
 */
/** tokenProviders is asked at each scrape, so a reload's new sources show up. */
export function createMetrics(tokenProviders: () => ReadonlyMap<string, TokenProvider>, clock: Clock, gauges: { replayBufferedBytes?: () => number } = {}): ProxyMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bearer_proxy_' });
  const requests = new BoundCounter('bearer_proxy_requests_total', 'Requests answered, by route and HTTP status.', ['route', 'status']);
  registry.registerMetric(requests as never);
  const duration = new BoundHistogram('bearer_proxy_request_duration_seconds', 'Time from request to the end of the response, by route.', 'route', DURATION_BUCKETS);
  const upstream = new BoundHistogram('bearer_proxy_upstream_duration_seconds', 'Time until the upstream sent response headers, by route.', 'route', DURATION_BUCKETS);
  registry.registerMetric(duration as never);
  registry.registerMetric(upstream as never);
  // A plain number on the request path, read at each scrape.
  let inFlight = 0;
  new Gauge({
    name: 'bearer_proxy_requests_in_flight',
    help: 'Requests being served now.',
    registers: [registry],
    collect() {
      this.set(inFlight);
    },
  });
  const fetches = new Counter({
    name: 'bearer_proxy_token_fetches_total',
    help: 'Token requests to the IdP, by token source and result (ok or the error code).',
    labelNames: ['source', 'result'],
    registers: [registry],
  });
  new Gauge({
    name: 'bearer_proxy_token_expiry_seconds',
    help: 'Seconds until the cached token of each source expires (negative: expired; absent: none fetched yet).',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const provider of tokenProviders().values()) {
        const state = provider.state();
        if (state.status !== 'empty') this.set({ source: provider.name }, (state.expiresAt - clock.now()) / 1000);
      }
    },
  });
  const rewrittenBytes = new BoundCounter('bearer_proxy_rewritten_bytes_total', 'Response body bytes that went through URL rewriting, by route.', ['route']);
  registry.registerMetric(rewrittenBytes as never);
  const connectionWaits = new BoundCounter(
    'bearer_proxy_upstream_connection_waits_total',
    "Requests that found every connection to the upstream busy (the route's maxConnections) and waited for one, by route.",
    ['route'],
  );
  registry.registerMetric(connectionWaits as never);

  new Gauge({
    name: 'bearer_proxy_replay_buffered_bytes',
    help: 'Bytes of request bodies held in memory now, so they can be sent again after an upstream 401 (bounded by the replay budget).',
    registers: [registry],
    collect() {
      this.set(gauges.replayBufferedBytes?.() ?? 0);
    },
  });

  const reloads = new Counter({ name: 'bearer_proxy_config_reloads_total', help: 'Config reloads, by result (ok or failed).', labelNames: ['result'], registers: [registry] });

  const authFailures = new Counter({
    name: 'bearer_proxy_auth_failures_total',
    help: 'Requests refused for missing (AUTH_REQUIRED) or wrong (AUTH_INVALID) Basic credentials, or after too many wrong ones (AUTH_THROTTLED).',
    labelNames: ['code'],
    registers: [registry],
  });

  const forRoute = (route: string): RouteMetrics => {
    // By status code; a route sees only a handful of them.
    const byStatus = new Map<number, (by?: number) => void>();
    const observeDuration = duration.bind(route);
    const observeUpstream = upstream.bind(route);
    return {
      requestFinished(status, seconds) {
        inFlight--;
        let count = byStatus.get(status);
        if (!count) byStatus.set(status, (count = requests.bind(route, String(status))));
        count();
        observeDuration(seconds);
      },
      upstreamResponded: observeUpstream,
      rewritten: rewrittenBytes.bind(route),
      waitedForConnection: connectionWaits.bind(route),
    };
  };

  const throttled = new Counter({
    name: 'bearer_proxy_auth_throttled_total',
    help: 'Basic-auth attempts held back by brute-force throttling: by client address or user name, delayed or refused (429).',
    labelNames: ['by', 'action'],
    registers: [registry],
  });

  return {
    registry,
    requestStarted: () => void inFlight++,
    forRoute,
    unrouted: forRoute(NO_ROUTE_LABEL),
    tokenFetched: (source, result) => fetches.inc({ source, result }),
    configReloaded: (result) => reloads.inc({ result }),
    authFailed: (code) => authFailures.inc({ code }),
    authThrottled: (by, action) => throttled.inc({ by, action }),
  };
}
