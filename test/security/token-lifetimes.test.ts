import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { formatInstant } from '../../src/clock.ts';
import { createClientCredentialsSource } from '../../src/tokens/client-credentials.ts';
import { runCli } from '../helpers/cli.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startScriptedIdp, tokenAnswer } from '../helpers/scripted-idp.ts';
import { startUpstream } from '../helpers/upstream.ts';

/*
 * An IdP's lifetime is believed only up to maxLifetime (default 24 h) and only when it is a
 * finite, positive number. `expires_in: 1e15` used to crash the process during prefetch
 * (toISOString's RangeError), answer /_status with 500, and end `token` with exit 70.
 */

const HOUR = 3_600_000;
const clock = { now: () => Date.now() };

function source(input: Record<string, unknown>): TokenSourceConfig {
  return configSchema.parse({ tokens: { s: { clientId: 'c', clientSecret: 'secret-7', allowInsecure: true, ...input } }, routes: { '/r': { target: 'https://x.test', token: 's' } } }).tokens.s!;
}

/** What IdPs have been seen to send, and what a hostile one could: each is an absurd or unusable lifetime. */
const ABSURD: Array<[string, Record<string, unknown>]> = [
  ['expires_in: 1e15', { expires_in: 1e15 }],
  ['expires_in: 1e300', { expires_in: 1e300 }],
  ['expires_in as the string "1e15" (Azure AD v1 style)', { expires_in: '1e15' }],
  ['expires_in: Number.MAX_SAFE_INTEGER', { expires_in: Number.MAX_SAFE_INTEGER }],
  ['expires_on far in the future (Azure AD v1)', { expires_on: '100000000000000' }],
  ['expires_on: 1e300', { expires_on: 1e300 }],
  ['two years', { expires_in: 2 * 365 * 24 * 3600 }],
];

t.test('absurd lifetimes are capped at maxLifetime, 24 h by default', async (t) => {
  for (const [name, fields] of ABSURD) {
    const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'tok', token_type: 'Bearer', ...fields }));
    const before = Date.now();
    const token = await createClientCredentialsSource('s', source({ tokenUrl: idp.tokenUrl }), { clock }).fetchToken();
    const lifetime = token.expiresAt - token.obtainedAt;
    t.ok(Number.isFinite(token.expiresAt) && lifetime <= 24 * HOUR && token.expiresAt >= before + 24 * HOUR - 1000, `${name}: 24 h (${lifetime} ms)`);
    t.doesNotThrow(() => new Date(token.expiresAt).toISOString(), `${name}: a date that can be printed`);
  }
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'tok', token_type: 'Bearer', expires_in: 1e15 }));
  const capped = await createClientCredentialsSource('s', source({ tokenUrl: idp.tokenUrl, maxLifetime: '10m' }), { clock }).fetchToken();
  t.equal(capped.expiresAt - capped.obtainedAt, 600_000, 'maxLifetime: 10m caps at ten minutes');
  const honest = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'tok', token_type: 'Bearer', expires_in: 3599 }));
  const normal = await createClientCredentialsSource('s', source({ tokenUrl: honest.tokenUrl }), { clock }).fetchToken();
  t.equal(normal.expiresAt - normal.obtainedAt, 3_599_000, 'a normal lifetime is believed as sent');
});

t.test('a zero, negative or unreadable lifetime falls back to defaultExpiresIn, itself capped by maxLifetime', async (t) => {
  for (const fields of [{ expires_in: 0 }, { expires_on: 'soon' }, { expires_on: -5 }, {}]) {
    const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'tok', token_type: 'Bearer', ...fields }));
    const token = await createClientCredentialsSource('s', source({ tokenUrl: idp.tokenUrl, defaultExpiresIn: '5m' }), { clock }).fetchToken();
    t.equal(token.expiresAt - token.obtainedAt, 300_000, `${JSON.stringify(fields)}: the default`);
  }
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'tok', token_type: 'Bearer' }));
  const token = await createClientCredentialsSource('s', source({ tokenUrl: idp.tokenUrl, defaultExpiresIn: '2h', maxLifetime: '1h' }), { clock }).fetchToken();
  t.equal(token.expiresAt - token.obtainedAt, HOUR, 'maxLifetime caps the default too');
});

t.test('prefetch, /_status, /readyz and /metrics survive an IdP saying expires_in: 1e15', async (t) => {
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'tok', token_type: 'Bearer', expires_in: 1e15 }));
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await startProxy({
    tokens: { s: { tokenUrl: idp.tokenUrl, clientId: 'c', clientSecret: 'secret-7', allowInsecure: true, prefetch: true } },
    routes: { '/api': { target: upstream.url, token: 's' } },
  });
  t.teardown(() => proxy.close());
  t.same(await proxy.proxy.prefetch(), [], 'prefetch resolves with the token held (it used to reject with a RangeError)');
  const prefetched = proxy.logs.find((line) => line.msg === 'token prefetched');
  t.match(prefetched?.expiresAt, /^\d{4}-\d\d-\d\dT/, 'and logs a readable expiry');
  for (const path of ['/_status', '/readyz', '/metrics', '/api/x']) t.equal((await fetch(`${proxy.url}${path}`)).status, 200, `${path} answers 200`);
});

t.test('the token command prints a capped expiry instead of exiting 70', async (t) => {
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'opaque-token', token_type: 'Bearer', expires_in: 1e15 }));
  const dir = t.testdir();
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, `tokens:\n  s: { tokenUrl: "${idp.tokenUrl}", clientId: c, clientSecret: "\${SECRET}", allowInsecure: true }\nroutes:\n  /r: { target: "https://x.test", token: s }\n`);
  const result = await runCli(['token', 's', '-c', file], { env: { SECRET: 'secret-7' } });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /expires\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(in 86400s\)/);
});

t.test('formatInstant never throws', async (t) => {
  t.equal(formatInstant(0), '1970-01-01T00:00:00.000Z');
  for (const value of [1e15 * 1000, Number.POSITIVE_INFINITY, Number.NaN, -1e300]) t.match(formatInstant(value), /^\(not a valid time: /, String(value));
});
