import t from 'tap';
import { ADMIN_ENDPOINTS, adminEndpoint } from '../../src/admin/endpoints.ts';
import { RESERVED_PATHS } from '../../src/admin/reserved-paths.ts';

t.test('the table answers exactly the reserved paths', async (t) => {
  t.same(Object.keys(ADMIN_ENDPOINTS).sort(), [...RESERVED_PATHS].sort());
  for (const path of RESERVED_PATHS) t.equal(adminEndpoint(path), ADMIN_ENDPOINTS[path], path);
  for (const path of ['/', '/healthz/', '/metrics/x', '/HEALTHZ', '/toString', '/__proto__', '/constructor']) t.equal(adminEndpoint(path), undefined, `${path} is no endpoint`);
});

t.test('probes answer without credentials; /metrics and /_status ask for them and move to an admin listener', async (t) => {
  const summary = Object.fromEntries(Object.entries(ADMIN_ENDPOINTS).map(([path, endpoint]) => [path, [endpoint.beforeAuth, endpoint.movesToAdminListener]]));
  t.same(summary, { '/healthz': [true, false], '/readyz': [true, false], '/metrics': [false, true], '/_status': [false, true] });
});
