import t from 'tap';
import { startCap } from '../helpers/cap.ts';
import { postClientSource, startIdp } from '../helpers/idp.ts';
import { callProxy, offRoute } from '../helpers/links.ts';
import { startProxy } from '../helpers/proxy.ts';

// SAP CAP's OData V2 adapter behind the proxy, on routes whose prefix differs from the
// upstream path (/salesv2 → …/odata/v2/sales). The adapter writes absolute links, built
// from the forwarded headers: with X-Forwarded-Path (the default) on the route itself;
// with X-Forwarded-Host alone as the proxy's origin with its own path; with none at all
// on its own host. The proxy must hand out links on the route in every case.

const idp = await startIdp();
t.teardown(() => idp.close());
const cap = await startCap(idp);
t.teardown(() => cap.close());
const target = `${cap.url}/odata/v2/sales`;
const proxy = await startProxy({
  tokens: { idp: postClientSource(idp) },
  routes: {
    '/salesv2': { target, token: 'idp' },
    '/salesv2-host': { target, token: 'idp', forwardedHeaders: ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'] },
    '/salesv2-plain': { target, token: 'idp', forwardedHeaders: false },
  },
});
t.teardown(() => proxy.close());
const origin = `http://localhost:${new URL(proxy.url).port}`;
const prefixes = ['/salesv2', '/salesv2-host', '/salesv2-plain'];

interface V2Page {
  d: { results: Array<{ ID: number; __metadata: { uri: string }; items: { __deferred: { uri: string } } }>; __next?: string };
}

t.test('__metadata.uri and __deferred are on the route, whichever forwarded headers CAP was sent', async (t) => {
  for (const prefix of prefixes) {
    const answer = await callProxy(proxy.url, `${prefix}/Orders?$top=1`);
    t.equal(answer.status, 200, cap.stderr());
    const row = (JSON.parse(answer.text) as V2Page).d.results[0]!;
    t.equal(row.__metadata.uri, `${origin}${prefix}/Orders(1)`, `${prefix}: __metadata.uri`);
    t.equal(row.items.__deferred.uri, `${origin}${prefix}/Orders(1)/items`, `${prefix}: __deferred`);
  }
});

for (const prefix of prefixes) {
  const route = `${origin}${prefix}`;

  t.test(`${prefix}: following __next gets every row, and every absolute URL is on the route`, async (t) => {
    let url = `${route}/Orders`;
    const ids: number[] = [];
    for (let page = 0; page < 10 && url; page++) {
      t.ok(url.startsWith(`${route}/Orders?`) || page === 0, `page ${page + 1} is on the route: ${url}`);
      const answer = await callProxy(proxy.url, url.slice(origin.length));
      t.equal(answer.status, 200, answer.text);
      t.same(offRoute(answer.text, route), [], `page ${page + 1}: no absolute URL leaves the route`);
      const body = JSON.parse(answer.text) as V2Page;
      ids.push(...body.d.results.map((row) => row.ID));
      url = body.d.__next ?? '';
    }
    t.same(
      ids.slice(0, 25),
      Array.from({ length: 25 }, (_, index) => index + 1),
      'all 25 rows, in pages of at most 10',
    );
    // Rows the POST tests of an earlier prefix added come after those; none twice, none out of order.
    t.same(
      ids,
      ids.toSorted((a, b) => a - b).filter((id, index, sorted) => id !== sorted[index - 1]),
      'every row once, in order',
    );
  });

  t.test(`${prefix}: Atom: xml:base, ids and links on the route`, async (t) => {
    const answer = await callProxy(proxy.url, `${prefix}/Orders?$top=2`, { headers: { accept: 'application/atom+xml' } });
    t.equal(answer.status, 200);
    t.match(String(answer.headers['content-type']), /atom\+xml/);
    t.match(answer.text, `xml:base="${route}/"`);
    t.same(offRoute(answer.text, route), []);
  });
}

t.test('a create answers with a Location on the route', async (t) => {
  for (const [index, prefix] of prefixes.entries()) {
    const id = 2001 + index;
    const created = await callProxy(proxy.url, `${prefix}/Orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ ID: id, customer: 'Created V2' }),
    });
    t.equal(created.status, 201, created.text);
    t.equal(created.headers.location, `${origin}${prefix}/Orders(${id})`, `${prefix}: Location`);
    t.same(offRoute(created.text, `${origin}${prefix}`), [], `${prefix}: the created entity’s links`);
    const read = await callProxy(proxy.url, new URL(String(created.headers.location)).pathname, { headers: { accept: 'application/json' } });
    t.match(JSON.parse(read.text), { d: { ID: id } }, 'the Location leads to the new row through the proxy');
  }
});

t.test('$batch, multipart: links inside every part on the route, every Content-Length right', async (t) => {
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
    'Accept: application/json',
    '',
    '{"ID":2100,"customer":"Batch V2"}',
    '--changeset_1--',
    '',
    '--batch_1--',
    '',
  ].join('\r\n');
  for (const [index, prefix] of prefixes.entries()) {
    const route = `${origin}${prefix}`;
    const answer = await callProxy(proxy.url, `${prefix}/$batch`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/mixed; boundary=batch_1' },
      body: batch.replace('2100', String(2100 + index)),
    });
    t.equal(answer.status, 202, answer.text);
    t.same(offRoute(answer.text, route), [], `${prefix}: no absolute URL in any part leaves the route`);
    t.match(answer.text, `"__next":"${route}/Orders?`, `${prefix}: the __next inside a part is on the route`);
    t.match(answer.text, new RegExp(`location: ${route.replace(/[.?]/g, '\\$&')}/Orders\\(${2100 + index}\\)`, 'i'), `${prefix}: the create’s Location inside the changeset`);
    const responses = [...answer.text.matchAll(/HTTP\/1\.1 (\d+)[^\r]*\r\n([\s\S]*?)\r\n\r\n/g)];
    t.same(
      responses.map(([, status]) => status),
      ['200', '201'],
      'the GET and the create',
    );
    for (const [whole, status, headers] of responses) {
      const length = /content-length: *(\d+)/i.exec(headers!)?.[1];
      const start = answer.text.indexOf(whole) + whole.length;
      t.equal(Number(length), Buffer.byteLength(answer.text.slice(start, answer.text.indexOf('\r\n--', start))), `${prefix}: the ${status} response’s Content-Length is its body’s`);
    }
  }
});
