import t, { type Test } from 'tap';
import { startDemoIssuer } from '../../src/demo/issuer.ts';
import { startSampleODataService } from '../../src/demo/odata-service.ts';
import { METADATA_XML, samplePeople, sampleProducts } from '../../src/demo/sample-data.ts';

interface Page {
  '@odata.context': string;
  '@odata.count'?: number;
  '@odata.nextLink'?: string;
  value: Array<Record<string, unknown>>;
}

interface ODataErrorBody {
  error: { code: string; message: string };
}

async function start(t: Test, pageSize?: number) {
  const issuer = await startDemoIssuer({ clientId: 'demo', clientSecret: 's', audience: 'https://aud' });
  t.teardown(() => issuer.close());
  const service = await startSampleODataService({ verifyAccessToken: (token) => issuer.verifyAccessToken(token), ...(pageSize === undefined ? {} : { pageSize }) });
  t.teardown(() => service.close());
  const tokenResponse = await fetch(issuer.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'demo', client_secret: 's' }) });
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const request = (path: string, init: RequestInit = {}) =>
    fetch(path.startsWith('http') ? path : `${service.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
  const page = async (path: string): Promise<Page> => (await request(path)).json() as Promise<Page>;
  return { issuer, service, token, request, page };
}

/** Follows @odata.nextLink to the end, checking each link stays on the service's own origin. */
async function collect(t: Test, first: string, request: (path: string) => Promise<Response>, serviceUrl: string) {
  const links: string[] = [];
  const ids: unknown[] = [];
  let next: string | undefined = first;
  while (next !== undefined) {
    const response = await request(next);
    t.equal(response.status, 200, `GET ${next}`);
    const body = (await response.json()) as Page;
    ids.push(...body.value.map((row) => row.Id));
    next = body['@odata.nextLink'];
    if (next !== undefined) {
      links.push(next);
      t.ok(next.startsWith(`${serviceUrl}/`), `nextLink is absolute on the service's own origin: ${next}`);
    }
    if (links.length > 20) throw new Error('nextLinks loop');
  }
  return { ids, links };
}

t.test('no token or a bad token is refused with a Bearer challenge', async (t) => {
  const { service, issuer, request } = await start(t);
  const anonymous = await fetch(`${service.url}/People`);
  t.equal(anonymous.status, 401);
  t.equal(anonymous.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  t.equal(anonymous.headers.get('odata-version'), '4.0');
  t.equal(((await anonymous.json()) as ODataErrorBody).error.code, 'InvalidToken');

  const forged = await fetch(`${service.url}/People`, { headers: { authorization: 'Bearer forged.token.here' } });
  t.equal(forged.status, 401);
  t.match(forged.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
  t.match(await forged.json(), { error: { code: 'InvalidToken', message: String } });

  const basic = await fetch(`${service.url}/People`, { headers: { authorization: `Basic ${Buffer.from('demo:s').toString('base64')}` } });
  t.equal(basic.status, 401, 'only Bearer counts');

  const otherIssuer = await startDemoIssuer({ clientId: 'demo', clientSecret: 's', audience: 'https://aud' });
  t.teardown(() => otherIssuer.close());
  const foreign = (await (await fetch(otherIssuer.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'demo', client_secret: 's' }) })).json()) as {
    access_token: string;
  };
  t.equal((await fetch(`${service.url}/`, { headers: { authorization: `Bearer ${foreign.access_token}` } })).status, 401, 'a token from another issuer');
  t.equal((await request('/$metadata')).status, 200, 'while the right token passes');
  t.equal(issuer.tokensIssued, 1);
});

