import t from 'tap';
import { parseRequestTarget } from '../../src/routes/request-target.ts';

t.test('accepted targets keep path and query byte for byte', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['/', '/', ''],
    ['/sales/Orders', '/sales/Orders', ''],
    ["/sales/Products('a%2Fb')", "/sales/Products('a%2Fb')", ''],
    ["/sales/People('O''Neil')", "/sales/People('O''Neil')", ''],
    ["/s?$filter=Name eq 'A%20B'", '/s', "?$filter=Name eq 'A%20B'"],
    ["/s?$filter=Name%20eq%20'A%20B'&x=a+b", '/s', "?$filter=Name%20eq%20'A%20B'&x=a+b"],
    ['/s?$top=10&$skip=20&$select=Id,Name', '/s', '?$top=10&$skip=20&$select=Id,Name'],
    ['/s/a+b', '/s/a+b', ''],
    ['/s?', '/s', '?'],
    ['/s?a=1?b=2', '/s', '?a=1?b=2'],
    ['/s?q=%2e%2e%2f', '/s', '?q=%2e%2e%2f'],
    ['/s?path=../../etc', '/s', '?path=../../etc'],
    ['/s/..foo/x', '/s/..foo/x', ''],
    ['/s/foo../x', '/s/foo../x', ''],
    ['/s/.../x', '/s/.../x', ''],
    ['/s/.hidden', '/s/.hidden', ''],
    ['/s/a.b/c', '/s/a.b/c', ''],
    ['/s/%2e%2e%2e', '/s/%2e%2e%2e', ''],
    ['/s/%2Fx', '/s/%2Fx', ''],
    ['/s/%C3%A9t%C3%A9', '/s/%C3%A9t%C3%A9', ''],
    ['/s//x', '/s//x', ''],
    ['/s/People;v=1/x', '/s/People;v=1/x', ''],
    ['/s/..x;a/y', '/s/..x;a/y', ''],
  ];
  for (const [raw, path, search] of cases) t.same(parseRequestTarget(raw), { path, search }, raw);
});

t.test('refused targets', async (t) => {
  const refused: Array<[string, string]> = [
    ['http://evil.example/x', 'absolute-form'],
    ['HTTP://evil.example/x', 'absolute-form, upper case'],
    ['//evil.example/x', 'scheme-relative'],
    ['*', 'asterisk-form'],
    ['evil.example:443', 'authority-form (CONNECT)'],
    ['', 'empty'],
    ['sales/x', 'no leading slash'],
    ['/s/../admin', '..'],
    ['/s/./x', '.'],
    ['/s/..', '.. at the end'],
    ['/s/.', '. at the end'],
    ['/..', '.. first'],
    ['/s/%2e%2e/admin', '%2e%2e'],
    ['/s/%2E%2E/admin', '%2E%2E'],
    ['/s/%2E./admin', '%2E.'],
    ['/s/.%2e/admin', '.%2e'],
    ['/s/%2e/admin', '%2e'],
    ['/s/..%2fadmin', '..%2f'],
    ['/s/..%2Fadmin', '..%2F'],
    ['/s/%2e%2e%2fadmin', '%2e%2e%2f'],
    ['/s/x%2f..%2fadmin', '%2f..%2f inside a segment'],
    ['/s/%252e%252e/admin', 'double-encoded'],
    ['/s/%25252e%25252e/admin', 'triple-encoded'],
    ['/s/%252e%252e%252fadmin', 'double-encoded with slash'],
    ['/s/..\\admin', '..\\'],
    ['/s/x\\..\\admin', '\\..\\'],
    ['/s/..%5cadmin', '..%5c'],
    ['/s/%5c..%5cadmin', '%5c..%5c'],
    ['/s/%5C%2e%2e%5C', '%5C%2e%2e%5C'],
    ['/s/%255c..%255c', 'double-encoded backslash'],
    ['/s/%00', '%00'],
    ['/s/a%00b', '%00 inside a segment'],
    ['/s/%2500', 'double-encoded %00'],
    ['/s/%2e%2e%2f%ff', 'invalid UTF-8 after the dots does not hide them'],
    ['/s/%FF%2f%252%65%252%65', 'invalid UTF-8 before double-encoded dots does not hide them (found by fuzzing)'],
    ['/s/..#x', '"#": an upstream parsing a URL would read "/s/.." (found by fuzzing)'],
    ['/s/$metadata#People', '"#": fragments are never sent in a request target'],
    ['/s/..;/admin', '"..;": Tomcat, Jetty and Spring drop the ";…" path parameter'],
    ['/s/..;jsessionid=1/admin', '"..;jsessionid=1"'],
    ['/s/.;x/admin', '".;x"'],
    ['/s/%2e%2e;x/admin', 'encoded dots with a path parameter'],
    ['/s/..%3bx/admin', 'an encoded ";"'],
    ['/s/%252e%252e%253b/admin', 'double-encoded dots and ";"'],
    ['/s/%zz', 'bad percent-encoding %zz'],
    ['/s/%4', 'bad percent-encoding %4'],
    ['/s/%', 'a lone %'],
    ['/s/%G0', 'bad percent-encoding %G0'],
    ['/s?q=%', 'bad percent-encoding in the query'],
    ['/s?q=%zz', 'bad percent-encoding %zz in the query'],
    ['/s/%FF', 'invalid UTF-8 (a Latin-1 byte)'],
    ['/s/%C0%AE%C0%AE', 'overlong UTF-8 for ".."'],
    ['/s/%EF%BC%8E%EF%BC%8E', 'full-width "．．", which NFKC reads as ".."'],
  ];
  for (const [raw, name] of refused) {
    t.throws(() => parseRequestTarget(raw), { name: 'ProxyError', code: 'BAD_REQUEST', status: 400 }, `${name}: ${JSON.stringify(raw)}`);
  }
});

t.test('the refusal says why', async (t) => {
  t.throws(() => parseRequestTarget('http://x/'), { message: /origin-form/ });
  t.throws(() => parseRequestTarget('/s/%zz'), { message: /malformed percent-encoding/ });
  t.throws(() => parseRequestTarget('/s/%2e%2e/x'), { message: /Dot segments/ });
});
