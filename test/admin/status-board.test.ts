import t from 'tap';
import type { RouteMetrics } from '../../src/admin/metrics.ts';
import { createStatusBoard } from '../../src/admin/status-board.ts';
import { formatInstant } from '../../src/clock.ts';
import { configSchema } from '../../src/config/schema.ts';
import { RouteTable } from '../../src/routes/table.ts';
import { TokenProvider } from '../../src/tokens/provider.ts';

const START = Date.UTC(2024, 4, 1, 12, 0, 0);

const config = configSchema.parse({
  tokens: { lake: { tokenUrl: 'https://idp.example/token', clientId: 'c', clientSecret: 'the-client-secret' } },
  routes: {
    '/sales': { target: 'https://lake.example/odata/', token: 'lake' },
    '/hr': { target: 'https://hr.example/api', token: 'lake' },
  },
});
const routes = RouteTable.fromConfig(config.routes);
const noProviders = new Map<string, TokenProvider>();

/** A board on a clock the test moves, and its page for the two routes. */
function board(options: { configFile?: string; version?: string } = {}) {
  const clock = { now: START };
  const status = createStatusBoard({ clock: { now: () => clock.now }, version: options.version ?? '1.2.3', configFile: options.configFile });
  return { clock, status, page: () => status.render({ routes, tokenProviders: noProviders }) };
}

/** The cells of a route's traffic row: requests, proxy errors, upstream 5xx. */
function trafficOf(page: string, prefix: string): string[] | undefined {
  const row = new RegExp(`<tr><td><code>${prefix}</code></td><td class="n">(\\d+)</td><td class="n">(\\d+)</td><td class="n">(\\d+)</td>`).exec(page);
  return row?.slice(1);
}

/** A metric series that notes every call, to show the board passes each one on. */
function recordingSeries(): { series: RouteMetrics; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    series: {
      requestFinished: (status, seconds, proxyError) => calls.push(`finished ${status} ${seconds} ${String(proxyError)}`),
      upstreamResponded: (seconds) => calls.push(`responded ${seconds}`),
      rewritten: (bytes) => calls.push(`rewritten ${bytes}`),
      waitedForConnection: () => calls.push('waited'),
    },
  };
}

t.test('the page shows the version, the config file, and the uptime by the clock it was given', async (t) => {
  const { clock, page } = board({ configFile: '/etc/bearer-proxy/proxy.yaml', version: '4.5.6' });
  clock.now += 65_000;
  const html = page();
  t.match(html, 'bearer-proxy <span class="muted">4.5.6</span>');
  t.match(html, 'Up 1m 5s.');
  t.match(html, '<code>/etc/bearer-proxy/proxy.yaml</code>');
  t.match(html, `<tr><th>Serving since</th><td>${formatInstant(START)} <span class="muted">(1m 5s ago)</span></td></tr>`, 'loaded when the board was made');
  t.match(html, 'none since start');
  t.match(board().page(), '<span class="muted">none (built in)</span>', 'no file: the config was built in');
});

t.test('a failed reload is listed with its problems and keeps the serving-since time; a later success moves it', async (t) => {
  const { clock, status, page } = board({ configFile: 'proxy.yaml' });
  clock.now += 30_000;
  status.reloadAttempted({ reason: 'SIGHUP', problems: ['proxy.yaml:4:1 routes: define at least one route', 'proxy.yaml:9:3 tokens.x: unknown key'] });
  clock.now += 5_000;
  let html = page();
  t.match(html, '<span class="bad">failed</span> 5s ago (SIGHUP): 2 problems; the previous config keeps serving');
  t.match(html, '<li><code>proxy.yaml:4:1 routes: define at least one route</code></li><li><code>proxy.yaml:9:3 tokens.x: unknown key</code></li>');
  t.match(html, /<p id="summary" class="bad">.*The last config reload failed; the previous config keeps serving\./);
  t.match(html, `${formatInstant(START)} <span class="muted">(35s ago)</span>`, 'still serving the config loaded at start');

  status.reloadAttempted({ reason: 'file changed', problems: [] });
  clock.now += 2_000;
  html = page();
  t.match(html, '<span class="ok">applied</span> 2s ago (file changed)');
  t.match(html, `${formatInstant(START + 35_000)} <span class="muted">(2s ago)</span>`, 'serving since the reload that succeeded');
  t.notMatch(html, 'define at least one route', 'the old failure is gone');
  t.match(html, '<p id="summary" class="ok">');
});

t.test('the reload report stands as told, whatever its caller does with its list afterwards', async (t) => {
  const { status, page } = board();
  const problems = ['first problem'];
  // The server hands reloadAttempted on as a bare function: it must not need its board as `this`.
  const { reloadAttempted } = status;
  reloadAttempted({ reason: 'SIGHUP', problems });
  problems.push('added later');
  problems[0] = 'changed later';
  const html = page();
  t.match(html, '1 problem; the previous config keeps serving');
  t.match(html, '<li><code>first problem</code></li>');
  t.notMatch(html, /added later|changed later/);
});

