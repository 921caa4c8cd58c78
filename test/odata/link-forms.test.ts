import t from 'tap';
import { basePathOf, pathForms, routeLinks, urlForms, type LinkForm } from '../../src/odata/link-forms.ts';

const escaped = (text: string) => text.replaceAll('/', '\\/');

/** A form and its JSON-escaped twin, as every form comes. */
const both = (from: string, to: string, already?: string): LinkForm[] => [
  { from, to, ...(already === undefined ? {} : { already }) },
  { from: escaped(from), to: escaped(to), ...(already === undefined ? {} : { already: escaped(already) }) },
];

const formsOf = (upstreamBase: string, proxyBase: string) => {
  const links = routeLinks(upstreamBase, proxyBase);
  return { urls: urlForms(links), paths: pathForms(links) };
};

t.test("routeLinks splits the proxy's base URL into the origin and the prefix, as the client wrote them", async (t) => {
  t.same(routeLinks('https://api.example.com/odata', 'http://localhost:8080/sales'), { upstreamBase: 'https://api.example.com/odata', proxyOrigin: 'http://localhost:8080', prefix: '/sales' });
  t.same(routeLinks('https://a.example', 'http://[::1]:8080/a/b'), { upstreamBase: 'https://a.example', proxyOrigin: 'http://[::1]:8080', prefix: '/a/b' }, 'an IPv6 literal');
  t.same(routeLinks('https://a.example', 'http://Gateway.Corp:80/x'), { upstreamBase: 'https://a.example', proxyOrigin: 'http://Gateway.Corp:80', prefix: '/x' }, 'case and port kept as written');
  t.same(routeLinks('https://a.example', 'http://localhost:8080'), { upstreamBase: 'https://a.example', proxyOrigin: 'http://localhost:8080', prefix: '' }, 'no path at all');
});

t.test("basePathOf is the target's path, empty for an upstream's root", async (t) => {
  t.equal(basePathOf('https://api.example.com/odata/v4/sales'), '/odata/v4/sales');
  t.equal(basePathOf('https://api.example.com'), '');
  t.equal(basePathOf('http://[::1]:4004/odata'), '/odata');
  t.equal(basePathOf("https://api.example.com:8443/odata-v4/x_y.z~('q')"), "/odata-v4/x_y.z~('q')");
});

t.test("a target with a path: its own URL, with the default port, and the proxy's origin under each loopback name", async (t) => {
  const { urls, paths } = formsOf('https://api.example.com/odata/v4/sales', 'http://localhost:8080/sales');
  const to = 'http://localhost:8080/sales';
  t.same(urls, [
    ...both('https://api.example.com/odata/v4/sales', to),
    ...both('https://api.example.com:443/odata/v4/sales', to),
    // CAP's V2 adapter and ASP.NET Core build links from X-Forwarded-Host: the proxy's origin with the upstream's path.
    ...both('http://localhost:8080/odata/v4/sales', to),
    ...both('http://127.0.0.1:8080/odata/v4/sales', to),
    ...both('http://[::1]:8080/odata/v4/sales', to),
  ]);
  t.same(paths, both('"/odata/v4/sales', '"/sales'), 'absolute paths at the start of a quoted string');
  t.equal(paths[1]?.from, '"\\/odata\\/v4\\/sales', 'the escaped twin, as JSON writers that escape "/" spell it');
});

t.test('a default port is added only where none was written, and for the scheme in use', async (t) => {
  const plain = formsOf('http://h.example/svc', 'http://gateway:8080/svc2').urls.map((form) => form.from);
  t.ok(plain.includes('http://h.example:80/svc'), 'http gets :80');
  t.notOk(
    plain.some((from) => from.includes(':443')),
    'and not :443',
  );
  const explicit = formsOf('https://h.example:8443/svc', 'http://gateway:8080/svc2').urls.map((form) => form.from);
  t.same(
    explicit,
    ['https://h.example:8443/svc', escaped('https://h.example:8443/svc'), 'http://gateway:8080/svc', escaped('http://gateway:8080/svc')],
    'a port written out is the only spelling; a name that is no loopback has no aliases',
  );
});

