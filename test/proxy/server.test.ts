import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { rawRequest } from '../helpers/raw-http.ts';
import { startIdp } from '../helpers/idp.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startProxy } from '../helpers/proxy.ts';
import { configSchema } from '../../src/config/schema.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { startStack } from '../helpers/stack.ts';

t.test('a request reaches the upstream with a bearer JWT from the IdP', async (t) => {
  const { idp, upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4` });
  const response = await fetch(`${proxy.url}/api/People?$top=2`);
  t.equal(response.status, 200);
  const echo = (await response.json()) as { url: string; claims: Record<string, unknown> };
  t.equal(echo.url, '/odata/v4/People?$top=2');
  t.equal(echo.claims.client_id, idp.clients.post.clientId, 'the upstream verified the JWT and saw the client');
  const seen = upstream.requests[0]!;
  t.match(seen.headers.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  t.equal(seen.headers.host, new URL(upstream.url).host, 'Host is the upstream’s');
  t.equal(seen.headers['x-forwarded-host'], new URL(proxy.url).host);
  t.equal(seen.headers['x-forwarded-proto'], 'http');
  t.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  t.match(seen.headers['x-request-id'], /^[\w-]{8,}$/);
  t.equal(response.headers.get('x-request-id'), seen.headers['x-request-id'], 'the client gets the request id the upstream was sent');
});

t.test('the caller’s Basic credentials never reach the upstream', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`,  inbound: { anonymous: 'none', users: [{ name: 'powerbi', password: 'gateway-pass-123' }] } });
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

t.test('path and query arrive byte for byte', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4` });
  const target = "/api/Products('a%2Fb')/Items?$filter=Name%20eq%20'A%20B'%20and%20x+y&$select=Id,Name&$skiptoken=abc%3D%3D";
  const response = await rawRequest(proxy.url, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  t.equal(response.status, 200);
  t.equal(upstream.requests[0]!.url, target.replace('/api', '/odata/v4'));
});

t.test('request bodies stream upstream and status, headers and body come back', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`, 
    upstream: {
      handler: (_req, res, ctx) => {
        res.writeHead(201, { 'content-type': 'application/json;odata.metadata=minimal', 'odata-version': '4.0', 'set-cookie': ['a=1', 'b=2'] });
        res.end(JSON.stringify({ received: ctx.body.length }));
      },
    },
  });
  const body = 'x'.repeat(300_000);
  const response = await fetch(`${proxy.url}/api/Things`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
  t.equal(response.status, 201);
  t.same(await response.json(), { received: 300_000 });
  t.equal(response.headers.get('odata-version'), '4.0', 'exactly one OData-Version');
  t.same(response.headers.getSetCookie(), ['a=1; Path=/api', 'b=2; Path=/api'], 'repeated headers stay separate (each scoped to the route)');
  t.equal(upstream.requests[0]!.body.length, 300_000);
});

t.test('hop-by-hop headers are dropped and route headers added', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`,  route: { headers: { 'Ocp-Apim-Subscription-Key': 'sub-key' } } });
  const response = await rawRequest(
    proxy.url,
    'GET /api/x HTTP/1.1\r\nHost: localhost\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n' +
      'X-Forwarded-For: 10.9.9.9\r\nOcp-Apim-Subscription-Key: client-value\r\nAccept: application/json\r\n\r\n',
  );
  t.equal(response.status, 200);
  const seen = upstream.requests[0]!.headers;
  for (const name of ['x-secret-hop', 'keep-alive', 'te']) t.equal(seen[name], undefined, `${name} dropped`);
  t.equal(seen['x-forwarded-for'], '127.0.0.1', 'a client’s X-Forwarded-For is replaced, not trusted');
  t.equal(seen['ocp-apim-subscription-key'], 'sub-key', 'the route header wins over the client’s');
  t.equal(seen.accept, 'application/json');
});

t.test('OData links in responses point back at the proxy, also through gzip', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`, 
    upstream: {
      handler: (req, res, ctx) => {
        const base = `${ctx.baseUrl}/odata/v4`;
        const body = JSON.stringify({ '@odata.context': `${base}/$metadata#People`, value: [{ Id: 1 }], '@odata.nextLink': `${base}/People?$skiptoken=1` });
        const escaped = body.replace('"value"', `"escaped":"${base.replaceAll('/', '\\/')}/People","value"`);
        const gzip = req.url?.includes('gzip');
        res.writeHead(200, { 'content-type': 'application/json;odata.metadata=minimal', ...(gzip ? { 'content-encoding': 'gzip' } : {}), location: `${base}/People(1)` });
        res.end(gzip ? gzipSync(escaped) : escaped);
      },
    },
  });
  for (const path of ['/api/People', '/api/People?gzip']) {
    const response = await fetch(`${proxy.url}${path}`);
    const text = await response.text();
    t.notMatch(text, upstream.url.slice(7), `${path}: no upstream URL left`);
    const body = JSON.parse(text) as Record<string, string>;
    t.equal(body['@odata.nextLink'], `${proxy.url}/api/People?$skiptoken=1`);
    t.equal(body['@odata.context'], `${proxy.url}/api/$metadata#People`);
    t.equal(body.escaped, `${proxy.url}/api/People`, 'JSON-escaped form rewritten too');
    t.equal(response.headers.get('location'), `${proxy.url}/api/People(1)`);
  }
});