t.test('what a reload reports is escaped: a reason or problem cannot add markup', async (t) => {
  const { status, page } = board({ configFile: '/tmp/<b>proxy.yaml' });
  status.reloadAttempted({ reason: '<script>alert(1)</script>', problems: ['routes["/<img src=x onerror=alert(1)>"]: bad'] });
  const html = page();
  t.notMatch(html, /<script>|<img|<b>/);
  t.match(html, '(&#60;script&#62;alert(1)&#60;/script&#62;)');
  t.match(html, '<code>/tmp/&#60;b&#62;proxy.yaml</code>');
});

t.test("an observed route series still feeds the metrics, and the page counts its requests, proxy errors and the upstream's 5xx", async (t) => {
  const { clock, status, page } = board();
  const { series, calls } = recordingSeries();
  const observed = status.observe('/sales', series);
  observed.requestFinished(200, 0.01);
  observed.requestFinished(503, 0.2);
  observed.requestFinished(502, 0.1, true);
  observed.requestFinished(404, 0.001, false);
  observed.upstreamResponded(0.2);
  observed.rewritten(1234);
  observed.waitedForConnection();
  // The request handler records the proxy's own error codes on the board's recentErrors.
  status.recentErrors.record('UPSTREAM_UNREACHABLE');
  t.same(
    calls,
    ['finished 200 0.01 undefined', 'finished 503 0.2 undefined', 'finished 502 0.1 true', 'finished 404 0.001 false', 'responded 0.2', 'rewritten 1234', 'waited'],
    'every call reaches the metric series, as made',
  );

  let html = page();
  t.same(trafficOf(html, '/sales'), ['4', '1', '1'], "4 requests: the proxy's 502 is its own error, the 503 the upstream's");
  t.same(trafficOf(html, '/hr'), ['0', '0', '0'], 'a route without requests shows zeros');
  t.match(html, '<td><code>503</code></td><td>upstream</td><td class="n">1</td><td class="n">1</td>', "the upstream's 503, by status");
  t.match(html, '<td><code>UPSTREAM_UNREACHABLE</code></td><td>proxy</td><td class="n">1</td><td class="n">1</td>');
  t.notMatch(html, '<td><code>502</code></td>', "the proxy's own 502 is not counted as the upstream's");
  t.notMatch(html, '<td><code>404</code></td>', 'a 4xx is no upstream error');

  clock.now += 16 * 60_000;
  html = page();
  t.same(trafficOf(html, '/sales'), ['0', '0', '0'], 'past the 15-minute window the traffic is forgotten');
  t.match(html, '<td><code>503</code></td><td>upstream</td><td class="n">0</td><td class="n">1</td>', 'the errors since start stay');
});

t.test("a reload's new series for the same prefix adds to the traffic seen so far", async (t) => {
  const { status, page } = board();
  status.observe('/sales', recordingSeries().series).requestFinished(200, 0.01);
  status.observe('/sales', recordingSeries().series).requestFinished(500, 0.01);
  t.same(trafficOf(page(), '/sales'), ['2', '0', '1']);
});

t.test('the page lists the routes serving now, not every prefix ever observed', async (t) => {
  const { status, page } = board();
  status.observe('/gone', recordingSeries().series).requestFinished(200, 0.01);
  const html = page();
  t.equal(trafficOf(html, '/gone'), undefined, 'a prefix no longer configured has no row');
  t.ok(trafficOf(html, '/sales') && trafficOf(html, '/hr'), 'the configured ones do');
  // Route prefixes are config-chosen: one named like an Object member is just a prefix.
  for (const prefix of ['/constructor', '/__proto__']) status.observe(prefix, recordingSeries().series).requestFinished(200, 0.01);
  const odd = RouteTable.fromConfig(configSchema.parse({ ...config, routes: { '/constructor': config.routes['/sales'], '/__proto__': config.routes['/hr'] } }).routes);
  const oddPage = status.render({ routes: odd, tokenProviders: noProviders });
  t.same(trafficOf(oddPage, '/constructor'), ['1', '0', '0']);
  t.same(trafficOf(oddPage, '/__proto__'), ['1', '0', '0']);
});

t.test('the page names token sources and their state, and never shows a secret or a token', async (t) => {
  const clock = { now: START };
  const status = createStatusBoard({ clock: { now: () => clock.now }, version: '1.0.0' });
  const provider = new TokenProvider(
    {
      name: 'lake',
      kind: 'client credentials (client_secret_post)',
      fetchToken: async () => ({ value: 'the-access-token', tokenType: 'bearer', obtainedAt: clock.now, expiresAt: clock.now + 3_600_000 }),
    },
    { now: () => clock.now },
  );
  await provider.getToken();
  const html = status.render({ routes, tokenProviders: new Map([['lake', provider]]) });
  t.match(html, '<td>lake<br><span class="muted">client credentials (client_secret_post)</span></td><td><span class="ok">valid</span></td>');
  t.match(html, 'All token sources are healthy.');
  t.notMatch(html, /the-access-token|the-client-secret/);
});
