import t from 'tap';
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import { Agent } from 'undici';
import { ConnectionLimit } from '../../src/http/connection-limit.ts';
import type { TlsSettings } from '../../src/http/dispatchers.ts';
import { createMetrics } from '../../src/admin/metrics.ts';
import { buildServingState } from '../../src/proxy/serving-state.ts';
import { TokenProvider } from '../../src/tokens/provider.ts';

const clock = { now: () => 0 };
const source = (clientId: string) => ({ tokenUrl: 'https://idp.example/token', clientId, clientSecret: 's' });
const parse = (input: ConfigInput) => configSchema.parse(input);
const made: string[] = [];
const pools = new Map<string, Agent>();
/** One pool per distinct CA, as the real DispatcherPool keeps them. */
const connectionsFor = (tls: TlsSettings, maxConnections: number, origin: string) => {
  const key = tls.ca ?? '';
  if (!pools.has(key)) pools.set(key, new Agent());
  return { dispatcher: pools.get(key)!, limit: new ConnectionLimit(origin, maxConnections) };
};
const factory = (name: string) => {
  made.push(name);
  return new TokenProvider({ name, fetchToken: async () => ({ value: name, tokenType: 'bearer', obtainedAt: 0, expiresAt: 1 }) }, clock);
};

const metrics = createMetrics(() => new Map(), clock);
const parts = { makeProvider: factory, connectionsFor, metricsFor: metrics.forRoute };

t.test('a rebuilt state keeps the providers of unchanged token sources only', async (t) => {
  const first = buildServingState(parse({ tokens: { a: source('a'), b: source('b') }, routes: { '/x': { target: 'https://up.example', token: 'a' } } }), parts);
  t.same([first.keptSources, first.newSources], [[], ['a', 'b']]);
  t.same(first.state.routeList, { routes: ['/x'] });

  const second = buildServingState(
    parse({
      tokens: { a: source('a'), b: { ...source('b'), scope: 'changed' }, c: { ...source('c'), prefetch: true } },
      routes: { '/x': { target: 'https://up.example', token: 'a' }, '/y/z': { target: 'https://up.example/z', token: 'c' } },
    }),
    parts,
    first.state,
  );
  t.same([second.keptSources, second.newSources], [['a'], ['b', 'c']], 'b changed, c is new');
  t.equal(second.state.tokenProviders.get('a'), first.state.tokenProviders.get('a'), 'the same provider object, with its cached token');
  t.not(second.state.tokenProviders.get('b'), first.state.tokenProviders.get('b'));
  t.same(
    second.state.prefetched.map((provider) => provider.name),
    ['c'],
  );
  t.same([...second.state.routes.prefixes].sort(), ['/x', '/y/z'], 'the new routes');
  t.same(made, ['a', 'b', 'b', 'c'], 'providers made only for new or changed sources');
  t.equal(first.state.routes.prefixes.length, 1, 'the old state is untouched for requests still using it');
  const upstream = (prefix: string) => second.state.routes.routes.find((route) => route.prefix === prefix)!;
  t.equal(upstream('/x').dispatcher, upstream('/y/z').dispatcher, 'routes without TLS settings share one pool');
  t.equal(upstream('/y/z').tokens, second.state.tokenProviders.get('c'), 'each upstream holds its own source’s provider');
  t.teardown(() => Promise.all([...pools.values()].map((pool) => pool.close())));
});
