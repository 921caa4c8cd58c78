import t from 'tap';
import { parseRequestTarget } from '../../src/routes/request-target.ts';

t.test('accepted targets keep path and query byte for byte', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['/sales/Orders', '/sales/Orders', ''],
    ["/sales/Products('a%2Fb')", "/sales/Products('a%2Fb')", ''],
    ["/s?$filter=Name%20eq%20'A%20B'&x=a+b", '/s', "?$filter=Name%20eq%20'A%20B'&x=a+b"],
    ['/s?', '/s', '?'],
    ['/s?a=1?b=2', '/s', '?a=1?b=2'],
    ['/s/..foo/x', '/s/..foo/x', ''],
    ['/s/a.b/c', '/s/a.b/c', ''],
    ['/s/%C3%A9t%C3%A9', '/s/%C3%A9t%C3%A9', ''],
    ['/s/%FF', '/s/%FF', ''],
    ['/s?path=../../etc', '/s', '?path=../../etc'],
  ];
  for (const [raw, path, search] of cases) t.same(parseRequestTarget(raw), { path, search }, raw);
});

t.test('refused targets', async (t) => {
  const refused = [
    'http://evil.example/x',
    '//evil.example/x',
    '*',
    'evil.example:443',
    '/s/../admin',
    '/s/./x',
    '/s/..',
    '/s/%2e%2e/admin',
    '/s/%2E./admin',
    '/s/.%2e/admin',
    '/s/..%2fadmin',
    '/s/%2e%2e%2fadmin',
    '/s/%252e%252e/admin',
    '/s/%25252e%25252e/admin',
    '/s/..%5cadmin',
    '/s/%5c..%5cadmin',
    '/s/x\\..\\admin',
    '/s/%00',
    '/s/%zz',
    '/s/%4',
    '/s?q=%',
  ];
  for (const raw of refused) {
    t.throws(() => parseRequestTarget(raw), { name: 'ProxyError', code: 'BAD_REQUEST', status: 400 }, raw);
  }
});
