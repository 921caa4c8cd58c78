import t from 'tap';
import { createMetrics, NO_ROUTE_LABEL } from '../../src/admin/metrics.ts';
import { TokenProvider } from '../../src/tokens/provider.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';

function clockAt(now: number) {
  return { now: () => now };
}

t.test('counts, histograms and token expiry in valid exposition text', async (t) => {
  const clock = clockAt(1_000_000);
  const provider = new TokenProvider({ name: 'lake', fetchToken: async () => ({ value: 'v', tokenType: 'bearer', obtainedAt: 1_000_000, expiresAt: 1_300_000 }) }, clock);
  await provider.getToken();
  const metrics = createMetrics(
    () =>
      new Map([
        ['lake', provider],
        [
          'idle',
          new TokenProvider(
            {
              name: 'idle',
              fetchToken: async () => {
                throw new Error('unused');
              },
            },
            clock,
          ),
        ],
      ]),
    clock,
  );
  metrics.requestStarted();
  metrics.requestStarted();
  const sales = metrics.forRoute('/sales');
  sales.requestFinished(200, 0.02);
  metrics.unrouted.requestFinished(404, 0.001);
  sales.upstreamResponded(0.015);
  metrics.tokenFetched('lake', 'ok');
  metrics.tokenFetched('lake', 'TOKEN_UNAVAILABLE');
  sales.rewritten(2048);
  sales.waitedForConnection();
  sales.waitedForConnection();

  const samples = parsePrometheusText(await metrics.registry.metrics());
  t.equal(sampleValue(samples, 'bearer_proxy_requests_total', { route: '/sales', status: '200' }), 1);
  t.equal(sampleValue(samples, 'bearer_proxy_requests_total', { route: NO_ROUTE_LABEL, status: '404' }), 1, 'unrouted requests share one label value');
  t.equal(sampleValue(samples, 'bearer_proxy_requests_in_flight'), 0, 'both finished');
  t.equal(sampleValue(samples, 'bearer_proxy_request_duration_seconds_bucket', { route: '/sales', le: '0.025' }), 1);
  t.equal(sampleValue(samples, 'bearer_proxy_request_duration_seconds_bucket', { route: '/sales', le: '0.01' }), 0);
  t.equal(sampleValue(samples, 'bearer_proxy_upstream_duration_seconds_count', { route: '/sales' }), 1);
  t.equal(sampleValue(samples, 'bearer_proxy_token_fetches_total', { source: 'lake', result: 'ok' }), 1);
  t.equal(sampleValue(samples, 'bearer_proxy_token_fetches_total', { source: 'lake', result: 'TOKEN_UNAVAILABLE' }), 1);
  t.equal(sampleValue(samples, 'bearer_proxy_token_expiry_seconds', { source: 'lake' }), 300);
  t.equal(sampleValue(samples, 'bearer_proxy_token_expiry_seconds', { source: 'idle' }), undefined, 'no value for a source without a token');
  t.equal(sampleValue(samples, 'bearer_proxy_rewritten_bytes_total', { route: '/sales' }), 2048);
  t.equal(sampleValue(samples, 'bearer_proxy_upstream_connection_waits_total', { route: '/sales' }), 2);
  t.equal(sampleValue(samples, 'bearer_proxy_upstream_connection_waits_total', { route: NO_ROUTE_LABEL }), undefined, 'a series appears once it has counted');
  t.ok((sampleValue(samples, 'bearer_proxy_process_resident_memory_bytes') ?? 0) > 0, 'process metrics are included');
});

t.test('a route’s bound series count per status code', async (t) => {
  const metrics = createMetrics(() => new Map(), clockAt(0));
  const api = metrics.forRoute('/api');
  for (const status of [200, 200, 404, 200, 502]) {
    metrics.requestStarted();
    api.requestFinished(status, 0.001);
  }
  const samples = parsePrometheusText(await metrics.registry.metrics());
  t.same(
    ['200', '404', '502'].map((status) => sampleValue(samples, 'bearer_proxy_requests_total', { route: '/api', status })),
    [3, 1, 1],
  );
  t.equal(sampleValue(samples, 'bearer_proxy_request_duration_seconds_count', { route: '/api' }), 5);
  t.equal(sampleValue(samples, 'bearer_proxy_rewritten_bytes_total', { route: '/api' }), undefined, 'binding a series shows nothing until it counts');
});

t.test('two instances never share counters', async (t) => {
  const clock = clockAt(0);
  const first = createMetrics(() => new Map(), clock);
  const second = createMetrics(() => new Map(), clock);
  first.forRoute('/a').requestFinished(200, 0.1);
  t.equal(sampleValue(parsePrometheusText(await second.registry.metrics()), 'bearer_proxy_requests_total', { route: '/a' }), undefined);
});

t.test('the parser used here refuses what is not exposition text', async (t) => {
  t.throws(() => parsePrometheusText('metric 1'), /end with a newline/);
  t.throws(() => parsePrometheusText('no_type 1\n'), /before its TYPE/);
  t.throws(() => parsePrometheusText('# TYPE m counter\nm{a="x} 1\n'), /bad labels/);
  t.throws(() => parsePrometheusText('# TYPE m counter\nm one\n'), /bad value/);
  t.same(parsePrometheusText('# TYPE m counter\nm{a="q\\"uote",b="2"} 3\n'), [{ name: 'm', labels: { a: 'q"uote', b: '2' }, value: 3 }]);
});
