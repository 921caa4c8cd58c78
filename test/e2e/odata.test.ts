import { gunzipSync, inflateSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { postClientSource, startIdp } from '../helpers/idp.ts';
import { externalIPv4 } from '../helpers/listen.ts';
import { odataService, PEOPLE } from '../helpers/odata-upstream.ts';
import { startProxy } from '../helpers/proxy.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** What Power Query's OData.Feed sends (observed), byte for byte. */
const POWER_QUERY_HEADERS = {
  accept: 'application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7',
  'accept-encoding': 'gzip, deflate',
  'odata-maxversion': '4.0',
  maxdataserviceversion: '3.0',
  'user-agent': 'Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)',
};

interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Decoded when the proxy sent it compressed. */
  text: string;
  /** Bytes as they came over the wire. */
  wireBytes: number;
}

/** One request with exactly the given headers; nothing decoded behind the test's back. */
async function get(url: string, headers: Record<string, string> = POWER_QUERY_HEADERS, method: 'GET' | 'POST' | 'HEAD' = 'GET', body?: string): Promise<Fetched> {
  const response = await request(url, { method, headers, ...(body !== undefined ? { body } : {}) });
  const raw = Buffer.from(await response.body.arrayBuffer());
  const encoding = response.headers['content-encoding'];
  const contentLength = response.headers['content-length'];
  if (contentLength !== undefined && method !== 'HEAD' && Number(contentLength) !== raw.length) throw new Error(`Content-Length ${contentLength} but ${raw.length} bytes`);
  const decoded = encoding === 'gzip' && raw.length > 0 ? gunzipSync(raw) : encoding === 'deflate' && raw.length > 0 ? inflateSync(raw) : raw;
  return { status: response.statusCode, headers: response.headers, text: decoded.toString('utf8'), wireBytes: raw.length };
}

/** A real IdP, the OData service verifying its tokens, and a proxy route /odata → the service root. */
async function odataStack(t: Test, options: { host?: string; anonymous?: 'loopback' | 'any' } = {}) {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience, handler: odataService });
  t.teardown(() => upstream.close());
  const proxy = await startProxy(
    {
      inbound: { anonymous: options.anonymous ?? 'loopback' },
      tokens: { idp: postClientSource(idp) },
      routes: { '/odata': { target: upstream.url, token: 'idp' } },
    },
    {},
    options.host,
  );
  t.teardown(() => proxy.close());
  return { idp, upstream, proxy };
}