t.test('service document and $metadata', async (t) => {
  const { service, request } = await start(t);
  t.match(service.url, /^http:\/\/127\.0\.0\.1:\d+\/odata$/);
  for (const path of ['/', '']) {
    const root = await request(path);
    t.equal(root.status, 200, `service root at "/odata${path}"`);
    t.equal(root.headers.get('odata-version'), '4.0');
    t.equal(root.headers.get('content-type'), 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8');
    t.same(await root.json(), {
      '@odata.context': `${service.url}/$metadata`,
      value: [
        { name: 'People', kind: 'EntitySet', url: 'People' },
        { name: 'Products', kind: 'EntitySet', url: 'Products' },
      ],
    });
  }

  const metadata = await request('/$metadata');
  t.equal(metadata.status, 200);
  t.equal(metadata.headers.get('content-type'), 'application/xml');
  const xml = await metadata.text();
  t.match(xml, /^<\?xml version="1.0" encoding="utf-8"\?>\s*<edmx:Edmx Version="4.0"/);
  t.match(xml, /<Schema Namespace="Demo"/);
  t.match(xml, /<EntitySet Name="People" EntityType="Demo.Person"\/>/);
  t.match(xml, /<EntitySet Name="Products" EntityType="Demo.Product"\/>/);
  t.match(xml, /<Property Name="Joined" Type="Edm.Date"\/>/);
  t.match(xml, /<Property Name="Price" Type="Edm.Decimal"/);
});

t.test('the $metadata declares exactly the properties the data has', async (t) => {
  const declared = (type: string): string[] => {
    const body = new RegExp(`<EntityType Name="${type}">([\\s\\S]*?)</EntityType>`).exec(METADATA_XML)?.[1] ?? '';
    return [...body.matchAll(/<Property Name="(\w+)"/g)].map((match) => match[1]!);
  };
  for (const [type, rows] of [
    ['Person', samplePeople()],
    ['Product', sampleProducts()],
  ] as const) {
    t.ok(declared(type).length > 0, `${type} has properties`);
    for (const row of rows) t.same(Object.keys(row), declared(type), `${type} ${row.Id}`);
  }
  t.same(samplePeople(), samplePeople(), 'deterministic');
  t.equal(new Set(samplePeople().map((person) => person.Email)).size, samplePeople().length, 'emails are unique');
  t.ok(
    samplePeople().every((person) => /^\d{4}-\d{2}-\d{2}$/.test(person.Joined)),
    'Joined is an Edm.Date',
  );
});

t.test('server-driven paging: absolute nextLinks on the service’s origin, every person exactly once', async (t) => {
  const { service, request, page } = await start(t);
  const people = samplePeople();
  t.equal(people.length, 35);

  const first = await page('/People');
  t.equal(first['@odata.context'], `${service.url}/$metadata#People`);
  t.equal(first.value.length, 10);
  t.same(first.value[0], people[0], 'full rows by default');
  t.equal(first['@odata.nextLink'], `${service.url}/People?$skiptoken=10`);

  const all = await collect(t, `${service.url}/People`, request, service.url);
  t.same(
    all.ids,
    people.map((person) => person.Id),
    'in order, none twice, none missing',
  );
  t.equal(all.links.length, 3, 'four pages of at most ten');

  // Other options ride along verbatim, including ones the service does not interpret.
  const withOptions = await collect(t, '/People?$select=Id,Name&custom=a%20b&$count=true', request, service.url);
  t.same(
    withOptions.ids,
    people.map((person) => person.Id),
  );
  t.equal(withOptions.links[0], `${service.url}/People?$select=Id,Name&custom=a%20b&$count=true&$skiptoken=10`);
  const counted = await page(withOptions.links[2]!);
  t.equal(counted['@odata.count'], 35, 'later pages keep the count');
  t.same(Object.keys(counted.value[0]!), ['Id', 'Name'], 'later pages keep the $select');

  const products = await collect(t, '/Products', request, service.url);
  t.same(
    products.ids,
    sampleProducts().map((product) => product.Id),
  );
  t.equal(products.links.length, 1);
});

t.test('paging within $top/$skip, and the page size option', async (t) => {
  const { service, request, page } = await start(t, 4);
  const within = await collect(t, '/People?$skip=3&$top=10', request, service.url);
  t.same(within.ids, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13], '$top bounds all the pages together, not each one');
  t.equal(within.links.length, 2);
  t.equal(within.links[0], `${service.url}/People?$skip=3&$top=10&$skiptoken=4`);
  t.equal((await page('/People?$top=4'))['@odata.nextLink'], undefined, 'no nextLink when $top fits one page');
  t.equal((await page('/People?$skiptoken=32')).value.length, 3);
  t.equal((await page('/People?$skiptoken=40')).value.length, 0, 'past the end is an empty page');
  await t.rejects(startSampleODataService({ verifyAccessToken: async () => ({}), pageSize: 0 }), RangeError);
});

