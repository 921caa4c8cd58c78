import t from 'tap';
import { startCap } from '../helpers/cap.ts';
import { postClientSource, startIdp } from '../helpers/idp.ts';
import { callProxy, offRoute, resolveLink } from '../helpers/links.ts';
import { startProxy } from '../helpers/proxy.ts';

// A real third-party OData V4 server (SAP CAP 9) behind the proxy, on a route whose prefix
// differs from the upstream path: /sales → …/odata/v4/sales. The token comes from the test
// IdP through the proxy; CAP refuses requests without one.

const idp = await startIdp();
t.teardown(() => idp.close());
const cap = await startCap(idp);
t.teardown(() => cap.close());
const proxy = await startProxy({
  tokens: { idp: postClientSource(idp) },
  routes: { '/sales': { target: `${cap.url}/odata/v4/sales`, token: 'idp' } },
});
t.teardown(() => proxy.close());
const route = `http://localhost:${new URL(proxy.url).port}/sales`;

t.test('CAP refuses a request without the IdP’s token: the data comes only through the proxy', async (t) => {
  const direct = await fetch(`${cap.url}/odata/v4/sales/Orders`);
  t.equal(direct.status, 401);
  await direct.body?.cancel();
  const through = await callProxy(proxy.url, '/sales/Orders?$top=1');
  t.equal(through.status, 200, cap.stderr());
});

t.test('following @odata.nextLink (relative, as CAP writes it) gets every row, and stays on the route', async (t) => {
  let url = `${route}/Orders`;
  const ids: number[] = [];
  for (let page = 0; page < 10 && url; page++) {
    t.ok(url.startsWith(`${route}/`), `page ${page + 1} is on the route: ${url}`);
    const answer = await callProxy(proxy.url, url.slice(route.length - '/sales'.length));
    t.equal(answer.status, 200);
    t.same(offRoute(answer.text, route), [], `page ${page + 1}: no absolute URL leaves the route`);
    const body = JSON.parse(answer.text) as { value: Array<{ ID: number }>; '@odata.nextLink'?: string; '@odata.context': string };
    t.equal(resolveLink(body['@odata.context'], url).split('#')[0], `${route}/$metadata`, '@odata.context resolves to the route’s $metadata');
    ids.push(...body.value.map((row) => row.ID));
    url = body['@odata.nextLink'] ? resolveLink(body['@odata.nextLink'], url) : '';
  }
  t.same(
    ids,
    Array.from({ length: 25 }, (_, index) => index + 1),
    'all 25 rows, in three pages of at most 10',
  );
});

t.test('a create answers with a Location on the route', async (t) => {
  const created = await callProxy(proxy.url, '/sales/Orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ID: 1001, customer: 'Created V4' }) });
  t.equal(created.status, 201, created.text);
  const location = resolveLink(String(created.headers.location), `${route}/Orders`);
  t.equal(location, `${route}/Orders(1001)`, 'relative, resolving to the route');
  const read = await callProxy(proxy.url, new URL(location).pathname);
  t.match(JSON.parse(read.text), { ID: 1001, customer: 'Created V4' }, 'and it leads to the new row through the proxy');
});

t.test('$batch, multipart: every part’s links on the route, every Content-Length right', async (t) => {
  const batch = [
    '--batch_1',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    '',
    'GET Orders?$select=ID HTTP/1.1',
    'Accept: application/json',
    '',
    '',
    '--batch_1',
    'Content-Type: multipart/mixed; boundary=changeset_1',
    '',
    '--changeset_1',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    'Content-ID: 1',
    '',
    'POST Orders HTTP/1.1',
    'Content-Type: application/json',
    '',
    '{"ID":1002,"customer":"Batch V4"}',
    '--changeset_1--',
    '',
    '--batch_1--',
    '',
  ].join('\r\n');
  const answer = await callProxy(proxy.url, '/sales/$batch', { method: 'POST', headers: { 'content-type': 'multipart/mixed; boundary=batch_1' }, body: batch });
  t.equal(answer.status, 200, answer.text);
  t.match(String(answer.headers['content-type']), /^multipart\/mixed/);
  t.same(offRoute(answer.text, route), [], 'no absolute URL in any part leaves the route');
  const responses = [...answer.text.matchAll(/HTTP\/1\.1 (\d+)[^\r]*\r\n([\s\S]*?)\r\n\r\n/g)];
  t.same(
    responses.map(([, status]) => status),
    ['200', '201'],
    'the GET and the create',
  );
  for (const [whole, status, headers] of responses) {
    const length = /content-length: *(\d+)/i.exec(headers!)?.[1];
    const start = answer.text.indexOf(whole) + whole.length;
    const end = answer.text.indexOf('\r\n--', start);
    t.equal(Number(length), Buffer.byteLength(answer.text.slice(start, end)), `the ${status} response’s Content-Length is its body’s`);
  }
  t.match(answer.text, /"@odata\.nextLink":"Orders\?%24select=ID&%24skiptoken=10"/, 'the nextLink inside a part stays relative, as CAP writes it');
});

t.test('$batch, JSON: the answer’s links on the route', async (t) => {
  const body = JSON.stringify({
    requests: [
      { id: '1', method: 'GET', url: 'Orders?$top=2' },
      { id: '2', method: 'GET', url: 'Orders(1)' },
    ],
  });
  const answer = await callProxy(proxy.url, '/sales/$batch', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body });
  t.equal(answer.status, 200, answer.text);
  const responses = (JSON.parse(answer.text) as { responses: Array<{ id: string; status: number }> }).responses;
  t.same(
    responses.map(({ id, status }) => [id, status]),
    [
      ['1', 200],
      ['2', 200],
    ],
  );
  t.same(offRoute(answer.text, route), []);
});
