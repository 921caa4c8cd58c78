import t from 'tap';
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import { RouteTable } from '../../src/routes/table.ts';

function tableOf(routes: ConfigInput['routes']): RouteTable {
  return RouteTable.fromConfig(configSchema.parse({ tokens: { a: { tokenUrl: 'https://idp/t', clientId: 'c', clientSecret: 's' } }, routes }).routes);
}

const table = tableOf({
  '/sales': { target: 'https://api.example.com/odata/v4/sales/', token: 'a', headers: { 'X-Api-Key': 'k', 'Ocp-Apim-Subscription-Key': 'sub' } },
  '/sales/eu': { target: 'https://eu.example.com:8443', token: 'a', timeout: 30 },
  '/hr': { target: 'http://hr.local/api', token: 'a', rewriteUrls: false },
  '/a': { target: 'https://a.example.com/a', token: 'a' },
  '/a/b': { target: 'https://ab.example.com/ab', token: 'a' },
});

t.test('longest whole-segment prefix wins', async (t) => {
  const cases: Array<[string, string | undefined, string]> = [
    ['/sales', '/sales', ''],
    ['/sales/', '/sales', '/'],
    ['/sales/Orders', '/sales', '/Orders'],
    ['/sales/Orders/', '/sales', '/Orders/'],
    ['/sales//x', '/sales', '//x'],
    ['/salesforce', undefined, ''],
    ['/sales-eu', undefined, ''],
    ['/sales.json', undefined, ''],
    ['/sales%2FOrders', undefined, ''], // an encoded slash is no segment boundary
    ['/sales/eu', '/sales/eu', ''],
    ['/sales/eu/Orders', '/sales/eu', '/Orders'],
    ['/sales/europe', '/sales', '/europe'],
    ['/sales/EU', '/sales', '/EU'],
    ['/a', '/a', ''],
    ['/a/c', '/a', '/c'],
    ['/a/b', '/a/b', ''],
    ['/a/b/c', '/a/b', '/c'],
    ['/a/bc', '/a', '/bc'],
    ['/ab', undefined, ''],
    ['/hr/x', '/hr', '/x'],
    ['/HR/x', undefined, ''], // case-sensitive, as URL paths are
    ['/', undefined, ''],
    ['', undefined, ''],
    ['/other', undefined, ''],
  ];
  for (const [path, prefix, rest] of cases) {
    const match = table.match(path);
    t.equal(match?.route.prefix, prefix, `${path} → ${prefix}`);
    if (prefix) t.equal(match?.rest, rest, `${JSON.stringify(path)} rest ${JSON.stringify(rest)}`);
  }
});

t.test('the rest keeps its percent-encoding and OData syntax untouched', async (t) => {
  const rests = ["/Orders('a%2Fb')", '/Products(1)/Name/$value', '/%C3%A9t%C3%A9', '/a%20b/c+d', "/People('O''Neil')", '/$metadata', '/$batch'];
  for (const rest of rests) t.equal(table.match(`/sales${rest}`)?.rest, rest, rest);
});

t.test('the order routes are written in does not matter', async (t) => {
  const reversed = tableOf({ '/a/b': { target: 'https://ab.example.com', token: 'a' }, '/a': { target: 'https://a.example.com', token: 'a' } });
  t.equal(reversed.match('/a/b/c')?.route.prefix, '/a/b');
  t.equal(reversed.match('/a/c')?.route.prefix, '/a');
  t.same(
    reversed.routes.map((route) => route.prefix),
    ['/a/b', '/a'],
    'longest first',
  );
});

t.test('routes are prepared once at load', async (t) => {
  const sales = table.match('/sales')!.route;
  t.equal(sales.target.href, 'https://api.example.com/odata/v4/sales/');
  t.equal(sales.origin, 'https://api.example.com');
  t.equal(sales.basePath, '/odata/v4/sales', 'trailing slash dropped so the rest follows it');
  t.equal(sales.baseUrl, 'https://api.example.com/odata/v4/sales');
  t.equal(sales.tokenSource, 'a');
  t.equal(sales.timeoutMs, 600_000, 'the default');
  t.equal(sales.rewriteUrls, true);
  t.same(
    sales.headers,
    [
      ['x-api-key', 'k'],
      ['ocp-apim-subscription-key', 'sub'],
    ],
    'names lower-cased, config order kept',
  );
  const eu = table.match('/sales/eu')!.route;
  t.equal(eu.basePath, '', 'a target without a path');
  t.equal(eu.origin, 'https://eu.example.com:8443');
  t.equal(eu.baseUrl, 'https://eu.example.com:8443');
  t.equal(eu.timeoutMs, 30_000);
  t.same(eu.headers, []);
  const hr = table.match('/hr')!.route;
  t.equal(hr.origin, 'http://hr.local');
  t.equal(hr.rewriteUrls, false);
  t.same(table.prefixes, ['/a', '/a/b', '/hr', '/sales', '/sales/eu'], 'sorted for display');
});

