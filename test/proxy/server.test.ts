import { createServer } from 'node:http';
import t from 'tap';
import { configSchema } from '../../src/config/schema.ts';
import { postClientSource, startIdp } from '../helpers/idp.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startStack } from '../helpers/stack.ts';

t.test('a request reaches the upstream with a bearer JWT from the IdP', async (t) => {
  const { idp, upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4` });
  const response = await fetch(`${proxy.url}/api/People?$top=2`);
  t.equal(response.status, 200);
  const echo = (await response.json()) as { url: string; claims: Record<string, unknown> };
  t.equal(echo.url, '/api/People?$top=2', 'the echoed path is a JSON string that starts with the upstream path, so it is rewritten as a link would be');
  t.equal(echo.claims.client_id, idp.clients.post.clientId, 'the upstream verified the JWT and saw the client');
  const seen = upstream.requests[0]!;
  t.equal(seen.url, '/odata/v4/People?$top=2', 'the rest of the path follows the target’s');
  t.match(seen.headers.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  t.equal(seen.headers.host, new URL(upstream.url).host, 'Host is the upstream’s');
  t.equal(seen.headers['x-forwarded-host'], new URL(proxy.url).host);
  t.equal(seen.headers['x-forwarded-proto'], 'http');
  t.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  t.equal(seen.headers['x-forwarded-path'], '/api/People', 'the path the client asked for, without the query');
  t.equal(seen.headers.forwarded, `for=127.0.0.1;host="${new URL(proxy.url).host}";proto=http`);
  t.equal(seen.headers['x-forwarded-prefix'], undefined, 'the prefix replaces the upstream path, so no X-Forwarded-Prefix would be true');
  t.match(seen.headers['x-request-id'], /^[\w-]{8,}$/);
  t.equal(response.headers.get('x-request-id'), seen.headers['x-request-id'], 'the client gets the request id the upstream was sent');
});

t.test('the caller’s Basic credentials never reach the upstream', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`, inbound: { anonymous: 'none', users: [{ name: 'powerbi', password: 'gateway-pass-123' }] } });
  const basic = `Basic ${Buffer.from('powerbi:gateway-pass-123').toString('base64')}`;
  const response = await fetch(`${proxy.url}/api/People`, { headers: { authorization: basic, 'proxy-authorization': basic } });
  t.equal(response.status, 200);
  const seen = upstream.requests[0]!;
  t.match(seen.headers.authorization, /^Bearer /);
  t.equal(seen.headers['proxy-authorization'], undefined);
  t.notMatch(JSON.stringify(seen.rawHeaders), /Basic|gateway-pass-123/);
});