t.test('a loopback target is also spelled with the other loopback names, without a form twice', async (t) => {
  const { urls } = formsOf('http://127.0.0.1:4004/odata/v2/sales', 'http://localhost:8080/salesv2');
  t.same(
    urls.filter((form) => !form.from.includes('\\/')).map((form) => form.from),
    [
      'http://127.0.0.1:4004/odata/v2/sales',
      'http://localhost:4004/odata/v2/sales',
      'http://[::1]:4004/odata/v2/sales',
      'http://localhost:8080/odata/v2/sales',
      'http://127.0.0.1:8080/odata/v2/sales',
      'http://[::1]:8080/odata/v2/sales',
    ],
  );
  const sameHost = formsOf('http://127.0.0.1:8080/a', 'http://localhost:8080/b').urls.map((form) => form.from);
  t.equal(new Set(sameHost).size, sameHost.length, 'the target and the proxy on one host and port: each spelling once');
  t.same(
    formsOf('https://a.example/x', 'http://LOCALHOST:8080/y')
      .urls.filter((form) => !form.from.includes('\\/'))
      .map((form) => form.from)
      .slice(-3),
    ['http://LOCALHOST:8080/x', 'http://127.0.0.1:8080/x', 'http://[::1]:8080/x'],
    'a loopback name in any case',
  );
});

t.test('an upstream\'s root: no path forms, so OData V2\'s "/Date(…)/" strings are never taken for links', async (t) => {
  const { urls, paths } = formsOf('https://api.example.com', 'http://localhost:8080/api');
  t.same(paths, []);
  t.same(urls, [
    ...both('https://api.example.com', 'http://localhost:8080/api'),
    ...both('https://api.example.com:443', 'http://localhost:8080/api'),
    // The proxy's URL starts with this spelling: a link that goes on with /api names the route already.
    ...both('http://localhost:8080', 'http://localhost:8080/api', '/api'),
    ...both('http://127.0.0.1:8080', 'http://localhost:8080/api'),
    ...both('http://[::1]:8080', 'http://localhost:8080/api'),
  ]);
});

t.test('a prefix below the upstream path marks what already names the route, so no link is rewritten twice', async (t) => {
  const { urls, paths } = formsOf('https://api.example.com/odata/v4', 'http://localhost:8080/odata/v4/sales');
  t.same(
    urls.filter((form) => form.already !== undefined),
    both('http://localhost:8080/odata/v4', 'http://localhost:8080/odata/v4/sales', '/sales'),
  );
  t.same(paths, both('"/odata/v4', '"/odata/v4/sales', '/sales'));
  // Starting alike is not enough: /salesv2 does not lie below /sales.
  const { urls: alike, paths: alikePaths } = formsOf('https://api.example.com/sales', 'http://localhost:8080/salesv2');
  t.ok(
    alike.every((form) => form.already === undefined),
    'no "already" when the next character is no "/"',
  );
  t.same(alikePaths, both('"/sales', '"/salesv2'));
});

t.test('a spelling that is already the route’s URL is no form at all', async (t) => {
  const { urls, paths } = formsOf('https://api.example.com/sales', 'http://localhost:8080/sales');
  t.notOk(
    urls.some((form) => form.from === form.to || form.from === 'http://localhost:8080/sales'),
    'the proxy’s own URL is not replaced by itself',
  );
  t.ok(
    urls.some((form) => form.from === 'http://127.0.0.1:8080/sales'),
    'its other loopback spellings still are',
  );
  t.same(paths, [], 'the same path on both sides: nothing to rewrite');
});

t.test('every form maps to the proxy’s base, or to the route prefix for a path, never anywhere else', async (t) => {
  const layouts: Array<[string, string]> = [
    ['https://api.example.com/odata/v4/sales', 'http://localhost:8080/sales'],
    ['https://api.example.com', 'http://gateway.corp:8080/api'],
    ['http://[::1]:4004/odata', 'http://[::1]:8080/o'],
    ['https://api.example.com/a$&b', 'http://127.0.0.1:8080/x$1'],
  ];
  for (const [upstreamBase, proxyBase] of layouts) {
    const { urls, paths } = formsOf(upstreamBase, proxyBase);
    const prefix = routeLinks(upstreamBase, proxyBase).prefix;
    t.ok(
      urls.every((form) => form.to === proxyBase || form.to === escaped(proxyBase)),
      `${upstreamBase} → ${proxyBase}: URLs`,
    );
    t.ok(
      paths.every((form) => form.to === `"${prefix}` || form.to === escaped(`"${prefix}`)),
      `${upstreamBase} → ${proxyBase}: paths`,
    );
    t.ok(urls.length > 0 && urls.length % 2 === 0, 'plain and escaped in pairs');
  }
});
