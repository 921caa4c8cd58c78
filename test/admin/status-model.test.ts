import t from 'tap';
import { RecentErrors } from '../../src/admin/recent-errors.ts';
import { TrafficByRoute, withTraffic } from '../../src/admin/route-traffic.ts';
import { buildStatusModel } from '../../src/admin/status-model.ts';
import { configSchema } from '../../src/config/schema.ts';
import { ProxyError } from '../../src/errors.ts';
import { RouteTable } from '../../src/routes/table.ts';
import { TokenProvider } from '../../src/tokens/provider.ts';

t.test('the model holds names, targets, token states and errors, and no secret', async (t) => {
  let now = 1_000_000;
  const clock = { now: () => now };
  const config = configSchema.parse({
    tokens: { lake: { tokenUrl: 'https://idp.example/token', clientId: 'c', clientSecret: 'the-client-secret' } },
    routes: { '/sales': { target: 'https://lake.example/odata/', token: 'lake', rewriteUrls: false } },
  });
  const good = new TokenProvider(
    { name: 'lake', kind: 'managed identity (IMDS)', fetchToken: async () => ({ value: 'the-access-token', tokenType: 'bearer', obtainedAt: now, expiresAt: now + 60_000 }) },
    clock,
  );
  await good.getToken();
  const failing = new TokenProvider(
    {
      name: 'down',
      fetchToken: async () => {
        throw new ProxyError('TOKEN_UNAVAILABLE', 'the IdP refused the connection');
      },
    },
    clock,
  );
  await failing.getToken().catch(() => undefined);
  const recentErrors = new RecentErrors(clock);
  recentErrors.record('TOKEN_UNAVAILABLE');
  now += 5_000;

  const model = buildStatusModel({
    version: '1.0.0',
    startedAt: 0,
    now,
    routes: RouteTable.fromConfig(config.routes),
    tokenProviders: new Map([
      ['lake', good],
      ['down', failing],
    ]),
    recentErrors,
  });
  t.same(model.routes, [{ prefix: '/sales', target: 'https://lake.example/odata', tokenSource: 'lake', rewriteUrls: false }], 'the target as upstream links spell it');
  t.same(
    model.tokenSources[0],
    { name: 'lake', kind: 'managed identity (IMDS)', state: 'valid', obtainedAt: 1_000_000, expiresAt: 1_060_000, nextFetch: { reason: 'refresh', at: 1_048_000 }, fetches: 1, fetchFailures: 0 },
    'with its kind; fetched, expires, refreshed from 80% of its life',
  );
  const down = model.tokenSources[1]!;
  t.same(
    { ...down, nextFetch: undefined },
    { name: 'down', state: 'failing', nextFetch: undefined, fetches: 1, fetchFailures: 1, lastFailure: { code: 'TOKEN_UNAVAILABLE', message: 'the IdP refused the connection', at: 1_000_000 } },
  );
  t.equal(down.nextFetch?.reason, 'retry');
  t.ok(down.nextFetch!.at > 1_000_000 && down.nextFetch!.at <= 1_001_000, 'retried once the first backoff step (up to 1 s, jittered) has passed');
  t.same(model.errors, [{ code: 'TOKEN_UNAVAILABLE', origin: 'proxy', total: 1, recent: 1 }]);
  t.same(model.config, { file: undefined, loadedAt: 0 });
  t.same(model.traffic, [{ prefix: '/sales', requests: 0, proxyErrors: 0, upstream5xx: 0 }]);
  t.notMatch(JSON.stringify(model), /the-client-secret|the-access-token/);
});

t.test('a source without a token is failing only while its last fetch failed', async (t) => {
  let now = 1_000_000;
  const clock = { now: () => now };
  const config = configSchema.parse({
    tokens: { lake: { tokenUrl: 'https://idp.example/token', clientId: 'c', clientSecret: 's' } },
    routes: { '/sales': { target: 'https://lake.example/odata/', token: 'lake' } },
  });
  let up = false;
  const provider = new TokenProvider(
    {
      name: 'lake',
      fetchToken: async () => {
        if (!up) throw new ProxyError('TOKEN_UNAVAILABLE', 'the IdP refused the connection');
        return { value: 't', tokenType: 'bearer', obtainedAt: now, expiresAt: now + 60_000 };
      },
    },
    clock,
    { backoff: { initialMs: 1_000, maxMs: 1_000 }, random: () => 1 },
  );
  const state = () =>
    buildStatusModel({ version: '1', startedAt: 0, now, routes: RouteTable.fromConfig(config.routes), tokenProviders: new Map([['lake', provider]]), recentErrors: new RecentErrors(clock) })
      .tokenSources[0]!.state;

  t.equal(state(), 'empty', 'not used yet');
  await provider.getToken().catch(() => undefined);
  t.equal(state(), 'failing', 'no token and the fetch failed');
  now += 1_000;
  up = true;
  const token = await provider.getToken();
  t.equal(state(), 'valid');
  provider.invalidate(token);
  t.equal(state(), 'empty', 'dropped after a successful fetch: the old failure is history, not the current state');
});

t.test("traffic per route, the upstreams' 5xx beside the proxy's errors, and the config's reloads", async (t) => {
  const now = 5_000_000;
  const clock = { now: () => now };
  const config = configSchema.parse({
    tokens: { lake: { tokenUrl: 'https://idp.example/token', clientId: 'c', clientSecret: 's' } },
    routes: { '/sales': { target: 'https://lake.example/odata', token: 'lake' }, '/hr': { target: 'https://hr.example/odata', token: 'lake' } },
  });
  const traffic = new TrafficByRoute(clock);
  const upstreamErrors = new RecentErrors(clock);
  const recentErrors = new RecentErrors(clock);
  const sales = withTraffic(
    { requestFinished: () => undefined, upstreamResponded: () => undefined, rewritten: () => undefined, waitedForConnection: () => undefined },
    traffic.forRoute('/sales'),
    upstreamErrors,
  );
  sales.requestFinished(200, 0.015, false);
  sales.requestFinished(503, 0.2, false);
  sales.requestFinished(502, 0.003, true);
  const model = buildStatusModel({
    version: '1',
    startedAt: 0,
    now,
    routes: RouteTable.fromConfig(config.routes),
    tokenProviders: new Map(),
    recentErrors,
    upstreamErrors,
    traffic,
    config: { file: '/etc/p.yaml', loadedAt: 0, lastReload: { at: 4_000_000, reason: 'SIGHUP', problems: ['p.yaml:1:1 x: y'] } },
  });
  t.match(model.traffic, [
    { prefix: '/sales', requests: 3, proxyErrors: 1, upstream5xx: 1 },
    { prefix: '/hr', requests: 0, proxyErrors: 0, upstream5xx: 0 },
  ]);
  t.same(model.errors, [{ code: '503', origin: 'upstream', total: 1, recent: 1 }], "the proxy's own 502 is counted where it is answered (the handler), not here");
  t.same(model.config.lastReload, { at: 4_000_000, reason: 'SIGHUP', problems: ['p.yaml:1:1 x: y'] });
});
