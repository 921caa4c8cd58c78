import t from 'tap';
import { adminEndpoint } from '../../src/admin/endpoints.ts';
import { RESERVED_PATHS } from '../../src/admin/reserved-paths.ts';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/load.ts';
import { startProxy } from '../helpers/proxy.ts';

const withRoute = (prefix: string) => `tokens:
  lake:
    tokenUrl: https://idp.example.com/token
    clientId: app
    clientSecret: \${LAKE_SECRET}
routes:
  /sales:
    target: https://api.example.com/odata/
    token: lake
  ${JSON.stringify(prefix)}:
    target: https://api.example.com/other/
    token: lake
`;

/** The problems parseConfig reports for a config with one more route at `prefix`, as `check` prints them. */
function problemsWith(prefix: string): string[] {
  try {
    parseConfig(withRoute(prefix), { env: { LAKE_SECRET: 's' }, source: 'proxy.yaml' });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => formatProblem('proxy.yaml', problem));
    throw error;
  }
  return [];
}

t.test('every reserved path is one plain segment, listed once, with a handler of its own', async (t) => {
  t.ok(RESERVED_PATHS.length > 0);
  t.equal(new Set(RESERVED_PATHS).size, RESERVED_PATHS.length, 'no path twice');
  for (const path of RESERVED_PATHS) {
    // The loader refuses a prefix below one by `${path}/`: that only works for a path without a trailing slash.
    t.match(path, /^\/[A-Za-z0-9_]+$/, `${path} is one segment`);
    t.not(adminEndpoint(path), undefined, `${path} has an endpoint`);
  }
});

t.test('a route prefix equal to a reserved path, or below one, is refused naming that path', async (t) => {
  for (const path of RESERVED_PATHS) {
    for (const prefix of [path, `${path}/x`, `${path}/a/b`]) {
      t.same(problemsWith(prefix), [`proxy.yaml:10:3 routes[${JSON.stringify(prefix)}]: route prefix "${prefix}" uses the reserved path ${path}`], prefix);
    }
  }
});

t.test('a prefix that only looks like a reserved path is a route like any other', async (t) => {
  for (const path of RESERVED_PATHS) {
    for (const prefix of [`${path}x`, `${path}-data`, `/api${path}`, path.toUpperCase()]) t.same(problemsWith(prefix), [], prefix);
  }
});

t.test('a running proxy answers each reserved path itself, uncached', async (t) => {
  const proxy = await startProxy({
    tokens: { lake: { tokenUrl: 'https://idp.example/token', clientId: 'c', clientSecret: 's' } },
    routes: { '/sales': { target: 'https://api.example/odata', token: 'lake' } },
  });
  t.teardown(() => proxy.close());
  for (const path of RESERVED_PATHS) {
    const response = await fetch(`${proxy.url}${path}`);
    await response.arrayBuffer();
    t.equal(response.status, 200, `${path} answers 200`);
    t.equal(response.headers.get('cache-control'), 'no-store', `${path}: a probe answer is never cached`);
  }
});
