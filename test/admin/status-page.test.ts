import t from 'tap';
import { formatDuration, renderStatusPage, type StatusModel } from '../../src/admin/status-page.ts';

const model: StatusModel = {
  version: '1.2.3',
  startedAt: 0,
  now: 3_725_000,
  config: { file: '/etc/bearer-proxy/proxy.yaml', loadedAt: 0 },
  routes: [{ prefix: '/sales', target: 'https://lake.example/odata?<x>', tokenSource: 'lake', rewriteUrls: true }],
  traffic: [{ prefix: '/sales', requests: 200, proxyErrors: 3, upstream5xx: 1, p50Ms: 12.4, p95Ms: 1_840 }],
  trafficWindowMinutes: 15,
  tokenSources: [
    {
      name: 'lake',
      kind: 'client credentials (<tls_client_auth>)',
      state: 'valid',
      obtainedAt: 3_725_000 - 120_000,
      expiresAt: 3_725_000 + 600_000,
      nextFetch: { reason: 'refresh', at: 3_725_000 + 456_000 },
      fetches: 3,
      fetchFailures: 1,
      lastFailure: { code: 'TOKEN_UNAVAILABLE', message: 'the IdP <script>alert(1)</script> did not answer', at: 3_000_000 },
    },
    { name: 'idle', state: 'empty', fetches: 0, fetchFailures: 0 },
  ],
  errors: [
    { code: 'UPSTREAM_TIMEOUT', origin: 'proxy', total: 4, recent: 1 },
    { code: '503', origin: 'upstream', total: 2, recent: 2 },
  ],
  errorWindowMinutes: 15,
};

t.test('the page shows version, uptime, routes, token sources and errors, all escaped', async (t) => {
  const html = renderStatusPage(model);
  t.match(html, /^<!doctype html>/);
  t.match(html, 'bearer-proxy <span class="muted">1.2.3</span>');
  t.match(html, 'Up 1h 2m.');
  t.match(html, '<code>https://lake.example/odata?&#60;x&#62;</code>', 'values are escaped');
  t.notMatch(html, '<script>', 'no markup from a value survives');
  t.match(html, '&#60;script&#62;alert(1)&#60;/script&#62;');
  t.match(html, '<span class="ok">valid</span>');
  t.match(html, '<td>lake<br><span class="muted">client credentials (&#60;tls_client_auth&#62;)</span></td>', 'each source’s kind under its name, escaped');
  t.match(html, '(in 10m 0s)');
  t.match(html, '<code>TOKEN_UNAVAILABLE</code> 12m 5s ago');
  t.match(html, 'not fetched yet');
  t.match(html, '<td><code>UPSTREAM_TIMEOUT</code></td><td>proxy</td><td class="n">1</td><td class="n">4</td>');
  t.match(html, '<td><code>503</code></td><td>upstream</td><td class="n">2</td><td class="n">2</td>', "upstream 5xx beside the proxy's errors");
  t.match(html, 'All token sources are healthy.');
  t.match(
    html,
    '<td><code>/sales</code></td><td class="n">200</td><td class="n">3</td><td class="n">1</td><td class="n"><span class="bad">2.0%</span></td><td class="n">~12 ms</td><td class="n">~1.84 s</td>',
    'traffic, error rate and latency',
  );
  t.match(html, '<td>2m 0s ago</td>', 'when the token was fetched');
  t.match(html, 'refresh in 7m 36s', 'and from when it is refreshed');
  t.match(html, /<a href="\/metrics">\/metrics<\/a><a href="\/healthz">\/healthz<\/a><a href="\/readyz">\/readyz<\/a>/);
  t.match(html, '<code>/etc/bearer-proxy/proxy.yaml</code>');
  t.match(html, 'none since start');
  t.match(html, '<link rel="icon" href="data:,">', 'no favicon request from this page');
  t.match(
    renderStatusPage({ ...model, tokenSources: [{ name: 'x', state: 'expired', expiresAt: 0, fetches: 1, fetchFailures: 0 }], errors: [] }),
    /A token source has no valid token[\s\S]*No error answers since start/,
  );
});

