import t from 'tap';
import { Agent } from 'undici';
import { configSchema } from '../../src/config/schema.ts';
import { createMetrics } from '../../src/admin/metrics.ts';
import { ConnectionLimit } from '../../src/http/connection-limit.ts';
import { createUpstream } from '../../src/proxy/upstream.ts';
import { routesFromConfig } from '../../src/routes/table.ts';
import { TokenProvider } from '../../src/tokens/provider.ts';

const series = createMetrics(() => new Map(), { now: () => 0 }).forRoute('/sales');
const provider = new TokenProvider({ name: 'lake', fetchToken: async () => ({ value: 'v', tokenType: 'bearer', obtainedAt: 0, expiresAt: 1 }) }, { now: () => 0 });
const connections = (agent: Agent) => ({ dispatcher: agent, limit: new ConnectionLimit('https://api.test', 64) });
const routeOf = (route: Record<string, unknown>) =>
  routesFromConfig(configSchema.parse({ tokens: { lake: { tokenUrl: 'https://idp.test/t', clientId: 'c', clientSecret: 's' } }, routes: { '/sales': { token: 'lake', ...route } } }).routes)[0]!;

t.test('an upstream is its route plus the provider and pool it was built with', async (t) => {
  const agent = new Agent();
  t.teardown(() => agent.close());
  const limit = new ConnectionLimit('https://api.test', 8);
  const upstream = createUpstream(routeOf({ target: 'https://api.test/odata/v4/sales/', timeout: '90s', maxConnections: 8 }), provider, { dispatcher: agent, limit }, series);
  t.same([upstream.prefix, upstream.origin, upstream.basePath, upstream.baseUrl], ['/sales', 'https://api.test', '/odata/v4/sales', 'https://api.test/odata/v4/sales']);
  t.equal(upstream.tokens, provider);
  t.equal(upstream.dispatcher, agent);
  t.equal(upstream.maxConnections, 8);
  t.match(upstream.wait, { limit, timeoutMs: 90_000, keepsHeadersTimeout: false }, 'a request waits for a connection at most the route timeout; undici keeps a long one for the head');
  const short = createUpstream(routeOf({ target: 'https://api.test/', timeout: '9.5s' }), provider, { dispatcher: agent, limit }, series);
  t.match(short.wait, { timeoutMs: 9_500, keepsHeadersTimeout: true }, 'a short one the exchange keeps itself, to the millisecond');
  let waits = 0;
  const counting = createUpstream(routeOf({ target: 'https://api.test/odata/v4/sales/' }), provider, { dispatcher: agent, limit }, { ...series, waitedForConnection: () => void waits++ });
  counting.wait.waited();
  t.equal(waits, 1, 'a wait is counted in the route’s series');
});

t.test('rewrite rules: compiled once per proxy URL, bounded, and none for a route that does not rewrite', async (t) => {
  const agent = new Agent();
  t.teardown(() => agent.close());
  const upstream = createUpstream(routeOf({ target: 'https://api.test/odata' }), provider, connections(agent), series);
  const first = upstream.rewriteRulesFor('http://localhost:8080/sales')!;
  t.equal(first.rewriteUrl('https://api.test/odata/Orders'), 'http://localhost:8080/sales/Orders');
  t.equal(upstream.rewriteRulesFor('http://localhost:8080/sales'), first, 'the same proxy URL reuses the compiled rules');
  const other = upstream.rewriteRulesFor('http://127.0.0.1:8080/sales')!;
  t.equal(other.rewriteUrl('https://api.test/odata/Orders'), 'http://127.0.0.1:8080/sales/Orders', 'each Host the proxy is reached by gets its own');
  t.equal(upstream.rewriteRulesFor('http://localhost:8080/sales'), first, 'and both are kept');
  // Any caller picks the Host header: many different ones must not grow memory without bound.
  for (let i = 0; i < 40; i++) upstream.rewriteRulesFor(`http://host-${i}.test/sales`);
  t.not(upstream.rewriteRulesFor('http://localhost:8080/sales'), first, 'the cache started over when full');

  const plain = createUpstream(routeOf({ target: 'https://api.test/odata', rewriteUrls: false }), provider, connections(agent), series);
  t.equal(plain.rewriteRulesFor('http://localhost:8080/sales'), undefined);
});