/** Every absolute http URL in a body. */
function urlsIn(text: string): string[] {
  return [...text.matchAll(/https?:\/\/[^"'<>\s]+/g)]
    .map((match) => match[0])
    .filter((url) => !url.startsWith('http://www.w3.org') && !url.startsWith('http://schemas.microsoft.com') && !url.startsWith('http://docs.oasis-open.org'));
}

t.test('OData v4 with gzip: following @odata.nextLink from the proxy reaches every row, every link on the proxy', async (t) => {
  const { upstream, proxy } = await odataStack(t);
  const base = `${proxy.url}/odata`;
  const rows: number[] = [];
  let next: string | undefined = `${base}/v4/People`;
  let pages = 0;
  while (next) {
    t.ok(next.startsWith(`${base}/v4/People`), `page ${++pages} is asked of the proxy: ${next}`);
    const page = await get(next);
    t.equal(page.status, 200);
    t.equal(page.headers['content-encoding'], undefined, 'a loopback client gets identity (nothing to save on loopback)');
    t.equal(page.headers['odata-version'], '4.0', 'OData-Version exactly once (Power Query rejects a duplicate)');
    t.match(page.headers['content-type'], /^application\/json;odata\.metadata=minimal;odata\.streaming=true/, 'Content-Type unchanged');
    const body = JSON.parse(page.text) as { value: Array<{ Id: number }>; '@odata.nextLink'?: string };
    t.ok(
      urlsIn(page.text).every((url) => url.startsWith(`${base}/`)),
      'every URL in the page points at the proxy',
    );
    if (page.headers.link) t.match(page.headers.link, `<${base}/v4/People?$skiptoken=`, 'the Link header too');
    rows.push(...body.value.map((row) => row.Id));
    next = body['@odata.nextLink'];
  }
  t.same(
    rows,
    PEOPLE.map((person) => person.id),
    'all rows, in order, once',
  );
  t.equal(pages, 5);
  t.ok(
    upstream.requests.every((request) => request.headers['accept-encoding'] === 'gzip, deflate'),
    'the upstream was asked for gzip, and answered with it',
  );
  const first = upstream.requests[0]!;
  for (const [name, value] of Object.entries(POWER_QUERY_HEADERS)) t.equal(first.headers[name], value, `${name} reached the upstream as sent`);
});

t.test('a client across the network gets the rewritten page gzip-encoded again', async (t) => {
  const host = externalIPv4();
  const { proxy } = await odataStack(t, { host: '0.0.0.0', anonymous: 'any' });
  const base = `http://${host}:${new URL(proxy.url).port}/odata`;
  const page = await get(`${base}/v4/People`);
  t.equal(page.status, 200);
  t.equal(page.headers['content-encoding'], 'gzip', 're-encoded for a remote client that accepts gzip');
  t.match(page.headers.vary, /Accept-Encoding/);
  t.equal(page.headers['content-length'], undefined, 'length unknown while streaming: chunked');
  t.ok(page.wireBytes < Buffer.byteLength(page.text), 'smaller on the wire than decoded');
  const body = JSON.parse(page.text) as { '@odata.nextLink': string };
  t.equal(body['@odata.nextLink'], `${base}/v4/People?$skiptoken=5`, 'links use the host the client used');
  t.ok(urlsIn(page.text).every((url) => url.startsWith(`${base}/`)));

  const identity = await get(`${base}/v4/People`, { ...POWER_QUERY_HEADERS, 'accept-encoding': 'identity' });
  t.equal(identity.headers['content-encoding'], undefined, 'identity for a client that does not accept gzip');
  t.same(JSON.parse(identity.text), JSON.parse(page.text));
  const refused = await get(`${base}/v4/People`, { ...POWER_QUERY_HEADERS, 'accept-encoding': 'gzip;q=0, deflate' });
  t.equal(refused.headers['content-encoding'], 'deflate', 'gzip;q=0 is a refusal: deflate instead');
});

t.test('OData v2 verbose JSON: __next, __metadata.uri and __deferred.uri point at the proxy', async (t) => {
  const { proxy } = await odataStack(t);
  const base = `${proxy.url}/odata`;
  const rows: number[] = [];
  let next: string | undefined = `${base}/v2/People`;
  while (next) {
    const page = await get(next, { ...POWER_QUERY_HEADERS, accept: 'application/json' });
    t.equal(page.headers.dataserviceversion, '2.0');
    const { d } = JSON.parse(page.text) as { d: { results: Array<{ Id: number; __metadata: { uri: string }; Friends: { __deferred: { uri: string } } }>; __next?: string } };
    for (const row of d.results) {
      t.equal(row.__metadata.uri, `${base}/v2/People(${row.Id})`);
      t.equal(row.Friends.__deferred.uri, `${base}/v2/People(${row.Id})/Friends`);
    }
    rows.push(...d.results.map((row) => row.Id));
    next = d.__next;
    if (next) t.ok(next.startsWith(`${base}/v2/People?$skiptoken=`), '__next on the proxy');
  }
  t.same(
    rows,
    PEOPLE.map((person) => person.id),
  );
});

t.test('Atom feed: xml:base, ids and rel="next" point at the proxy', async (t) => {
  const { proxy } = await odataStack(t);
  const base = `${proxy.url}/odata`;
  const rows: number[] = [];
  let next: string | undefined = `${base}/atom/People`;
  while (next) {
    const page = await get(next, { ...POWER_QUERY_HEADERS, accept: 'application/atom+xml,application/xml' });
    t.match(page.headers['content-type'], /^application\/atom\+xml/);
    t.match(page.text, `xml:base="${base}/atom/"`);
    t.ok(
      urlsIn(page.text).every((url) => url.startsWith(`${base}/`)),
      'no URL left on the upstream',
    );
    rows.push(...[...page.text.matchAll(/<d:Id>(\d+)<\/d:Id>/g)].map((match) => Number(match[1])));
    next = /<link rel="next" href="([^"]+)"\/>/.exec(page.text)?.[1];
  }
  t.same(
    rows,
    PEOPLE.map((person) => person.id),
  );
});

t.test('queries, $metadata, $count, $batch and OData headers pass through exactly', async (t) => {
  const { upstream, proxy } = await odataStack(t);
  const base = `${proxy.url}/odata`;
  const query = "?$filter=Name%20eq%20'O''Brien'%20and%20contains(Name,'a+b')&$select=Id,Name&$expand=Friends($select=Id)&$apply=groupby((Name))&$skiptoken=X%2BY%3D&$top=2&q=a+b%20c";
  // A raw request: fetch and undici would percent-encode the quotes before the proxy saw them.
  const sent = await rawRequest(proxy.url, `GET /odata/v4/People${query} HTTP/1.1\r\nHost: ${new URL(proxy.url).host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
  t.equal(sent.status, 200);
  t.equal(upstream.requests.at(-1)!.url, `/v4/People${query}`, 'the query arrives byte for byte');

  const metadata = await get(`${base}/v4/$metadata`, { ...POWER_QUERY_HEADERS, accept: 'application/xml' });
  t.equal(metadata.status, 200);
  t.equal(metadata.headers['content-type'], 'application/xml', '$metadata stays application/xml');
  t.match(metadata.text, /<EntitySet Name="People"/);

  const count = await get(`${base}/v4/People/$count`, { ...POWER_QUERY_HEADERS, accept: 'text/plain' });
  t.equal(count.text, String(PEOPLE.length));

  const batchBody = [
    '--batch_36522ad7',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    '',
    'GET People?$top=1 HTTP/1.1',
    'Accept: application/json',
    '',
    '',
    '--batch_36522ad7--',
    '',
  ].join('\r\n');
  const batch = await get(`${base}/v4/$batch`, { ...POWER_QUERY_HEADERS, 'content-type': 'multipart/mixed; boundary=batch_36522ad7' }, 'POST', batchBody);
  t.equal(batch.status, 200);
  t.equal(upstream.requests.at(-1)!.body.toString('utf8'), batchBody, 'the multipart $batch body arrives byte for byte');
  t.equal(batch.headers['x-request-boundary'], 'batch_36522ad7');
  t.match(batch.headers['content-type'], 'multipart/mixed; boundary=batchresponse_1');
  t.match(batch.text, 'GET People?$top=1 HTTP/1.1');

  const preferred = await get(`${base}/v4/People`, { ...POWER_QUERY_HEADERS, prefer: 'odata.maxpagesize=2' });
  t.equal(upstream.requests.at(-1)!.headers.prefer, 'odata.maxpagesize=2', 'Prefer reaches the upstream');
  t.equal(preferred.headers['preference-applied'], 'odata.maxpagesize=2', 'Preference-Applied comes back');
  t.equal((JSON.parse(preferred.text) as { value: unknown[] }).value.length, 2);

  const head = await get(`${base}/v4/People`, POWER_QUERY_HEADERS, 'HEAD');
  t.equal(head.status, 200, 'HEAD works');
  t.equal(head.text, '');
  t.equal(head.headers['odata-version'], '4.0');

  const root = await get(`${proxy.url}/`, { 'user-agent': 'PowerBIService' });
  t.equal(root.status, 200, 'the service’s plain GET of the root URL succeeds');
});

t.test('errors: the upstream’s pass through unchanged; the proxy’s own in JSON or XML as asked', async (t) => {
  const { proxy } = await odataStack(t);
  const upstreamError = await get(`${proxy.url}/odata/v4/Broken`);
  t.equal(upstreamError.status, 400);
  t.same(JSON.parse(upstreamError.text), { error: { code: 'BadRequest', message: "The query specified in the URI is not valid. Could not find a property named 'Nme'." } });

  const json = await get(`${proxy.url}/nowhere/People`);
  t.equal(json.status, 404);
  t.match(json.headers['content-type'], /^application\/json/, 'Power Query’s JSON-first Accept gets JSON');
  t.equal((JSON.parse(json.text) as { error: { code: string } }).error.code, 'NO_ROUTE');

  const xml = await get(`${proxy.url}/nowhere/$metadata`, { ...POWER_QUERY_HEADERS, accept: 'application/xml' });
  t.equal(xml.status, 404);
  t.match(xml.headers['content-type'], /^application\/xml/);
  t.match(xml.text, /<error xmlns="http:\/\/docs\.oasis-open\.org\/odata\/ns\/metadata"><code>NO_ROUTE<\/code><message>No route matches \/nowhere\/\$metadata/);
});

t.test('links follow X-Forwarded-Host/-Proto only when trusted', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience, handler: odataService });
  t.teardown(() => upstream.close());
  const forwarded = { ...POWER_QUERY_HEADERS, 'x-forwarded-host': 'bi-proxy.corp.example', 'x-forwarded-proto': 'https' };
  const nextLinkThrough = async (trustForwardedHeaders: boolean) => {
    const proxy = await startProxy({
      inbound: { trustForwardedHeaders },
      tokens: { idp: postClientSource(idp) },
      routes: { '/odata': { target: upstream.url, token: 'idp' } },
    });
    t.teardown(() => proxy.close());
    const page = await get(`${proxy.url}/odata/v4/People`, forwarded);
    return { link: (JSON.parse(page.text) as { '@odata.nextLink': string })['@odata.nextLink'], proxyUrl: proxy.url };
  };
  const trusted = await nextLinkThrough(true);
  t.equal(trusted.link, 'https://bi-proxy.corp.example/odata/v4/People?$skiptoken=5', 'behind a trusted reverse proxy');
  t.equal(upstream.requests.at(-1)!.headers['x-forwarded-host'], 'bi-proxy.corp.example');
  const untrusted = await nextLinkThrough(false);
  t.equal(untrusted.link, `${untrusted.proxyUrl}/odata/v4/People?$skiptoken=5`, 'by default a caller cannot choose the advertised host');
});
