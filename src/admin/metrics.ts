import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { TokenProvider } from '../tokens/provider.ts';

/** Label for requests that matched no route, so paths never become label values. */
export const NO_ROUTE_LABEL = '(none)';

/** Seconds; from a fast local upstream to OData.Feed's 600 s patience. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface ProxyMetrics {
  readonly registry: Registry;
  requestStarted(): void;
  requestFinished(route: string | undefined, status: number, seconds: number): void;
  upstreamResponded(route: string, seconds: number): void;
  tokenFetched(source: string, result: string): void;
  rewritten(route: string, bytes: number): void;
  configReloaded(result: 'ok' | 'failed'): void;
  authFailed(code: 'AUTH_INVALID' | 'AUTH_REQUIRED'): void;
}

/**
 * One registry per proxy instance (no prom-client global), so two proxies in one process,
 * as in tests, never share counters. Label values are route prefixes, token source names,
 * status codes and error codes: all bounded by the config.
 */
/** tokenProviders is asked at each scrape, so a reload's new sources show up. */
export function createMetrics(tokenProviders: () => ReadonlyMap<string, TokenProvider>, clock: Clock): ProxyMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bearer_proxy_' });
  const requests = new Counter({ name: 'bearer_proxy_requests_total', help: 'Requests answered, by route and HTTP status.', labelNames: ['route', 'status'], registers: [registry] });
  const duration = new Histogram({
    name: 'bearer_proxy_request_duration_seconds',
    help: 'Time from request to the end of the response, by route.',
    labelNames: ['route'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const upstream = new Histogram({
    name: 'bearer_proxy_upstream_duration_seconds',
    help: 'Time until the upstream sent response headers, by route.',
    labelNames: ['route'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const inFlight = new Gauge({ name: 'bearer_proxy_requests_in_flight', help: 'Requests being served now.', registers: [registry] });
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
  const rewrittenBytes = new Counter({
    name: 'bearer_proxy_rewritten_bytes_total',
    help: 'Response body bytes that went through URL rewriting, by route.',
    labelNames: ['route'],
    registers: [registry],
  });

  const reloads = new Counter({ name: 'bearer_proxy_config_reloads_total', help: 'Config reloads, by result (ok or failed).', labelNames: ['result'], registers: [registry] });

  const authFailures = new Counter({
    name: 'bearer_proxy_auth_failures_total',
    help: 'Requests refused for missing (AUTH_REQUIRED) or wrong (AUTH_INVALID) Basic credentials.',
    labelNames: ['code'],
    registers: [registry],
  });

  return {
    registry,
    requestStarted: () => inFlight.inc(),
    requestFinished(route, status, seconds) {
      inFlight.dec();
      const label = route ?? NO_ROUTE_LABEL;
      requests.inc({ route: label, status: String(status) });
      duration.observe({ route: label }, seconds);
    },
    upstreamResponded: (route, seconds) => upstream.observe({ route }, seconds),
    tokenFetched: (source, result) => fetches.inc({ source, result }),
    rewritten: (route, bytes) => rewrittenBytes.inc({ route }, bytes),
    configReloaded: (result) => reloads.inc({ result }),
    authFailed: (code) => authFailures.inc({ code }),
  };
}