t.test('$top, $skip, $count, $select', async (t) => {
  const { page } = await start(t);
  const selected = await page('/People?$top=3&$skip=5&$select=Id,Name');
  t.same(
    selected.value,
    samplePeople()
      .slice(5, 8)
      .map(({ Id, Name }) => ({ Id, Name })),
  );
  t.match(selected['@odata.context'], /\$metadata#People\(Id,Name\)$/);
  t.equal(selected['@odata.nextLink'], undefined);
  t.equal(selected['@odata.count'], undefined, 'no count unless asked');

  const counted = await page('/People?$top=2&$count=true');
  t.equal(counted['@odata.count'], 35, 'the count ignores $top');
  t.same(Object.keys(counted), ['@odata.context', '@odata.count', 'value'], 'annotations precede the value');
  t.equal((await page('/People?$count=false'))['@odata.count'], undefined);
  t.same((await page('/People?$top=0')).value, []);
  t.same((await page('/People?$skip=100')).value, []);
  t.same(Object.keys((await page('/Products?$select=*')).value[0]!), ['Id', 'Name', 'Category', 'Price', 'InStock']);
  t.same((await page('/People?%24top=1&%24select=Id')).value, [{ Id: 1 }], 'percent-encoded "$" works too');
});

t.test('single entity and $count', async (t) => {
  const { service, request } = await start(t);
  const third = await request('/People(3)');
  t.equal(third.status, 200);
  t.same(await third.json(), { '@odata.context': `${service.url}/$metadata#People/$entity`, ...samplePeople()[2] });
  t.same(await (await request('/Products(2)?$select=Name')).json(), { '@odata.context': `${service.url}/$metadata#Products(Name)/$entity`, Name: sampleProducts()[1]!.Name });

  const count = await request('/People/$count');
  t.equal(count.status, 200);
  t.match(count.headers.get('content-type'), /^text\/plain/);
  t.equal(await count.text(), '35');
  t.equal(await (await request('/Products/$count')).text(), '12');
});

t.test('errors are OData JSON errors, never crashes', async (t) => {
  const { service, request } = await start(t);
  const expectError = async (path: string, status: number, code: string, init?: RequestInit) => {
    const response = await request(path, init);
    t.equal(response.status, status, `${init?.method ?? 'GET'} ${path} → ${status}`);
    t.match(response.headers.get('content-type'), /^application\/json;odata\.metadata=minimal/);
    t.match(await response.json(), { error: { code, message: String } });
    return response;
  };
  for (const bad of ['abc', '-1', '1.5', '', '1e3', '99999999999']) await expectError(`/People?$skiptoken=${bad}`, 400, 'BadRequest');
  await expectError('/People?$top=x', 400, 'BadRequest');
  await expectError('/People?$skip=-2', 400, 'BadRequest');
  await expectError('/People?$count=yes', 400, 'BadRequest');
  await expectError('/People?$select=Nope', 400, 'BadRequest');
  await expectError('/People?$select=Id,', 400, 'BadRequest');
  await expectError('/People?$top=1&$top=2', 400, 'BadRequest');
  await expectError('/People?$bogus=1', 400, 'BadRequest');
  await expectError('/People?$filter=Id%20eq%201', 501, 'NotImplemented');
  await expectError('/People?$format=xml', 406, 'NotAcceptable');
  await expectError('/People(99)', 404, 'NotFound');
  await expectError('/People(3)/$count', 404, 'NotFound');
  await expectError('/Nothing', 404, 'NotFound');
  await expectError('/constructor', 404, 'NotFound');
  await expectError('/__proto__', 404, 'NotFound');
  await expectError('/%E0%A4%A', 400, 'BadRequest');
  await expectError(`${new URL(service.url).origin}/People`, 404, 'NotFound');
  await expectError(`${new URL(service.url).origin}/odataPeople`, 404, 'NotFound');
  const gone = await expectError('/People', 405, 'MethodNotAllowed', { method: 'DELETE' });
  t.equal(gone.headers.get('allow'), 'GET, HEAD');
  await expectError('/People', 405, 'MethodNotAllowed', { method: 'POST', body: '{}' });
});

t.test('HEAD answers the headers of GET without a body', async (t) => {
  const { service, request } = await start(t);
  const get = await request('/People');
  const head = await request('/People', { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-type'), get.headers.get('content-type'));
  t.equal(head.headers.get('content-length'), String(Buffer.byteLength(await get.text())));
  t.equal(await head.text(), '');
  t.equal((await request('/$metadata', { method: 'HEAD' })).headers.get('content-type'), 'application/xml');
  t.equal(service.requests, 3, 'every request is counted');
});
