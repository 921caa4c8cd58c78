import t from 'tap';
import { RecentErrors } from '../../src/admin/recent-errors.ts';
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
  const good = new TokenProvider({ name: 'lake', kind: 'managed identity (IMDS)', fetchToken: async () => ({ value: 'the-access-token', tokenType: 'bearer', obtainedAt: now, expiresAt: now + 60_000 }) }, clock);
  await good.getToken();
  const failing = new TokenProvider({ name: 'down', fetchToken: async () => { throw new ProxyError('TOKEN_UNAVAILABLE', 'the IdP refused the connection'); } }, clock);
  await failing.getToken().catch(() => undefined);
  const recentErrors = new RecentErrors(clock);
  recentErrors.record('TOKEN_UNAVAILABLE');
  now += 5_000;

  const model = buildStatusModel({ version: '1.0.0', startedAt: 0, now, routes: RouteTable.fromConfig(config.routes), tokenProviders: new Map([['lake', good], ['down', failing]]), recentErrors });
  t.same(model.routes, [{ prefix: '/sales', target: 'https://lake.example/odata', tokenSource: 'lake', rewriteUrls: false }], 'the target as upstream links spell it');
  t.same(model.tokenSources[0], { name: 'lake', kind: 'managed identity (IMDS)', state: 'valid', expiresAt: 1_060_000, fetches: 1, fetchFailures: 0 }, 'with the kind its source names');
  t.same(model.tokenSources[1], { name: 'down', state: 'failing', fetches: 1, fetchFailures: 1, lastFailure: { code: 'TOKEN_UNAVAILABLE', message: 'the IdP refused the connection', at: 1_000_000 } });
  t.same(model.errors, [{ code: 'TOKEN_UNAVAILABLE', total: 1, recent: 1 }]);
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
  const state = () => buildStatusModel({ version: '1', startedAt: 0, now, routes: RouteTable.fromConfig(config.routes), tokenProviders: new Map([['lake', provider]]), recentErrors: new RecentErrors(clock) }).tokenSources[0]!.state;

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