t.test('target URLs are normalised the way upstream links spell them', async (t) => {
  const cases: Array<[string, { origin: string; basePath: string; baseUrl: string }]> = [
    ['https://api.example.com:443/odata/', { origin: 'https://api.example.com', basePath: '/odata', baseUrl: 'https://api.example.com/odata' }],
    ['http://api.example.com:80', { origin: 'http://api.example.com', basePath: '', baseUrl: 'http://api.example.com' }],
    ['https://API.Example.com/Svc', { origin: 'https://api.example.com', basePath: '/Svc', baseUrl: 'https://api.example.com/Svc' }],
    ['https://api.example.com/', { origin: 'https://api.example.com', basePath: '', baseUrl: 'https://api.example.com' }],
    ['https://api.example.com/odata///', { origin: 'https://api.example.com', basePath: '/odata', baseUrl: 'https://api.example.com/odata' }],
    ['https://api.example.com/a%20b/', { origin: 'https://api.example.com', basePath: '/a%20b', baseUrl: 'https://api.example.com/a%20b' }],
    ['http://127.0.0.1:9000/svc', { origin: 'http://127.0.0.1:9000', basePath: '/svc', baseUrl: 'http://127.0.0.1:9000/svc' }],
  ];
  for (const [target, expected] of cases) {
    const route = tableOf({ '/x': { target, token: 'a' } }).match('/x')!.route;
    t.same({ origin: route.origin, basePath: route.basePath, baseUrl: route.baseUrl }, expected, target);
  }
});

t.test('an empty table matches nothing', async (t) => {
  const empty = RouteTable.fromConfig({});
  t.equal(empty.match('/sales'), undefined);
  t.same(empty.prefixes, []);
});

t.test('forwarded headers: all by default, none, or a list; X-Forwarded-Prefix only where it is true', async (t) => {
  const routes = tableOf({
    '/sales': { target: 'https://api.example.com/odata/v4/sales', token: 'a' },
    '/off': { target: 'https://api.example.com/odata', token: 'a', forwardedHeaders: false },
    '/some': { target: 'https://api.example.com/odata', token: 'a', forwardedHeaders: ['x-forwarded-host', 'forwarded'] },
    '/api': { target: 'https://api.example.com/', token: 'a' },
    '/team/odata': { target: 'https://api.example.com/odata', token: 'a' },
    '/odata/v2': { target: 'https://api.example.com/odata/v2', token: 'a' },
  });
  const route = (prefix: string) => routes.match(prefix)!.route;
  t.same([...route('/sales').forwardedHeaders], ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix', 'x-forwarded-path', 'forwarded'], 'true: all six');
  t.same([...route('/off').forwardedHeaders], [], 'false: none');
  t.same([...route('/some').forwardedHeaders], ['x-forwarded-host', 'forwarded'], 'a list: those');
  t.equal(route('/sales').forwardedPrefix, undefined, 'the prefix replaces the upstream path: no true X-Forwarded-Prefix exists');
  t.equal(route('/api').forwardedPrefix, '/api', 'an upstream root: the prefix is what the proxy takes off');
  t.equal(route('/team/odata').forwardedPrefix, '/team', 'the prefix ends with the upstream path: the rest of it');
  t.equal(route('/odata/v2').forwardedPrefix, undefined, 'the prefix is the upstream path: nothing is taken off');
});

t.test('a route whose source has certificate-bound tokens presents that source’s client certificate', async (t) => {
  const { generateTestKey, selfSignedCertificate } = await import('../helpers/keys.ts');
  const bound = generateTestKey('ec');
  const own = generateTestKey('ec');
  const tls = { cert: selfSignedCertificate(bound), key: bound.privateKeyPem };
  const config = configSchema.parse({
    tokens: {
      bound: { tokenUrl: 'https://idp/t', clientId: 'c', authMethod: 'self_signed_tls_client_auth', tls, certificateBoundTokens: true },
      mtls: { tokenUrl: 'https://idp/t', clientId: 'c', authMethod: 'self_signed_tls_client_auth', tls },
    },
    routes: {
      '/bound': { target: 'https://a.example.com', token: 'bound' },
      '/own': { target: 'https://b.example.com', token: 'mtls', clientCert: selfSignedCertificate(own), clientKey: own.privateKeyPem },
      '/plain': { target: 'https://c.example.com', token: 'mtls' },
    },
  });
  const routes = RouteTable.fromConfig(config.routes, config.tokens);
  const route = (prefix: string) => routes.match(prefix)!.route;
  t.same([route('/bound').tls.cert, route('/bound').tls.key, route('/bound').certificateBoundTo], [tls.cert, tls.key, 'bound'], 'the bound source’s certificate and key');
  t.equal(route('/own').tls.key, own.privateKeyPem, 'an mTLS source without bound tokens leaves the route its own certificate');
  t.same([route('/plain').tls.cert, route('/plain').certificateBoundTo], [undefined, undefined], 'and presents none of the source’s');
});
