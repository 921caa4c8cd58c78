import type { Clock } from '../clock.ts';
import type { RouteMetrics } from './metrics.ts';
import type { RecentErrors } from './recent-errors.ts';

const BUCKET_MS = 60_000;

/** Upper bounds of the latency bins, in ms; one more bin holds everything slower. From a local upstream to OData.Feed's 600 s. */
const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000] as const;
const BINS = LATENCY_BOUNDS_MS.length + 1;

// Each minute's counters, side by side in one array: requests, proxy errors, upstream 5xx, then the latency bins.
const REQUESTS = 0;
const PROXY_ERRORS = 1;
const UPSTREAM_5XX = 2;
const FIRST_BIN = 3;
const STRIDE = FIRST_BIN + BINS;

export interface TrafficSummary {
  requests: number;
  /** Answers with an error of the proxy's own (no token, upstream unreachable, …). */
  proxyErrors: number;
  /** 5xx answers the upstream sent, passed through. */
  upstream5xx: number;
  /** Estimated from the latency bins (linear within a bin); undefined without requests. */
  p50Ms?: number;
  p95Ms?: number;
}

/**
 * One route's requests over the last `windowMinutes`, in one-minute buckets of counters
 * and latency bins, for the status page. Recording a request is a few additions into
 * arrays allocated once: it runs for every request.
 */
export class RouteTraffic {
  readonly #minutes: Float64Array;
  readonly #counts: Uint32Array;

  constructor(
    private readonly clock: Clock,
    readonly windowMinutes = 15,
  ) {
    this.#minutes = new Float64Array(windowMinutes).fill(-1);
    this.#counts = new Uint32Array(windowMinutes * STRIDE);
  }

  record(status: number, seconds: number, proxyError: boolean): void {
    const minute = Math.floor(this.clock.now() / BUCKET_MS);
    const slot = minute % this.windowMinutes;
    const base = slot * STRIDE;
    const counts = this.#counts;
    if (this.#minutes[slot] !== minute) {
      counts.fill(0, base, base + STRIDE);
      this.#minutes[slot] = minute;
    }
    counts[base + REQUESTS]!++;
    if (proxyError) counts[base + PROXY_ERRORS]!++;
    else if (status >= 500) counts[base + UPSTREAM_5XX]!++;
    const ms = seconds * 1000;
    let bin = 0;
    while (bin < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[bin]!) bin++;
    counts[base + FIRST_BIN + bin]!++;
  }

  summary(): TrafficSummary {
    const newest = Math.floor(this.clock.now() / BUCKET_MS);
    const bins = new Array<number>(BINS).fill(0);
    const total = { requests: 0, proxyErrors: 0, upstream5xx: 0 };
    for (let slot = 0; slot < this.windowMinutes; slot++) {
      const minute = this.#minutes[slot]!;
      if (minute < 0 || minute <= newest - this.windowMinutes || minute > newest) continue;
      const base = slot * STRIDE;
      total.requests += this.#counts[base + REQUESTS]!;
      total.proxyErrors += this.#counts[base + PROXY_ERRORS]!;
      total.upstream5xx += this.#counts[base + UPSTREAM_5XX]!;
      for (let bin = 0; bin < BINS; bin++) bins[bin]! += this.#counts[base + FIRST_BIN + bin]!;
    }
    if (total.requests === 0) return total;
    return { ...total, p50Ms: quantile(bins, total.requests, 0.5), p95Ms: quantile(bins, total.requests, 0.95) };
  }
}

/** Keeps one window per route prefix for the server's life, so a reload keeps the traffic seen so far. */
export class TrafficByRoute {
  readonly #routes = new Map<string, RouteTraffic>();

  constructor(
    private readonly clock: Clock,
    readonly windowMinutes = 15,
  ) {}

  forRoute(prefix: string): RouteTraffic {
    let traffic = this.#routes.get(prefix);
    if (!traffic) this.#routes.set(prefix, (traffic = new RouteTraffic(this.clock, this.windowMinutes)));
    return traffic;
  }

  summary(prefix: string): TrafficSummary {
    return this.#routes.get(prefix)?.summary() ?? { requests: 0, proxyErrors: 0, upstream5xx: 0 };
  }
}

/**
 * A route's metric series that also feeds its traffic window, and counts the upstream's own
 * 5xx answers (by status) beside the proxy's error codes.
 */
export function withTraffic(series: RouteMetrics, traffic: RouteTraffic, upstreamErrors: RecentErrors): RouteMetrics {
  return {
    requestFinished(status, seconds, proxyError) {
      series.requestFinished(status, seconds, proxyError);
      traffic.record(status, seconds, proxyError === true);
      if (!proxyError && status >= 500) upstreamErrors.record(String(status));
    },
    upstreamResponded: (seconds) => series.upstreamResponded(seconds),
    rewritten: (bytes) => series.rewritten(bytes),
    waitedForConnection: () => series.waitedForConnection(),
  };
}

/** The q-quantile of binned latencies, interpolated linearly inside its bin (the slowest bin reports its lower bound). */
function quantile(bins: readonly number[], total: number, q: number): number {
  const rank = q * total;
  let below = 0;
  for (let bin = 0; bin < bins.length; bin++) {
    const count = bins[bin]!;
    if (count > 0 && below + count >= rank) {
      const lower = bin === 0 ? 0 : LATENCY_BOUNDS_MS[bin - 1]!;
      const upper = LATENCY_BOUNDS_MS[bin];
      if (upper === undefined) return lower;
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return LATENCY_BOUNDS_MS.at(-1)!;
}
