import t from 'tap';
import { startDemoIssuer } from '../../src/demo/issuer.ts';
import { startSampleODataService } from '../../src/demo/odata-service.ts';

t.test('the sample OData service', async (t) => {
  const issuer = await startDemoIssuer({ clientId: 'demo', clientSecret: 's', audience: 'https://aud' });
  t.teardown(() => issuer.close());
  const service = await startSampleODataService({ verifyAccessToken: (token) => issuer.verifyAccessToken(token), pageSize: 10 });
  t.teardown(() => service.close());
  const tokenResponse = await fetch(issuer.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'demo', client_secret: 's' }) });
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const get = (url: string) => fetch(url.startsWith('http') ? url : `${service.url}${url}`, { headers: { authorization: `Bearer ${token}` } });

  const anonymous = await fetch(`${service.url}/People`);
  t.equal(anonymous.status, 401);
  t.match(anonymous.headers.get('www-authenticate'), /^Bearer/);
  t.equal((await fetch(`${service.url}/People`, { headers: { authorization: 'Bearer forged' } })).status, 401);

  const root = await get('/');
  t.equal(root.headers.get('odata-version'), '4.0');
  t.match(root.headers.get('content-type'), /^application\/json;odata\.metadata=minimal/);
  t.same(((await root.json()) as { value: Array<{ name: string }> }).value.map((set) => set.name), ['People', 'Products']);

  const metadata = await get('/$metadata');
  t.equal(metadata.headers.get('content-type'), 'application/xml');
  t.match(await metadata.text(), /<EntitySet Name="People" EntityType="Demo.Person"\/>/);

  const seen: number[] = [];
  let next: string | undefined = `${service.url}/People?$count=true`;
  let pages = 0;
  while (next) {
    t.ok(next.startsWith(`${service.url}/People?`), `absolute link on the service’s own origin: ${next}`);
    const page = (await (await get(next)).json()) as { value: Array<{ Id: number }>; '@odata.nextLink'?: string; '@odata.count'?: number };
    if (pages === 0) t.equal(page['@odata.count'], 35);
    seen.push(...page.value.map((row) => row.Id));
    next = page['@odata.nextLink'];
    pages++;
  }
  t.equal(pages, 4);
  t.same(seen, Array.from({ length: 35 }, (_, index) => index + 1), 'every person exactly once, in order');

  const selected = (await (await get('/People?$top=3&$skip=5&$select=Id,Name')).json()) as { value: Array<Record<string, unknown>>; '@odata.context': string };
  t.same(selected.value.map((row) => Object.keys(row)), [['Id', 'Name'], ['Id', 'Name'], ['Id', 'Name']]);
  t.same(selected.value.map((row) => row.Id), [6, 7, 8]);
  t.match(selected['@odata.context'], /\$metadata#People\(Id,Name\)$/);

  t.match(await (await get('/People(3)')).json(), { Id: 3, '@odata.context': /#People\/\$entity$/ });
  t.equal(await (await get('/People/$count')).text(), '35');
  t.equal(((await (await get('/Products')).json()) as { value: unknown[] }).value.length, 10, 'paged at 10');
  t.equal((await get('/People?$skiptoken=abc')).status, 400);
  t.equal((await get('/People?$select=Nope')).status, 400);
  t.equal((await get('/People(99)')).status, 404);
  t.equal((await get('/Nothing')).status, 404);
  t.equal((await fetch(`${service.url}/People`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status, 405);
  const head = await fetch(`${service.url}/People`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
  t.equal(head.status, 200);
  t.ok(service.requests > 10);
});
