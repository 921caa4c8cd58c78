import t from 'tap';
import { configSchema } from '../../src/config/schema.ts';
import { createTransport, type FetchFunction } from '../../src/http/transport.ts';
import { createTokenProvider } from '../../src/tokens/factory.ts';
import { startIdp } from '../helpers/idp.ts';

const parseSource = (input: Record<string, unknown>) =>
  configSchema.parse({ tokens: { lake: { allowInsecure: true, ...input } }, routes: { '/r': { target: 'https://x.test', token: 'lake' } } }).tokens.lake!;

t.test('the provider fetches through the transport the factory is given, and reports each fetch once', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const seen: string[] = [];
  const counting: FetchFunction = (input, init) => {
    seen.push(String(input instanceof Request ? input.url : input));
    return fetch(input, init);
  };
  const transport = createTransport({ env: {}, fetch: counting });
  t.teardown(() => transport.close());
  const fetched: Array<[string, string]> = [];
  const provider = createTokenProvider('lake', parseSource({ tokenUrl: idp.tokenUrl, clientId: idp.clients.post.clientId, clientSecret: idp.clients.post.clientSecret }), {
    transport,
    clock: { now: () => Date.now() },
    onFetch: (source, result) => void fetched.push([source, result]),
  });
  t.equal(provider.name, 'lake');
  t.match((await provider.getToken()).value, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  t.same(seen, [idp.tokenUrl], 'the token request went through the transport’s fetch');
  t.same(fetched, [['lake', 'ok']], 'the listener heard the fetch under the source’s name');
  t.same(provider.stats, { fetches: 1, fetchFailures: 0 }, 'from the same event the provider counts');
});

t.test('refresh-ahead and backoff come from the source’s settings (the schema holds the defaults)', async (t) => {
  let now = 0;
  let calls = 0;
  const failing: FetchFunction = async () => {
    calls++;
    return new Response('nope', { status: 503 });
  };
  const transport = createTransport({ env: {}, fetch: failing });
  t.teardown(() => transport.close());
  const provider = createTokenProvider('lake', parseSource({ tokenUrl: 'http://idp.test/token', clientId: 'c', clientSecret: 's', backoff: { initial: '10s', max: '10s' } }), {
    transport,
    clock: { now: () => now },
  });
  await t.rejects(provider.getToken(), { code: 'TOKEN_UNAVAILABLE' });
  now += 4_999;
  await t.rejects(provider.getToken(), { code: 'TOKEN_UNAVAILABLE' }, 'inside the configured 10 s step (at least 5 s with jitter): refused at once');
  t.equal(calls, 1, 'no second IdP call inside the step');
  now += 5_002;
  await t.rejects(provider.getToken());
  t.equal(calls, 2, 'the next attempt once the whole step has passed');
});

t.test('every source names its kind; a worker’s relayed source names its config’s', async (t) => {
  const transport = createTransport({ env: {} });
  t.teardown(() => transport.close());
  const clock = { now: () => Date.now() };
  const kindOf = (input: Record<string, unknown>, env: Record<string, string> = {}) => createTokenProvider('lake', parseSource(input), { transport, clock, env }).source.kind;
  t.equal(kindOf({ tokenUrl: 'https://idp.test/token', clientId: 'c', clientSecret: 's' }), 'client credentials (client_secret_post)');
  t.equal(
    kindOf({ tokenUrl: 'https://idp.test/token', clientId: 'c', clientSecret: 's', authMethod: 'client_secret_jwt', assertionAlgorithm: 'HS512' }),
    'client credentials (client_secret_jwt HS512)',
  );
  t.equal(kindOf({ tokenUrl: 'https://idp.test/token', clientId: 'c', clientAssertionFile: '/f' }), 'client credentials (client assertion file)');
  t.equal(kindOf({ managedIdentity: { resource: 'r' } }), 'managed identity (IMDS)');
  t.equal(kindOf({ managedIdentity: { resource: 'r' } }, { IDENTITY_ENDPOINT: 'http://127.0.0.1:1/t', IDENTITY_HEADER: 'h' }), 'managed identity (App Service)');
  const relayed = createTokenProvider('lake', parseSource({ managedIdentity: { resource: 'r' } }), {
    transport,
    clock,
    env: { IDENTITY_ENDPOINT: 'http://127.0.0.1:1/t', IMDS_ENDPOINT: 'http://127.0.0.1:1' },
    relayedSource: (name) => ({ name, fetchToken: () => Promise.reject(new Error('not asked here')) }),
  });
  t.equal(relayed.source.kind, 'managed identity (Azure Arc)', 'the primary fetches; the worker’s /_status still says what it is');
});
