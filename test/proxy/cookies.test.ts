import t from 'tap';
import { scopeSetCookie } from '../../src/proxy/cookies.ts';

t.test('a cookie is scoped to its route: Path follows the route prefix, Domain goes', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['SESSION=abc; Path=/; HttpOnly', 'SESSION=abc; Path=/sales; HttpOnly', 'Path=/ would reach every route'],
    ['SESSION=abc', 'SESSION=abc; Path=/sales', 'no Path'],
    ['SESSION=abc; Path=/odata/v4', 'SESSION=abc; Path=/sales', 'the base path itself'],
    ['SESSION=abc; Path=/odata/v4/', 'SESSION=abc; Path=/sales', 'the base path with a slash'],
    ['x=1; path=/odata/v4/People; Secure', 'x=1; Path=/sales/People; Secure', 'below the base path, in any case'],
    ['x=1; Path=/other', 'x=1; Path=/sales', 'outside the base path'],
    ['x=1; Path=/odata/v4x', 'x=1; Path=/sales', 'not a whole segment'],
    ['x=1; Domain=api.example.com; Path=/odata/v4; SameSite=Lax', 'x=1; Path=/sales; SameSite=Lax', 'the upstream’s Domain is dropped'],
    ['x=1; Path=relative', 'x=1; Path=/sales', 'a Path not starting with "/"'],
    ['x="a;b"; Max-Age=60', 'x="a; Path=/sales; b"; Max-Age=60', 'a quoted ";" is split like browsers split it'],
    ['x=1;Path=/;Expires=Wed, 21 Oct 2026 07:28:00 GMT', 'x=1; Path=/sales; Expires=Wed, 21 Oct 2026 07:28:00 GMT', 'commas in Expires stay'],
  ];
  for (const [input, expected, name] of cases) t.equal(scopeSetCookie(input, '/sales', '/odata/v4'), expected, name);
});

t.test('a route to the upstream’s root keeps the cookie’s path under the prefix', async (t) => {
  t.equal(scopeSetCookie('x=1; Path=/', '/api', ''), 'x=1; Path=/api');
  t.equal(scopeSetCookie('x=1; Path=/a/b', '/api', ''), 'x=1; Path=/api/a/b');
});
