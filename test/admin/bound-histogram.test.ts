import t from 'tap';
import { Histogram, Registry } from 'prom-client';
import { BoundHistogram } from '../../src/admin/bound-histogram.ts';

const BUCKETS = [0.005, 0.01, 0.1, 1, 10];

t.test('the same exposition text as prom-client’s own Histogram for the same observations', async (t) => {
  const ours = new Registry();
  const theirs = new Registry();
  const bound = new BoundHistogram('h_seconds', 'A histogram.', 'route', BUCKETS);
  ours.registerMetric(bound as never);
  const reference = new Histogram({ name: 'h_seconds', help: 'A histogram.', labelNames: ['route'], buckets: BUCKETS, registers: [theirs] });
  const observations: Array<[string, number]> = [
    ['/a', 0.001],
    ['/a', 0.005],
    ['/a', 0.0051],
    ['/b', 0.5],
    ['/a', 10],
    ['/a', 11],
    ['/b', 0],
    ['/b', 1],
  ];
  const observers = new Map(['/a', '/b'].map((route) => [route, bound.bind(route)]));
  for (const [route, value] of observations) {
    observers.get(route)!(value);
    reference.observe({ route }, value);
  }
  t.equal(await ours.metrics(), await theirs.metrics());
});

t.test('binding again gives the same series; unobserved series are not shown; reset empties', async (t) => {
  const bound = new BoundHistogram('h_seconds', 'h', 'route', BUCKETS);
  bound.bind('/a')(0.2);
  bound.bind('/a')(0.3);
  bound.bind('/idle');
  const counts = () => bound.get().values.filter((value) => value.metricName === 'h_seconds_count');
  t.same(counts(), [{ metricName: 'h_seconds_count', labels: { route: '/a' }, value: 2 }]);
  bound.reset();
  t.same(counts(), []);
});
