import type { IncomingMessage } from 'node:http';
import t, { type Test } from 'tap';
import { postClientSource, startIdp } from '../helpers/idp.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startUpstream, type UpstreamHandler } from '../helpers/upstream.ts';

/** An IdP, an upstream with this handler, and a proxy whose routes (prefix → route keys) all lead to it. */
async function stack(t: Test, handler: UpstreamHandler, routes: Record<string, Record<string, unknown>>) {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience, handler });
  t.teardown(() => upstream.close());
  const proxy = await startProxy({
    tokens: { idp: postClientSource(idp) },
    routes: Object.fromEntries(Object.entries(routes).map(([prefix, route]) => [prefix, { target: upstream.url, token: 'idp', ...route }])),
  });
  t.teardown(() => proxy.close());
  return { upstream, proxy };
}

const connectionOf = (req: IncomingMessage) => `${req.socket.remoteAddress}:${req.socket.remotePort}`;

t.test('a burst of requests reaches the upstream over at most maxConnections connections, and every one is answered', async (t) => {
  const connections = new Set<string>();
  let running = 0;
  let mostAtOnce = 0;
  const { proxy } = await stack(
    t,
    (req, res) => {
      connections.add(connectionOf(req));
      mostAtOnce = Math.max(mostAtOnce, ++running);
      setTimeout(() => {
        running--;
        res.end('{"value":[]}');
      }, 100);
    },
    { '/api': { maxConnections: 2 } },
  );
  await fetch(`${proxy.url}/api/warm`); // the token, so the burst below is about connections only
  connections.clear();
  const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => fetch(`${proxy.url}/api/Orders?i=${i}`).then((response) => response.status)));
  t.same(statuses, Array(10).fill(200));
  t.equal(mostAtOnce, 2, 'two at a time at the upstream');
  t.ok(connections.size <= 2, `over ${connections.size} connection(s)`);
});

t.test('a request that waits for a connection longer than its route timeout gets 504 and is never sent', async (t) => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  // Two routes to one upstream with the same bound share its one connection: /export holds it.
  const { upstream, proxy } = await stack(t, (req, res) => void (req.url === '/warm' ? res.end('{}') : held.then(() => res.end('{"value":[]}'))), {
    '/export': { maxConnections: 1 },
    '/api': { maxConnections: 1, timeout: '300ms' },
  });
  await fetch(`${proxy.url}/export/warm`);
  const exporting = fetch(`${proxy.url}/export/Big`);
  await waitFor(() => upstream.requests.length === 2);
  const waiting = await fetch(`${proxy.url}/api/Orders`);
  t.equal(waiting.status, 504);
  const { error } = (await waiting.json()) as { error: { code: string; message: string } };
  t.equal(error.code, 'UPSTREAM_TIMEOUT');
  t.match(error.message, /not sent.*all 1 connections.*maxConnections.*0\.3s/);
  release();
  t.equal((await exporting).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(
    upstream.requests.map(({ url }) => url),
    ['/warm', '/Big'],
    'the request that gave up never reached the upstream, even once the connection was free',
  );
  const busy = proxy.logs.filter((line) => /every connection to the upstream is busy/.test(String(line.msg)));
  t.equal(busy.length, 1, 'the wait is logged as a warning, once');
  t.match(busy[0], { level: 40, upstream: new URL(upstream.url).origin, maxConnections: 1 });
  const samples = parsePrometheusText(await (await fetch(`${proxy.url}/metrics`)).text());
  t.equal(sampleValue(samples, 'bearer_proxy_upstream_connection_waits_total', { route: '/api' }), 1, 'the wait is counted for its route');
  t.equal(sampleValue(samples, 'bearer_proxy_upstream_connection_waits_total', { route: '/export' }), undefined, 'the route holding the connection never waited');
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 5_000) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
