import type { Dispatcher } from 'undici';
import type { RouteMetrics } from '../admin/metrics.ts';
import type { UpstreamConnections } from '../http/dispatchers.ts';
import { RewriteRules } from '../odata/rewrite.ts';
import type { Route } from '../routes/table.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import type { UpstreamWait } from './exchange.ts';

/**
 * A route with everything a request to it needs, built once per config: its token
 * provider, its connection pool and its link rewriting. The route table holds these, so
 * a request finds them all in one lookup.
 */
export interface Upstream extends Route {
  readonly tokens: TokenProvider;
  readonly dispatcher: Dispatcher;
  /** The bound on the pool's connections to the upstream, and the route timeout as the most a request waits for one, then for the response head. */
  readonly wait: UpstreamWait;
  /** Its metric series, bound once. */
  readonly metrics: RouteMetrics;
  /** The link rewriting towards this proxy URL for the route; undefined when the route does not rewrite. */
  rewriteRulesFor(proxyBase: string): RewriteRules | undefined;
}

/**
 * The proxy base comes from the request's Host header, which any caller chooses, so the
 * compiled rules are kept for a bounded number of them (starting over when full); almost
 * every request uses the same one as the last, which is answered without a lookup.
 */
const RULES_PER_ROUTE = 16;

/** Route timeouts below this are kept by the exchange itself: undici's coarse timers would stretch them by a tenth or more. */
const PRECISE_TIMEOUT_BELOW_MS = 10_000;

export function createUpstream(route: Route, tokens: TokenProvider, { dispatcher, limit }: UpstreamConnections, metrics: RouteMetrics): Upstream {
  const compiled = new Map<string, RewriteRules>();
  let last: { proxyBase: string; rules: RewriteRules } | undefined;
  const rulesFor = (proxyBase: string): RewriteRules => {
    if (last?.proxyBase === proxyBase) return last.rules;
    let rules = compiled.get(proxyBase);
    if (!rules) {
      if (compiled.size >= RULES_PER_ROUTE) compiled.clear();
      rules = new RewriteRules(route.baseUrl, proxyBase);
      compiled.set(proxyBase, rules);
    }
    last = { proxyBase, rules };
    return rules;
  };
  return {
    ...route,
    tokens,
    dispatcher,
    wait: { limit, timeoutMs: route.timeoutMs, keepsHeadersTimeout: route.timeoutMs < PRECISE_TIMEOUT_BELOW_MS, waited: () => metrics.waitedForConnection() },
    metrics,
    rewriteRulesFor: route.rewriteUrls ? rulesFor : () => undefined,
  };
}
