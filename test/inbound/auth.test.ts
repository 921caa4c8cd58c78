import { createServer, type IncomingMessage } from 'node:http';
import t, { type Test } from 'tap';
import type { InboundConfig } from '../../src/config/schema.ts';
import { isProxyError } from '../../src/errors.ts';
import { BASIC_CHALLENGE, createAuthenticator, HASH_CHECKS_AT_ONCE, HASH_CHECKS_WAITING, parseBasic } from '../../src/inbound/auth.ts';
import { hashPassword } from '../../src/inbound/password.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { rawRequest } from '../helpers/raw-http.ts';

interface Answer {
  status: number;
  /** "user:<name>", "anonymous", or the ProxyError code. */
  body: string;
  challenge: string | null;
}

/** A real server on 127.0.0.1 whose only job is to run the authenticator on real requests. */
async function authServer(t: Test, inbound: Pick<InboundConfig, 'anonymous' | 'users'>): Promise<(authorization?: string) => Promise<Answer>> {
  const authenticator = createAuthenticator(inbound);
  const server = createServer((req, res) => {
    Promise.resolve(authenticator.authenticate(req)).then(
      (result) => res.end(result.user === undefined ? 'anonymous' : `user:${result.user}`),
      (error: unknown) => {
        if (!isProxyError(error)) {
          res.writeHead(500).end(String(error));
          return;
        }
        res.writeHead(error.status, error.headers).end(error.code);
      },
    );
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the caller is on loopback');
  return async (authorization) => {
    const response = await fetch(url, { headers: authorization === undefined ? {} : { authorization } });
    return { status: response.status, body: await response.text(), challenge: response.headers.get('www-authenticate') };
  };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
const anonymous: Answer = { status: 200, body: 'anonymous', challenge: null };
const as = (user: string): Answer => ({ status: 200, body: `user:${user}`, challenge: null });
const required: Answer = { status: 401, body: 'AUTH_REQUIRED', challenge: BASIC_CHALLENGE };
const invalid: Answer = { status: 401, body: 'AUTH_INVALID', challenge: BASIC_CHALLENGE };

const FAST = { N: 1024, r: 8, p: 1 };

t.test('the challenge Power Query understands', async (t) => {
  t.equal(BASIC_CHALLENGE, 'Basic realm="bearer-proxy", charset="UTF-8"');
});

t.test('loopback (default) without users: anonymous, and sent credentials are ignored', async (t) => {
  const call = await authServer(t, { anonymous: 'loopback', users: [] });
  const cases: Array<[string | undefined, string]> = [
    [undefined, 'no credentials'],
    [basic('x', 'y'), 'Basic credentials nobody could check'],
    ['Bearer abc', 'another scheme'],
    ['Basic !!!', 'garbage'],
  ];
  for (const [authorization, name] of cases) t.same(await call(authorization), anonymous, name);
});

t.test('loopback with users: credentials sent anyway are checked', async (t) => {
  const call = await authServer(t, {
    anonymous: 'loopback',
    users: [
      { name: 'powerbi', password: 'pw:with:colons' },
      { name: 'gateway', passwordHash: await hashPassword('hashed pw', FAST) },
    ],
  });
  const cases: Array<[string | undefined, Answer, string]> = [
    [undefined, anonymous, 'no credentials: still anonymous'],
    [basic('powerbi', 'pw:with:colons'), as('powerbi'), 'plain password with colons'],
    [basic('gateway', 'hashed pw'), as('gateway'), 'passwordHash user'],
    [basic('powerbi', 'nope'), invalid, 'wrong password: refused, not downgraded to anonymous'],
    [basic('gateway', 'nope'), invalid, 'wrong password for the hashed user'],
    [basic('nobody', 'pw:with:colons'), invalid, 'unknown user'],
    [basic('PowerBI', 'pw:with:colons'), invalid, 'user names are case-sensitive'],
    ['Bearer abc', anonymous, 'not Basic: no credentials to check, the loopback caller stays anonymous'],
  ];
  for (const [authorization, expected, name] of cases) t.same(await call(authorization), expected, name);
});

t.test('anonymous: none demands Basic credentials', async (t) => {
  const call = await authServer(t, {
    anonymous: 'none',
    users: [
      { name: 'pbi', passwordHash: await hashPassword('s3cret é', FAST) },
      { name: 'plain', password: 'pläin' },
    ],
  });
  const cases: Array<[string | undefined, Answer, string]> = [
    [undefined, required, 'no credentials: AUTH_REQUIRED with the challenge'],
    [basic('pbi', 's3cret é'), as('pbi'), 'scrypt hash, UTF-8 password'],
    [basic('pbi', 's3cret é'), as('pbi'), 'again, from the verified cache'],
    [basic('plain', 'pläin'), as('plain'), 'plain password, UTF-8'],
    [basic('pbi', 's3cret e'), invalid, 'wrong password'],
    [basic('pbi', 's3cret é'.toUpperCase()), invalid, 'wrong case'],
    [basic('pbi', ''), invalid, 'empty password'],
    [basic('nobody', 's3cret é'), invalid, 'unknown user'],
    [basic('', 's3cret é'), invalid, 'empty user'],
    ['Bearer abc', invalid, 'another scheme'],
    ['Digest username="pbi"', invalid, 'Digest'],
    ['Basic', invalid, 'a scheme without credentials'],
    ['Basic !!!', invalid, 'not base64'],
    [`Basic ${Buffer.from('pbi').toString('base64')}`, invalid, 'no colon'],
    ['', invalid, 'an empty header'],
  ];
  for (const [authorization, expected, name] of cases) t.same(await call(authorization), expected, name);
  t.same(await call(basic('pbi', 's3cret é')), as('pbi'), 'failures in between do not lock the user out');
});

t.test('anonymous: none without users lets nobody in', async (t) => {
  const call = await authServer(t, { anonymous: 'none', users: [] });
  t.same(await call(), required);
  t.same(await call(basic('any', 'thing')), invalid);
});

t.test('anonymous: any lets everyone in; credentials are still checked when users exist', async (t) => {
  t.same(await (await authServer(t, { anonymous: 'any', users: [] }))(basic('x', 'y')), anonymous, 'ignored without users');
  const call = await authServer(t, { anonymous: 'any', users: [{ name: 'u', password: 'p' }] });
  t.same(await call(), anonymous);
  t.same(await call(basic('u', 'p')), as('u'));
  t.same(await call(basic('u', 'wrong')), invalid);
});

t.test('the error says why', async (t) => {
  const authenticator = createAuthenticator({ anonymous: 'none', users: [{ name: 'u', password: 'p' }] });
  const server = createServer((req, res) => {
    Promise.resolve(authenticator.authenticate(req)).then(
      () => res.end('ok'),
      (error: unknown) => res.end(isProxyError(error) ? error.message : 'unexpected'),
    );
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  const message = async (authorization?: string) => (await fetch(url, { headers: authorization === undefined ? {} : { authorization } })).text();
  t.equal(await message(), 'Credentials are required: use Basic authentication.');
  t.equal(await message('Bearer x'), 'The Authorization header must use the Basic scheme.');
  t.equal(await message(basic('u', 'x')), 'The user name or password is wrong.');
});

t.test('parseBasic', async (t) => {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const cases: Array<[string, { user: string; password: string } | undefined, string]> = [
    [basic('u', 'p'), { user: 'u', password: 'p' }, 'plain'],
    [basic('u', 'p:q:r'), { user: 'u', password: 'p:q:r' }, 'the password may contain ":"'],
    [basic('u', ''), { user: 'u', password: '' }, 'empty password'],
    [basic('', ''), { user: '', password: '' }, 'empty both'],
    [`basic ${b64('ü:€')}`, { user: 'ü', password: '€' }, 'UTF-8, lower-case scheme'],
    [`BASIC ${b64('日本:😀')}`, { user: '日本', password: '😀' }, 'UTF-8, upper-case scheme'],
    [`Basic   ${b64('u:p')}  `, { user: 'u', password: 'p' }, 'extra spaces'],
    [`Basic ${b64('u:pw').replace(/=+$/, '')}`, { user: 'u', password: 'pw' }, 'padding left out'],
    [`Basic ${b64('u:p?>>').replaceAll('+', '-').replaceAll('/', '_')}`, { user: 'u', password: 'p?>>' }, 'base64url alphabet'],
    [`Basic ${b64('no-colon')}`, undefined, 'no colon'],
    ['Basic', undefined, 'no credentials'],
    ['Basic ', undefined, 'blank credentials'],
    ['Basic !!!', undefined, 'not base64'],
    [`Basic ${b64('u:p')} extra`, undefined, 'two tokens'],
    [` Basic ${b64('u:p')}`, undefined, 'leading space'],
    [`Basic\t${b64('u:p')}`, undefined, 'a tab instead of a space'],
    ['Bearer abc', undefined, 'Bearer'],
    ['Digest x', undefined, 'Digest'],
    [`Basicx ${b64('u:p')}`, undefined, 'a longer scheme name'],
  ];
  for (const [header, expected, name] of cases) t.same(parseBasic(header), expected, `${name}: ${JSON.stringify(header)}`);
});

t.test('the rebinding guard (Host) applies to callers let in without credentials, not to those who sent valid ones', async (t) => {
  const authenticator = createAuthenticator({ anonymous: 'loopback', users: [{ name: 'gw', password: 'pw' }], allowedHosts: [] });
  const server = createServer((req, res) => {
    Promise.resolve(authenticator.authenticate(req)).then(
      (result) => res.end(result.user ?? 'anonymous'),
      (error: unknown) => res.writeHead(isProxyError(error) ? error.status : 500).end(isProxyError(error) ? error.code : String(error)),
    );
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  const { port } = new URL(url);
  const ask = async (headers: Record<string, string>) =>
    (
      await rawRequest(
        url,
        `GET / HTTP/1.1\r\n${Object.entries(headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('')}Connection: close\r\n\r\n`,
      )
    ).body;
  // The body is chunked here; its one chunk is the answer.
  t.match(await ask({ Host: `rebound.example:${port}` }), /\bHOST_NOT_ALLOWED\b/, 'anonymous, through a foreign name');
  t.match(await ask({ Host: `localhost:${port}`, Origin: 'https://attacker.example' }), /\bCROSS_SITE_REQUEST\b/, 'anonymous, from another site');
  t.match(await ask({ Host: `localhost:${port}` }), /\banonymous\b/, 'anonymous, as a local tool');
  t.match(await ask({ Host: `rebound.example:${port}`, Authorization: basic('gw', 'pw') }), /\bgw\b/, 'valid credentials: the name they used is theirs to choose');
  t.match(
    await ask({ Host: `localhost:${port}`, Origin: 'https://attacker.example', Authorization: basic('gw', 'pw') }),
    /\bCROSS_SITE_REQUEST\b/,
    'but not the site: cached credentials ride along on cross-site requests',
  );
});

t.test('a burst of password checks: two run, 32 wait, the rest are refused at once with 503 AUTH_BUSY', async (t) => {
  const passwordHash = await hashPassword('right', FAST);
  // From one address the throttle would refuse most of this burst first (see throttle.test.ts); this is about the queue behind it.
  const authenticator = createAuthenticator({ anonymous: 'none', users: [{ name: 'gw', passwordHash }] }, { throttle: null });
  const request = (authorization: string) => ({ headers: { authorization }, socket: { remoteAddress: '10.0.0.9' } }) as unknown as IncomingMessage;
  // All in one tick, as a flood arrives: the queue decides before any check finishes.
  const burst = Array.from({ length: 100 }, (_, i) => Promise.resolve(authenticator.authenticate(request(basic(i % 2 ? 'gw' : 'nobody', `wrong-${i}`)))));
  const outcomes = await Promise.allSettled(burst);
  const codes = outcomes.map((outcome) => (outcome.status === 'rejected' && isProxyError(outcome.reason) ? outcome.reason.code : 'admitted'));
  t.equal(codes.filter((code) => code === 'AUTH_INVALID').length, HASH_CHECKS_AT_ONCE + HASH_CHECKS_WAITING, 'the checks that ran or waited said wrong');
  t.equal(codes.filter((code) => code === 'AUTH_BUSY').length, 100 - HASH_CHECKS_AT_ONCE - HASH_CHECKS_WAITING, 'the others were refused without running scrypt');
  const busy = outcomes.find((outcome) => outcome.status === 'rejected' && isProxyError(outcome.reason) && outcome.reason.code === 'AUTH_BUSY') as PromiseRejectedResult;
  t.match(busy.reason, { status: 503, headers: { 'retry-after': '1' } });
  t.same(await authenticator.authenticate(request(basic('gw', 'right'))), { user: 'gw' }, 'once the burst is over, the right password works');
});

t.test('a caller let in without credentials is answered in the same tick; every refusal is a rejection, never a throw', async (t) => {
  const authenticator = createAuthenticator({ anonymous: 'loopback', users: [{ name: 'gw', password: 'pw' }] }, { throttle: null, plainPasswordCost: FAST });
  const request = (headers: Record<string, string>, remoteAddress = '127.0.0.1') => ({ headers: { host: 'localhost:8080', ...headers }, socket: { remoteAddress } }) as unknown as IncomingMessage;
  t.same(authenticator.authenticate(request({})), {}, 'anonymous from loopback: the answer itself, not a promise');
  const refusals: Array<[string, IncomingMessage, string]> = [
    ['no credentials from elsewhere', request({}, '10.0.0.9'), 'AUTH_REQUIRED'],
    ['a scheme other than Basic', request({ authorization: 'Bearer x' }, '10.0.0.9'), 'AUTH_INVALID'],
    ['a cross-site page', request({ origin: 'https://attacker.example' }), 'CROSS_SITE_REQUEST'],
    ['a wrong password', request({ authorization: basic('gw', 'wrong') }, '10.0.0.9'), 'AUTH_INVALID'],
  ];
  for (const [name, req, code] of refusals) {
    let answer: ReturnType<typeof authenticator.authenticate> | undefined;
    t.doesNotThrow(() => (answer = authenticator.authenticate(req)), `${name}: no throw`);
    t.ok(answer instanceof Promise, `${name}: a promise`);
    await t.rejects(Promise.resolve(answer), { code }, `${name}: rejected with ${code}`);
  }
  t.same(await authenticator.authenticate(request({ authorization: basic('gw', 'pw') }, '10.0.0.9')), { user: 'gw' }, 'the right password, checked asynchronously');
});
