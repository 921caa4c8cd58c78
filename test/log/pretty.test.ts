import t from 'tap';
import { formatBytes, formatLogLine, formatMs } from '../../src/log/pretty.ts';

const plain = { color: false };
const at = '2030-01-02T03:04:05.678Z';
const line = (fields: Record<string, unknown>) => formatLogLine(JSON.stringify({ level: 30, time: at, ...fields }), plain);
/** The local clock time the formatter prints for `at`. */
const clock = (() => {
  const d = new Date(at);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.678`;
})();

t.test('an access line is one line, as nginx and caddy print them', async (t) => {
  const out = line({ msg: 'request', requestId: 'r1', method: 'GET', path: '/sales/Orders', route: '/sales', status: 200, durationMs: 15.23, upstreamStatus: 200, tokenSource: 'lake', bytes: 12_345 });
  t.equal(out, `${clock} INFO  GET /sales/Orders 200 15 ms upstream=200 token=lake 12.3 kB\n`);
});

t.test('a failed request says what failed, why and its request id; a user and a retry are named', async (t) => {
  const out = formatLogLine(
    JSON.stringify({
      level: 40,
      time: at,
      msg: 'request',
      requestId: 'r2',
      method: 'GET',
      path: '/sales/Orders',
      status: 502,
      durationMs: 3.21,
      tokenSource: 'lake',
      user: 'powerbi',
      retriedWithNewToken: true,
      resentAfterConnectionClosed: true,
      error: { code: 'UPSTREAM_UNREACHABLE', message: 'The upstream service cannot be reached.', cause: { name: 'TypeError', code: 'UND_ERR_SOCKET', innerCode: 'ECONNREFUSED' } },
    }),
    plain,
  );
  t.equal(
    out,
    `${clock} WARN  GET /sales/Orders 502 3.2 ms token=lake user=powerbi retried-with-new-token resent-after-connection-closed UPSTREAM_UNREACHABLE The upstream service cannot be reached. (ECONNREFUSED) id=r2\n`,
  );
  const named = line({
    msg: 'request',
    requestId: 'r5',
    method: 'GET',
    path: '/x',
    status: 502,
    durationMs: 1,
    error: { code: 'UPSTREAM_UNREACHABLE', message: 'cannot be reached (ECONNREFUSED).', cause: { code: 'ECONNREFUSED' } },
  });
  t.match(named, 'UPSTREAM_UNREACHABLE cannot be reached (ECONNREFUSED). id=r5', 'a cause the message names already is not repeated');
  t.match(
    line({ msg: 'request', requestId: 'r3', method: 'GET', path: '/x', status: 401, durationMs: 1, error: { code: 'AUTH_INVALID', message: 'wrong', attemptedUser: 'bob smith' } }),
    'AUTH_INVALID wrong attemptedUser="bob smith" id=r3',
  );
  t.match(line({ msg: 'request', requestId: 'r6', worker: 2, method: 'GET', path: '/x', status: 200, durationMs: 1 }), /200 1\.0 ms worker=2\n$/, 'serve --workers: which worker answered');
  t.match(line({ msg: 'request', requestId: 'r4', method: 'GET', path: '/x', status: 499, durationMs: 1, aborted: true }), /499 1\.0 ms aborted\n$/);
});

t.test('token events are short lines of their own', async (t) => {
  t.equal(
    line({ msg: 'token fetched', tokenSource: 'lake', result: 'ok', ahead: false, durationMs: 120, expiresInS: 3600 }),
    `${clock} INFO  token lake fetched: valid 60 min; IdP answered in 120 ms\n`,
  );
  const failed = formatLogLine(
    JSON.stringify({
      level: 40,
      time: at,
      msg: 'token fetch failed',
      tokenSource: 'lake',
      result: 'TOKEN_UNAVAILABLE',
      ahead: false,
      durationMs: 5,
      failures: 3,
      retryInMs: 4_000,
      error: 'The IdP cannot be reached.',
    }),
    plain,
  );
  t.equal(failed, `${clock} WARN  token lake fetch failed: TOKEN_UNAVAILABLE The IdP cannot be reached.; next try in 4.00 s; failure 3 in a row\n`);
  t.match(
    line({
      msg: 'token refresh failed; the cached token stays in use',
      tokenSource: 'lake',
      result: 'TOKEN_FETCH_FAILED',
      error: 'invalid_client',
      cachedTokenValidForMs: 300_000,
      retryInMs: 1_000,
      failures: 1,
    }),
    'cached token valid 5 min more',
  );
  t.match(line({ msg: 'prefetch failed: /readyz answers 503 until a token is held', tokenSource: 'lake' }), 'token lake prefetch failed: /readyz answers 503');
});

t.test('other events: the message, then their fields; a list of problems one per line', async (t) => {
  t.equal(
    line({ msg: 'bearer-proxy listening on http://localhost:8080', config: 'my proxy.yaml', routes: ['/a', '/b'] }),
    `${clock} INFO  bearer-proxy listening on http://localhost:8080 config="my proxy.yaml" routes=/a,/b\n`,
  );
  const reload = formatLogLine(JSON.stringify({ level: 50, time: at, msg: 'config reload failed (2 problems)', reason: 'SIGHUP', problems: ['proxy.yaml:3:5 a: b', 'proxy.yaml:9:1 c: d'] }), plain);
  t.equal(reload, `${clock} ERROR config reload failed (2 problems) reason=SIGHUP\n    proxy.yaml:3:5 a: b\n    proxy.yaml:9:1 c: d\n`);
  t.match(line({ msg: 'x', err: { name: 'Error', message: 'boom' } }), 'x err={"name":"Error","message":"boom"}');
  t.equal(formatLogLine('not json', plain), 'not json\n', "a line that is not pino's passes as it came");
});

t.test('colours by status class and level, only when asked', async (t) => {
  const colored = (status: number, level = 30) => formatLogLine(JSON.stringify({ level, time: at, msg: 'request', requestId: 'r', method: 'GET', path: '/', status, durationMs: 1 }), { color: true });
  t.match(colored(200), '\u001b[32m200\u001b[0m');
  t.match(colored(304), '\u001b[36m304\u001b[0m');
  t.match(colored(404), '\u001b[33m404\u001b[0m');
  t.match(colored(502, 40), '\u001b[31m502\u001b[0m');
  t.match(colored(502, 40), '\u001b[33mWARN \u001b[0m');
  t.notMatch(line({ msg: 'request', method: 'GET', path: '/', status: 200, durationMs: 1 }), '\u001b[');
});

t.test('sizes and durations read as people write them', async (t) => {
  t.same([0, 999, 1_000, 12_345, 123_456, 4_500_000, 2e9].map(formatBytes), ['0 B', '999 B', '1.0 kB', '12.3 kB', '123 kB', '4.5 MB', '2.0 GB']);
  t.same([0.42, 9.99, 15.4, 999, 1_234, 12_345, 600_000, Number.NaN].map(formatMs), ['0.4 ms', '10.0 ms', '15 ms', '999 ms', '1.23 s', '12.3 s', '600 s', '? ms']);
});
