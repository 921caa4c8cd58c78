import t from 'tap';
import { RecentErrors } from '../../src/admin/recent-errors.ts';

t.test('counts by code, in a sliding window of minutes and since start', async (t) => {
  let now = 1_000_000 * 60_000;
  const errors = new RecentErrors({ now: () => now }, 15);
  t.same(errors.summary(), []);
  errors.record('UPSTREAM_TIMEOUT');
  errors.record('NO_ROUTE');
  errors.record('NO_ROUTE');
  t.same(errors.summary(), [
    { code: 'NO_ROUTE', total: 2, recent: 2 },
    { code: 'UPSTREAM_TIMEOUT', total: 1, recent: 1 },
  ]);
  now += 10 * 60_000;
  errors.record('UPSTREAM_TIMEOUT');
  t.same(
    errors.summary().find((entry) => entry.code === 'UPSTREAM_TIMEOUT'),
    { code: 'UPSTREAM_TIMEOUT', total: 2, recent: 2 },
    'within the window, both count',
  );
  now += 6 * 60_000;
  t.same(
    errors.summary(),
    [
      { code: 'UPSTREAM_TIMEOUT', total: 2, recent: 1 },
      { code: 'NO_ROUTE', total: 2, recent: 0 },
    ],
    '16 minutes later the first minute has left the window; totals stay',
  );
  now += 60 * 60_000;
  t.ok(errors.summary().every((entry) => entry.recent === 0));
});
