import t from 'tap';
import { formatDuration, renderStatusPage, type StatusModel } from '../../src/admin/status-page.ts';

const model: StatusModel = {
  version: '1.2.3',
  startedAt: 0,
  now: 3_725_000,
  routes: [{ prefix: '/sales', target: 'https://lake.example/odata?<x>', tokenSource: 'lake', rewriteUrls: true }],
  tokenSources: [
    { name: 'lake', kind: 'client credentials (<tls_client_auth>)', state: 'valid', expiresAt: 3_725_000 + 600_000, fetches: 3, fetchFailures: 1, lastFailure: { code: 'TOKEN_UNAVAILABLE', message: 'the IdP <script>alert(1)</script> did not answer', at: 3_000_000 } },
    { name: 'idle', state: 'empty', fetches: 0, fetchFailures: 0 },
  ],
  errors: [{ code: 'UPSTREAM_TIMEOUT', total: 4, recent: 1 }],
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
  t.match(html, '<td><code>UPSTREAM_TIMEOUT</code></td><td>1</td><td>4</td>');
  t.match(html, 'All token sources are healthy.');
  t.match(renderStatusPage({ ...model, tokenSources: [{ name: 'x', state: 'expired', expiresAt: 0, fetches: 1, fetchFailures: 0 }], errors: [] }), /A token source has no valid token[\s\S]*No error answers since start/);
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
