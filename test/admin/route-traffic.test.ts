import t from 'tap';
import { RouteTraffic, TrafficByRoute } from '../../src/admin/route-traffic.ts';

t.test('requests, proxy errors and upstream 5xx over a sliding window of minutes', async (t) => {
  let now = 1_000_000 * 60_000;
  const traffic = new RouteTraffic({ now: () => now }, 15);
  t.same(traffic.summary(), { requests: 0, proxyErrors: 0, upstream5xx: 0 }, 'no latency without requests');
  traffic.record(200, 0.01, false);
  traffic.record(502, 0.002, true);
  traffic.record(503, 0.5, false);
  traffic.record(404, 0.001, false);
  t.match(traffic.summary(), { requests: 4, proxyErrors: 1, upstream5xx: 1 }, "a 502 the proxy made is not the upstream's; a 404 is neither");
  now += 10 * 60_000;
  traffic.record(200, 0.01, false);
  t.match(traffic.summary(), { requests: 5 });
  now += 5 * 60_000;
  t.match(traffic.summary(), { requests: 1, proxyErrors: 0, upstream5xx: 0 }, '15 minutes on, the first minute has left the window');
  now += 15 * 60_000 * 7 + 60_000 * 3;
  traffic.record(200, 0.01, false);
  t.match(traffic.summary(), { requests: 1 }, 'a slot reused long after is emptied first');
  now += 60 * 60_000;
  t.same(traffic.summary(), { requests: 0, proxyErrors: 0, upstream5xx: 0 });
});

t.test('p50 and p95 from the latency bins', async (t) => {
  const traffic = new RouteTraffic({ now: () => 0 });
  for (let i = 0; i < 90; i++) traffic.record(200, 0.015, false); // the 10-20 ms bin
  for (let i = 0; i < 10; i++) traffic.record(200, 1.5, false); // the 1-2 s bin
  const { p50Ms, p95Ms } = traffic.summary();
  t.ok(p50Ms! > 10 && p50Ms! <= 20, `p50 ${p50Ms} ms in the 10-20 ms bin`);
  t.ok(p95Ms! > 1_000 && p95Ms! <= 2_000, `p95 ${p95Ms} ms in the 1-2 s bin`);
  const slow = new RouteTraffic({ now: () => 0 });
  slow.record(200, 900, false);
  t.equal(slow.summary().p95Ms, 600_000, 'past the last bound: the last bound');
  const fast = new RouteTraffic({ now: () => 0 });
  fast.record(200, 0, false);
  t.ok(fast.summary().p50Ms! <= 1);
});

t.test('one window per route prefix, kept across reloads', async (t) => {
  const routes = new TrafficByRoute({ now: () => 0 });
  t.equal(routes.forRoute('/a'), routes.forRoute('/a'));
  routes.forRoute('/a').record(200, 0.01, false);
  t.match(routes.summary('/a'), { requests: 1 });
  t.same(routes.summary('/unknown'), { requests: 0, proxyErrors: 0, upstream5xx: 0 });
});
