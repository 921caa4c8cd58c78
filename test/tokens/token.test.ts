import { createServer } from 'node:http';
import t from 'tap';
import { ProxyError, sendError } from '../../src/errors.ts';
import { parseRetryAfter, RetryLaterError } from '../../src/tokens/token.ts';
import { closeServer, listen } from '../helpers/listen.ts';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);

t.test('delay-seconds are read as milliseconds, whitespace around them allowed', async (t) => {
  const cases: Array<[string, number]> = [
    ['0', 0],
    ['1', 1_000],
    ['30', 30_000],
    ['007', 7_000],
    ['86400', 86_400_000],
    [' 30', 30_000],
    ['30 ', 30_000],
    ['\t45\t', 45_000],
  ];
  for (const [value, ms] of cases) t.equal(parseRetryAfter(value, NOW), ms, JSON.stringify(value));
});

t.test('an HTTP date is read as the time until then; one gone by means now', async (t) => {
  t.equal(parseRetryAfter('Wed, 01 May 2024 12:00:45 GMT', NOW), 45_000, 'IMF-fixdate');
  t.equal(parseRetryAfter('Wednesday, 01-May-24 12:02:00 GMT', NOW), 120_000, 'the obsolete RFC 850 form');
  t.equal(parseRetryAfter('Wed May  1 12:00:10 2024', NOW), 10_000, 'the obsolete asctime form, as GMT');
  t.equal(parseRetryAfter('Wed, 01 May 2024 12:00:00 GMT', NOW), 0, 'exactly now');
  t.equal(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', NOW), 0, 'an hour ago: now, never a negative wait');
  t.equal(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', NOW), 0);
  t.equal(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', NOW), Date.UTC(9999, 11, 31, 23, 59, 59) - NOW, 'far ahead: the caller caps it at its backoff.max');
});

t.test('no header, or an empty one, is no advice', async (t) => {
  for (const value of [null, '', ' ', '\t \t']) t.equal(parseRetryAfter(value, NOW), undefined, JSON.stringify(value));
});

t.test('a huge number of seconds stays a wait at least that long, never a negative or NaN one', async (t) => {
  for (const value of ['9999999999', '99999999999999999999', '9'.repeat(400)]) {
    const ms = parseRetryAfter(value, NOW);
    t.ok(ms !== undefined && !Number.isNaN(ms) && ms >= 9_999_999_999_000, `${value.length} digits: ${ms}`);
  }
});

t.test('text that is neither delay-seconds nor a date is no advice', async (t) => {
  for (const value of ['later', 'soon', '30s', '30 seconds', '+30', '1e3', '0x10', 'Infinity', 'NaN', '\u0663\u0660', 'Wed, 01 May 2024 12:00:45 GMT garbage']) {
    t.equal(parseRetryAfter(value, NOW), undefined, JSON.stringify(value));
  }
});

t.test("text that V8's lenient date parser happens to read is still no advice", async (t) => {
  // Date.parse reads "1.5" as 5 January 2001 and "abc 12" as December 2001: the wait became 0,
  // a made-up "retry now" from a header that said nothing of the kind; "3600, 5" a wait up to backoff.max.
  const cases: Array<[string, string]> = [
    ['1.5', 'fractional seconds, which RFC 9110 does not allow'],
    ['-1', 'a negative number'],
    ['abc 12', 'a word and a number'],
    ['5, 10', 'two values joined, as a repeated header arrives'],
    ['3600, 5', 'two values joined: read as the year 3600, a wait of 50,000 years'],
  ];
  for (const [value, what] of cases) t.equal(parseRetryAfter(value, NOW), undefined, `${JSON.stringify(value)}: ${what}`);
});

t.test('a RetryLaterError is a ProxyError with its code, status and message, and the wait it was told', async (t) => {
  const cause = new Error('HTTP 429');
  const error = new RetryLaterError('TOKEN_UNAVAILABLE', 'No access token for "lake": the identity provider answered HTTP 429.', 30_000, { cause });
  t.type(error, RetryLaterError);
  t.type(error, ProxyError, 'handled wherever a ProxyError is');
  t.equal(error.code, 'TOKEN_UNAVAILABLE');
  t.equal(error.status, 503);
  t.equal(error.retryAfterMs, 30_000);
  t.equal(error.message, 'No access token for "lake": the identity provider answered HTTP 429.');
  t.equal(error.cause, cause);
  t.same(error.headers, {}, 'the wait is for the provider, not a header sent to the client');
  t.equal(new RetryLaterError('TOKEN_FETCH_FAILED', 'refused', 0).status, 502, 'the status follows the code');
});

t.test("a RetryLaterError reaches the client as the proxy's JSON error, without its cause", async (t) => {
  const server = createServer((_req, res) =>
    sendError(res, new RetryLaterError('TOKEN_UNAVAILABLE', 'throttled by the IdP', 5_000, { cause: new Error('client_secret=s3cr3t-value') }), { requestId: 'r1', route: '/sales' }),
  );
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  const response = await fetch(url);
  const text = await response.text();
  t.equal(response.status, 503);
  t.same(JSON.parse(text), { error: { code: 'TOKEN_UNAVAILABLE', message: 'throttled by the IdP', route: '/sales', requestId: 'r1' } });
  t.notMatch(text, 's3cr3t-value');
});