t.test('200 concurrent cold requests cause exactly one token request', async (t) => {
  const { idp, upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4` });
  const responses = await Promise.all(Array.from({ length: 200 }, (_, index) => fetch(`${proxy.url}/api/Items(${index})`)));
  t.same(new Set(responses.map((response) => response.status)), new Set([200]));
  await Promise.all(responses.map((response) => response.arrayBuffer()));
  t.equal(idp.tokenRequests.length, 1, 'one IdP call for 200 cold requests');
  t.equal(upstream.requests.length, 200);
  t.equal(new Set(upstream.requests.map((request) => request.headers.authorization)).size, 1, 'all carried the same token');
});

t.test('reload: a request in flight finishes on the config it started with', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let arrived = false;
  const slow = createServer((_req, res) => {
    arrived = true;
    void held.then(() => res.end('old target'));
  });
  const slowUrl = await listen(slow);
  t.teardown(() => closeServer(slow));
  const token = postClientSource(idp);
  const proxy = await startProxy({ tokens: { idp: token }, routes: { '/r': { target: slowUrl, token: 'idp' } } });
  t.teardown(() => proxy.close());

  const inFlight = fetch(`${proxy.url}/r/x`).then((response) => response.text());
  while (!arrived) await new Promise((resolve) => setTimeout(resolve, 5)); // the request is at the upstream
  const change = proxy.proxy.reload(configSchema.parse({ tokens: { idp: token }, routes: { '/other': { target: slowUrl, token: 'idp' } } }));
  t.same(change, { keptSources: ['idp'], newSources: [], needsRestart: [] });
  t.equal((await fetch(`${proxy.url}/r/x`)).status, 404, 'new requests see the new config at once');
  release();
  t.equal(await inFlight, 'old target', 'the request in flight finished on the old route');
  t.same(proxy.proxy.routes.prefixes, ['/other']);
});

t.test('reload: the listeners stay where they are, and a changed address or admin listener is reported as needing a restart', async (t) => {
  const token = { tokenUrl: 'http://127.0.0.1:9/token', clientId: 'c', clientSecret: 's', allowInsecure: true };
  const routes = { '/r': { target: 'http://127.0.0.1:9', token: 'idp' } };
  const proxy = await startProxy({ listen: { port: 0 }, tokens: { idp: token }, routes });
  t.teardown(() => proxy.close());
  const change = proxy.proxy.reload(configSchema.parse({ listen: { host: '0.0.0.0', port: 9999 }, admin: { port: 0 }, tokens: { idp: token }, routes }));
  t.same(change.needsRestart, [
    { key: 'listen', configured: { host: '0.0.0.0', port: 9999 }, running: { host: 'localhost', port: 0 } },
    { key: 'admin', configured: { host: '127.0.0.1', port: 0 }, running: undefined },
  ]);
  t.same([proxy.proxy.config.listen.host, proxy.proxy.config.listen.port, proxy.proxy.config.admin], ['localhost', 0, undefined], 'the running values stay in the serving config');
  t.equal((await fetch(`${proxy.url}/healthz`)).status, 200, 'still answering where it listened');
});

t.test('prefetch: tokens are fetched at startup and /readyz waits for them', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const closed = createServer();
  const deadIdp = await listen(closed);
  await closeServer(closed);
  const client = { clientId: idp.clients.post.clientId, clientSecret: idp.clients.post.clientSecret, allowInsecure: true };
  const proxy = await startProxy({
    tokens: {
      live: { tokenUrl: idp.tokenUrl, ...client, prefetch: true },
      lazy: { tokenUrl: `${deadIdp}/token`, ...client },
    },
    routes: { '/a': { target: 'http://127.0.0.1:9', token: 'live' }, '/b': { target: 'http://127.0.0.1:9', token: 'lazy' } },
  });
  t.teardown(() => proxy.close());
  t.same(await proxy.proxy.prefetch(), [], 'the prefetch source got its token');
  t.equal(idp.tokenRequests.length, 1);
  const ready = await fetch(`${proxy.url}/readyz`);
  t.equal(ready.status, 200, 'a source without prefetch does not hold readiness back');
  t.same(await ready.json(), { status: 'ready' });
  t.equal(idp.tokenRequests.length, 1, 'the probe used the cached token');
  t.ok(proxy.logs.some((line) => line.msg === 'token prefetched' && line.tokenSource === 'live'));
});

t.test('prefetch: an IdP that cannot be reached keeps /readyz at 503, naming the source', async (t) => {
  const closed = createServer();
  const deadIdp = await listen(closed);
  await closeServer(closed);
  const proxy = await startProxy({
    tokens: { lake: { tokenUrl: `${deadIdp}/token`, clientId: 'c', clientSecret: 'prefetch-secret-31', allowInsecure: true, prefetch: true } },
    routes: { '/a': { target: 'http://127.0.0.1:9', token: 'lake' } },
  });
  t.teardown(() => proxy.close());
  t.same(await proxy.proxy.prefetch(), ['lake']);
  const notReady = await fetch(`${proxy.url}/readyz`);
  t.equal(notReady.status, 503);
  t.same(await notReady.json(), { status: 'waiting for tokens', tokenSources: ['lake'] });
  t.equal((await fetch(`${proxy.url}/healthz`)).status, 200, 'alive all the same');
  t.ok(
    proxy.logs.some((line) => line.level === 40 && line.tokenSource === 'lake'),
    'the failure is logged as a warning',
  );
  t.notMatch(proxy.logText(), 'prefetch-secret-31');
});
