import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import jsonServer from 'json-server';
import t from 'tap';
import { request } from 'undici';
import { accessTokenFrom, postClientSource, startIdp } from '../helpers/idp.ts';
import { callProxy, offRoute } from '../helpers/links.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startProxy } from '../helpers/proxy.ts';

// A real third-party REST server, json-server 0.17 (express, with its default middleware:
// compression, CORS, method override), mounted at /api and accepting only the IdP's tokens,
// behind a route whose prefix differs from that path: /crm → …/api. It pages with an
// RFC 8288 Link header and answers a create with a Location, both absolute URLs built from
// the Host it was sent, which is the upstream's own.

const idp = await startIdp();
t.teardown(() => idp.close());
const keys = createRemoteJWKSet(new URL(idp.jwksUrl));
const orders = Array.from({ length: 25 }, (_, index) => ({ id: index + 1, customer: `Customer ${index + 1}`, amount: (index + 1) * 10.5 }));
const app = jsonServer.create();
app.use(
  (req, res, next) => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    jwtVerify(token, keys, { issuer: idp.issuer, audience: idp.audience }).then(
      () => next(),
      () => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"a bearer token from the IdP is needed"}'),
    );
  },
  jsonServer.defaults({ logger: false }),
);
const api = jsonServer.router({ orders });
app.use((req, res, next) => {
  if (!req.url?.startsWith('/api/')) return next();
  req.url = req.url.slice('/api'.length);
  api(req, res, next);
});
const server = createServer(app);
const upstream = await listen(server);
t.teardown(() => closeServer(server));

const proxy = await startProxy({ tokens: { idp: postClientSource(idp) }, routes: { '/crm': { target: `${upstream}/api`, token: 'idp' } } });
t.teardown(() => proxy.close());
const route = `http://localhost:${new URL(proxy.url).port}/crm`;

/** The rel="next" target of a Link header, as RFC 8288 writes it: `<url>; rel="next"`. */
function nextLink(link: string | undefined): string | undefined {
  return link
    ?.split(',')
    .map((entry) => /^\s*<([^>]*)>\s*;\s*rel="?next"?/.exec(entry)?.[1])
    .find((target) => target !== undefined);
}

t.test('json-server refuses a request without the token: the data comes only through the proxy', async (t) => {
  const direct = await request(`${upstream}/api/orders`);
  t.equal(direct.statusCode, 401);
  await direct.body.dump();
  const through = await callProxy(proxy.url, '/crm/orders/1');
  t.equal(through.status, 200);
  t.same(JSON.parse(through.text), orders[0]);
});

t.test('following the Link header’s rel="next" gets every row, each page’s links on the route', async (t) => {
  let url: string | undefined = `${route}/orders?_page=1&_limit=10`;
  const ids: number[] = [];
  for (let page = 1; page <= 5 && url; page++) {
    t.ok(url.startsWith(`${route}/`), `page ${page} is on the route: ${url}`);
    const answer = await callProxy(proxy.url, url.slice(route.length - '/crm'.length));
    t.equal(answer.status, 200);
    t.equal(answer.headers['x-total-count'], '25', 'X-Total-Count passes');
    t.same(offRoute(String(answer.headers.link), route), [], `page ${page}: every Link target is on the route`);
    ids.push(...(JSON.parse(answer.text) as Array<{ id: number }>).map((row) => row.id));
    url = nextLink(answer.headers.link as string | undefined);
  }
  t.same(
    ids,
    orders.map((row) => row.id),
    'all 25 rows, in three pages',
  );
});

t.test('a create answers 201 with a Location on the route; update and delete through it', async (t) => {
  const created = await callProxy(proxy.url, '/crm/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customer: 'Created', amount: 1 }) });
  t.equal(created.status, 201, created.text);
  const location = String(created.headers.location);
  t.equal(location, `${route}/orders/26`, 'the new row’s URL, on the route');
  const path = new URL(location).pathname;
  const patched = await callProxy(proxy.url, path, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"customer":"Patched"}' });
  t.equal(patched.status, 200);
  t.match(JSON.parse((await callProxy(proxy.url, path)).text), { id: 26, customer: 'Patched', amount: 1 });
  t.equal((await callProxy(proxy.url, path, { method: 'DELETE' })).status, 200);
  t.equal((await callProxy(proxy.url, path)).status, 404, 'gone');
});

t.test('a query string reaches json-server as it was written: operators, a regex, a full-text search', async (t) => {
  const answer = await callProxy(proxy.url, `/crm/orders?amount_gte=200&customer_like=${encodeURIComponent('^Customer 2[0-9]$')}&_sort=id&_order=desc`);
  t.same(
    (JSON.parse(answer.text) as Array<{ id: number }>).map((row) => row.id),
    [25, 24, 23, 22, 21, 20],
  );
  const search = await callProxy(proxy.url, `/crm/orders?q=${encodeURIComponent('Customer 7')}`);
  t.same(
    (JSON.parse(search.text) as Array<{ id: number }>).map((row) => row.id),
    [7],
  );
});

t.test('a compressed answer (json-server gzips above 1 KB) arrives whole and decodable either way the client asks', async (t) => {
  const straight = await request(`${upstream}/api/orders`, { headers: { 'accept-encoding': 'gzip', authorization: `Bearer ${await accessTokenFrom(idp)}` } });
  t.equal(straight.headers['content-encoding'], 'gzip', 'json-server compresses this answer');
  await straight.body.dump();
  const plain = await callProxy(proxy.url, '/crm/orders', { headers: { 'accept-encoding': 'identity' } });
  t.equal(plain.headers['content-encoding'], undefined);
  t.equal((JSON.parse(plain.text) as unknown[]).length, 25);
  const response = await request(`${proxy.url}/crm/orders`, { headers: { 'accept-encoding': 'gzip' } });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const body = response.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes;
  t.same(JSON.parse(body.toString('utf8')), JSON.parse(plain.text), `the same rows (content-encoding: ${String(response.headers['content-encoding'] ?? 'none')})`);
});
