import t from 'tap';
import { configSchema } from '../../src/config/schema.ts';
import { RouteTable } from '../../src/routes/table.ts';

const table = new RouteTable(
  configSchema.parse({
    tokens: { a: { tokenUrl: 'https://idp/t', clientId: 'c', clientSecret: 's' } },
    routes: {
      '/sales': { target: 'https://api.example.com/odata/v4/sales/', token: 'a', headers: { 'X-Api-Key': 'k' } },
      '/sales/eu': { target: 'https://eu.example.com:8443', token: 'a', timeout: 30 },
      '/hr': { target: 'http://hr.local/api', token: 'a' },
    },
  }).routes,
);

t.test('longest whole-segment prefix wins', async (t) => {
  const cases: Array<[string, string | undefined, string]> = [
    ['/sales', '/sales', ''],
    ['/sales/', '/sales', '/'],
    ['/sales/Orders', '/sales', '/Orders'],
    ["/sales/Orders('a%2Fb')", '/sales', "/Orders('a%2Fb')"],
    ['/sales/eu', '/sales/eu', ''],
    ['/sales/eu/Orders', '/sales/eu', '/Orders'],
    ['/sales/europe', '/sales', '/europe'],
    ['/salesforce', undefined, ''],
    ['/hr/x', '/hr', '/x'],
    ['/', undefined, ''],
    ['/HR/x', undefined, ''],
  ];
  for (const [path, prefix, rest] of cases) {
    const match = table.match(path);
    t.equal(match?.route.prefix, prefix, `${path} → ${prefix}`);
    if (prefix) t.equal(match?.rest, rest, `${path} rest`);
  }
});

t.test('routes are prepared once at load', async (t) => {
  const sales = table.match('/sales')!.route;
  t.equal(sales.origin, 'https://api.example.com');
  t.equal(sales.basePath, '/odata/v4/sales', 'trailing slash dropped so the rest follows it');
  t.equal(sales.baseUrl, 'https://api.example.com/odata/v4/sales');
  t.same(sales.headers, [['x-api-key', 'k']]);
  const eu = table.match('/sales/eu')!.route;
  t.equal(eu.basePath, '');
  t.equal(eu.origin, 'https://eu.example.com:8443');
  t.equal(eu.timeoutMs, 30_000);
  t.same(table.prefixes, ['/hr', '/sales', '/sales/eu']);
});