t.test('GET / lists the routes and health answers without credentials', async (t) => {
  const { proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`,  inbound: { anonymous: 'none', users: [{ name: 'u', password: 'p' }] } });
  t.equal((await fetch(`${proxy.url}/healthz`)).status, 200);
  t.equal((await fetch(`${proxy.url}/readyz`)).status, 200);
  t.equal((await fetch(`${proxy.url}/`)).status, 401, 'the route list needs credentials like everything else');
  const root = await fetch(`${proxy.url}/`, { headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } });
  t.same(await root.json(), { routes: ['/api'] });
});

t.test('/metrics: Prometheus text counting requests, token fetches and rewriting, behind the inbound rules', async (t) => {
  const { proxy } = await startStack(t, { inbound: { anonymous: 'none', users: [{ name: 'scraper', password: 'p' }] } });
  const auth = { authorization: `Basic ${Buffer.from('scraper:p').toString('base64')}` };
  for (let i = 0; i < 3; i++) await (await fetch(`${proxy.url}/api/x`, { headers: auth })).arrayBuffer();
  await (await fetch(`${proxy.url}/nowhere`, { headers: auth })).arrayBuffer();
  t.equal((await fetch(`${proxy.url}/metrics`)).status, 401, 'the same credentials as the routes');
  const response = await fetch(`${proxy.url}/metrics`, { headers: auth });
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const samples = parsePrometheusText(await response.text());
  t.equal(sampleValue(samples, 'bearer_proxy_requests_total', { route: '/api', status: '200' }), 3);
  t.equal(sampleValue(samples, 'bearer_proxy_requests_total', { route: '(none)', status: '404' }), 1);
  t.equal(sampleValue(samples, 'bearer_proxy_token_fetches_total', { source: 'idp', result: 'ok' }), 1);
  t.equal(sampleValue(samples, 'bearer_proxy_upstream_duration_seconds_count', { route: '/api' }), 3);
  t.ok((sampleValue(samples, 'bearer_proxy_rewritten_bytes_total', { route: '/api' }) ?? 0) > 0, 'JSON answers went through rewriting');
  t.ok((sampleValue(samples, 'bearer_proxy_token_expiry_seconds', { source: 'idp' }) ?? 0) > 200, 'seconds left on the token');
  t.equal(sampleValue(samples, 'bearer_proxy_requests_in_flight'), 1, 'the scrape itself is in flight');
  t.notMatch(proxy.logText() + JSON.stringify(samples), 'scraper:p');
});

t.test('an admin listener serves only the reserved endpoints, and takes /metrics and /_status off the main one', async (t) => {
  const { proxy } = await startStack(t, { config: { admin: { port: 0 } } });
  const admin = proxy.proxy.adminUrl!;
  t.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(admin, proxy.url);
  t.equal((await fetch(`${proxy.url}/api/x`)).status, 200, 'routes on the main listener');
  for (const path of ['/healthz', '/readyz', '/metrics', '/_status']) t.equal((await fetch(`${admin}${path}`)).status, 200, `${path} on the admin listener`);
  for (const path of ['/healthz', '/readyz']) t.equal((await fetch(`${proxy.url}${path}`)).status, 200, `${path} still on the main listener, for probes`);
  const moved = await fetch(`${proxy.url}/metrics`);
  t.equal(moved.status, 404);
  t.match(await moved.json(), { error: { code: 'NO_ROUTE', message: '/metrics is served on the admin listener.' } });
  t.equal((await fetch(`${proxy.url}/_status`)).status, 404);
  const notARoute = await fetch(`${admin}/api/x`);
  t.equal(notARoute.status, 404, 'the admin listener forwards nothing');
  t.match(await notARoute.json(), { error: { code: 'NO_ROUTE' } });
});

t.test('errors use the documented codes and never crash the proxy', async (t) => {
  const { proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`,  inbound: { anonymous: 'loopback' } });
  const expectError = async (response: Response | { status: number; body: string; headers: Record<string, string> }, status: number, code: string) => {
    const text = 'text' in response && typeof response.text === 'function' ? await response.text() : (response as { body: string }).body;
    t.equal(response.status, status, `${code}: status`);
    t.equal(JSON.parse(text).error.code, code);
    t.match(JSON.parse(text).error.requestId, /\S/);
  };
  await expectError(await fetch(`${proxy.url}/nothing/here`), 404, 'NO_ROUTE');
  await expectError(await fetch(`${proxy.url}/apiary`), 404, 'NO_ROUTE');
  const raw = (target: string) => rawRequest(proxy.url, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  await expectError(await raw('/api/../admin'), 400, 'BAD_REQUEST');
  await expectError(await raw('/api/%2e%2e/admin'), 400, 'BAD_REQUEST');
  await expectError(await raw('/api/x%zz'), 400, 'BAD_REQUEST');
  await expectError(await raw('http://evil.example/api/x'), 400, 'BAD_REQUEST');
  const connect = await rawRequest(proxy.url, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
  t.equal(connect.status, 400, 'CONNECT refused');
  const withForeignAuth = await fetch(`${proxy.url}/api/x`, { headers: { authorization: 'Bearer not-ours' } });
  t.equal(withForeignAuth.status, 200, 'with no users configured, a loopback caller’s own Authorization is ignored');
  t.notMatch(JSON.stringify(await withForeignAuth.json()), /not-ours/, 'and never forwarded');
  t.equal((await fetch(`${proxy.url}/healthz`)).status, 200, 'still serving');
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
  const token = { tokenUrl: idp.tokenUrl, clientId: idp.clients.post.clientId, clientSecret: idp.clients.post.clientSecret, allowInsecure: true };
  const proxy = await startProxy({ tokens: { idp: token }, routes: { '/r': { target: slowUrl, token: 'idp' } } });
  t.teardown(() => proxy.close());

  const inFlight = fetch(`${proxy.url}/r/x`).then((response) => response.text());
  while (!arrived) await new Promise((resolve) => setTimeout(resolve, 5)); // the request is at the upstream
  const change = proxy.proxy.reload(configSchema.parse({ tokens: { idp: token }, routes: { '/other': { target: slowUrl, token: 'idp' } } }));
  t.same(change, { keptSources: ['idp'], newSources: [] });
  t.equal((await fetch(`${proxy.url}/r/x`)).status, 404, 'new requests see the new config at once');
  release();
  t.equal(await inFlight, 'old target', 'the request in flight finished on the old route');
  t.same(proxy.proxy.routes.prefixes, ['/other']);
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
  t.ok(proxy.logs.some((line) => line.level === 40 && line.tokenSource === 'lake'), 'the failure is logged as a warning');
  t.notMatch(proxy.logText(), 'prefetch-secret-31');
});

t.test('OPTIONS * is answered by the proxy with what it forwards, without an upstream', async (t) => {
  const { upstream, proxy } = await startStack(t);
  const response = await rawRequest(proxy.url, `OPTIONS * HTTP/1.1\r\nHost: ${new URL(proxy.url).host}\r\nConnection: close\r\n\r\n`);
  t.equal(response.status, 200);
  t.equal(response.headers.allow, 'GET, HEAD, POST, PUT, PATCH, MERGE, DELETE, OPTIONS');
  t.same(upstream.requests, []);
  t.equal((await fetch(`${proxy.url}/api/x`, { method: 'OPTIONS' })).status, 200, 'OPTIONS on a route still passes through');
  t.equal(upstream.requests[0]?.method, 'OPTIONS');
});