t.test('a source that never got a token because its fetches fail is not healthy', async (t) => {
  const failing: StatusModel['tokenSources'][number] = {
    name: 'down',
    state: 'failing',
    fetches: 2,
    fetchFailures: 2,
    lastFailure: { code: 'TOKEN_UNAVAILABLE', message: 'the identity provider refused the connection', at: 3_700_000 },
  };
  const html = renderStatusPage({ ...model, tokenSources: [model.tokenSources[1]!, failing] });
  t.match(html, '<p id="summary" class="bad">A token source has no valid token.');
  t.notMatch(html, 'All token sources are healthy.');
  t.match(html, '<td>down</td><td><span class="bad">no token (fetch failed)</span></td>');
  t.match(html, '<td>idle</td><td><span class="muted">not fetched yet</span></td>', 'one not used yet stays neutral');
});

t.test('formatDuration', async (t) => {
  t.same([0, 59_999, 60_000, 3_599_000, 3_600_000, 172_800_000 + 3_600_000].map(formatDuration), ['0s', '59s', '1m 0s', '59m 59s', '1h 0m', '2d 1h']);
});

t.test('a failed reload shows its problems, and the page says the previous config serves', async (t) => {
  const html = renderStatusPage({
    ...model,
    config: {
      file: 'C:\\ProgramData\\bearer-proxy\\proxy.yaml',
      loadedAt: 0,
      lastReload: { at: 3_665_000, reason: 'file changed', problems: ['proxy.yaml:3:5 tokens.lake.scopes: unknown key "scopes" (did you mean "scope"?)', 'proxy.yaml:9:1 <b>'] },
    },
  });
  t.match(html, /<p id="summary" class="bad">All token sources are healthy\. The last config reload failed; the previous config keeps serving\./);
  t.match(html, '<span class="bad">failed</span> 1m 0s ago (file changed): 2 problems; the previous config keeps serving');
  t.match(html, '<li><code>proxy.yaml:3:5 tokens.lake.scopes: unknown key &#34;scopes&#34; (did you mean &#34;scope&#34;?)</code></li>');
  t.match(html, '<li><code>proxy.yaml:9:1 &#60;b&#62;</code></li>');
  const applied = renderStatusPage({ ...model, config: { file: 'p.yaml', loadedAt: 3_665_000, lastReload: { at: 3_665_000, reason: 'SIGHUP', problems: [] } } });
  t.match(applied, '<span class="ok">applied</span> 1m 0s ago (SIGHUP)');
  t.match(applied, '<p id="summary" class="ok">');
});

t.test('next fetch: a retry after a failure, a due refresh, a fetch under way; an idle route', async (t) => {
  const row = (source: Partial<StatusModel['tokenSources'][number]>) => renderStatusPage({ ...model, tokenSources: [{ name: 'x', state: 'valid', fetches: 1, fetchFailures: 0, ...source }] });
  t.match(row({ nextFetch: { reason: 'retry', at: 3_725_000 + 4_000 } }), '<span class="bad">retry</span> in 4s');
  t.match(row({ nextFetch: { reason: 'refresh', at: 3_000_000 } }), 'refresh on the next request');
  t.match(row({ fetching: true, nextFetch: { reason: 'refresh', at: 3_000_000 } }), 'fetching now');
  t.match(row({ state: 'empty' }), 'on the first request');
  const idle = renderStatusPage({ ...model, traffic: [{ prefix: '/sales', requests: 0, proxyErrors: 0, upstream5xx: 0 }] });
  t.match(idle, '<td><code>/sales</code></td><td class="n">0</td><td class="n">0</td><td class="n">0</td><td class="n"><span class="muted">–</span></td>');
});
