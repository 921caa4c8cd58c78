import t from 'tap';
import { Counter, Registry } from 'prom-client';
import { BoundCounter } from '../../src/admin/bound-counter.ts';

t.test('the same exposition text as prom-client’s own Counter for the same increments', async (t) => {
  const ours = new Registry();
  const theirs = new Registry();
  const bound = new BoundCounter('c_total', 'A counter.', ['route', 'status']);
  ours.registerMetric(bound as never);
  const reference = new Counter({ name: 'c_total', help: 'A counter.', labelNames: ['route', 'status'], registers: [theirs] });
  const increments: Array<[string, string, number | undefined]> = [
    ['/a', '200', undefined],
    ['/b', '404', 1],
    ['/a', '200', 2.5],
    ['/a', '502', undefined],
    ['/b', '404', 1024],
  ];
  const bind = (route: string, status: string) => bound.bind(route, status);
  for (const [route, status, by] of increments) {
    bind(route, status)(by);
    reference.inc({ route, status }, by ?? 1);
  }
  t.equal(await ours.metrics(), await theirs.metrics());
});

t.test('binding again gives the same series; uncounted series are not shown; reset empties', async (t) => {
  const bound = new BoundCounter('c_total', 'c', ['route']);
  const count = bound.bind('/a');
  count();
  bound.bind('/a')(2);
  bound.bind('/idle');
  t.same(bound.get().values, [{ labels: { route: '/a' }, value: 3 }]);
  bound.reset();
  t.same(bound.get().values, []);
  count();
  t.same(bound.get().values, [{ labels: { route: '/a' }, value: 1 }], 'a bound increment counts again after a reset');
});

t.test('a label value missing is a bug, told at once rather than exposed as a wrong series', async (t) => {
  t.throws(() => new BoundCounter('c_total', 'c', ['route', 'status']).bind('/a'), /has labels route, status; got 1 values/);
});
