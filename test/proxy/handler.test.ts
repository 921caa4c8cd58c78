import t from 'tap';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startStack } from '../helpers/stack.ts';

t.test('path and query arrive byte for byte', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}/odata/v4` });
  const target = "/api/Products('a%2Fb')/Items?$filter=Name%20eq%20'A%20B'%20and%20x+y&$select=Id,Name&$skiptoken=abc%3D%3D";
  const response = await rawRequest(proxy.url, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  t.equal(response.status, 200);
  t.equal(upstream.requests[0]!.url, target.replace('/api', '/odata/v4'));
});

t.test('GET / lists the routes and health answers without credentials', async (t) => {
  const { proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`, inbound: { anonymous: 'none', users: [{ name: 'u', password: 'p' }] } });
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
  const { proxy } = await startStack(t, { target: (url) => `${url}/odata/v4`, inbound: { anonymous: 'loopback' } });
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

t.test('OPTIONS * is answered by the proxy with what it forwards, without an upstream', async (t) => {
  const { upstream, proxy } = await startStack(t);
  const response = await rawRequest(proxy.url, `OPTIONS * HTTP/1.1\r\nHost: ${new URL(proxy.url).host}\r\nConnection: close\r\n\r\n`);
  t.equal(response.status, 200);
  t.equal(response.headers.allow, 'GET, HEAD, POST, PUT, PATCH, MERGE, DELETE, OPTIONS');
  t.same(upstream.requests, []);
  t.equal((await fetch(`${proxy.url}/api/x`, { method: 'OPTIONS' })).status, 200, 'OPTIONS on a route still passes through');
  t.equal(upstream.requests[0]?.method, 'OPTIONS');
});

t.test('access lines: a failure the proxy answered with a 5xx is a warning, other answers are info', async (t) => {
  const { proxy } = await startStack(t);
  await (await fetch(`${proxy.url}/api/x`)).arrayBuffer();
  await (await fetch(`${proxy.url}/nowhere`)).arrayBuffer();
  const dead = await startStack(t, { target: () => 'http://127.0.0.1:1/gone' });
  t.equal((await fetch(`${dead.proxy.url}/api/x`)).status, 502);
  const access = (lines: Array<Record<string, unknown>>) => lines.filter((line) => line.msg === 'request');
  t.match(access(proxy.logs), [
    { level: 30, status: 200, path: '/api/x' },
    { level: 30, status: 404, error: { code: 'NO_ROUTE' } },
  ]);
  t.match(access(dead.proxy.logs), [{ level: 40, status: 502, tokenSource: 'idp', error: { code: 'UPSTREAM_UNREACHABLE', cause: { code: 'ECONNREFUSED' } } }]);
});

t.test('/favicon.ico is answered 204, not logged as an error; a route by that name still forwards it', async (t) => {
  const { proxy, upstream } = await startStack(t, { config: { admin: { port: 0 } } });
  const icon = await fetch(`${proxy.url}/favicon.ico`);
  t.equal(icon.status, 204);
  t.equal(icon.headers.get('cache-control'), 'max-age=86400', 'browsers do not ask again for a day');
  t.equal((await fetch(`${proxy.proxy.adminUrl}/favicon.ico`)).status, 204, 'also on the admin listener, where a browser opens /_status');
  t.same(upstream.requests, []);
  const lines = proxy.logs.filter((line) => line.msg === 'request' && line.path === '/favicon.ico');
  t.match(lines, [
    { level: 30, status: 204 },
    { level: 30, status: 204 },
  ]);
  t.notOk(
    lines.some((line) => 'error' in line),
    'no NO_ROUTE',
  );
  const metrics = await (await fetch(`${proxy.proxy.adminUrl}/metrics`)).text();
  t.notMatch(metrics, /status="404"/);

  // (Another stack's IdP: this upstream refuses its token, which is beside the point here.)
  const routed = await startStack(t, { config: { routes: { '/favicon.ico': { target: `${upstream.url}/static/icon.ico`, token: 'idp' } } } });
  t.not((await fetch(`${routed.proxy.url}/favicon.ico`)).status, 204);
  t.match(upstream.requests.at(-1), { url: '/static/icon.ico' }, 'a route prefix /favicon.ico forwards it to its upstream');
});
