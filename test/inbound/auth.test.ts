import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import type { InboundConfig } from '../../src/config/schema.ts';
import { isProxyError } from '../../src/errors.ts';
import { BASIC_CHALLENGE, createAuthenticator, parseBasic } from '../../src/inbound/auth.ts';
import { hashPassword } from '../../src/inbound/password.ts';
import { closeServer, listen } from '../helpers/listen.ts';

/** A real server whose only job is to run the authenticator on real requests. */
async function authServer(t: Test, inbound: InboundConfig): Promise<(authorization?: string) => Promise<{ status: number; body: string; challenge: string | null }>> {
  const authenticator = createAuthenticator(inbound);
  const server = createServer((req, res) => {
    authenticator.authenticate(req).then(
      (result) => res.end(`ok:${result.user ?? 'anonymous'}`),
      (error: unknown) => {
        if (!isProxyError(error)) throw error;
        res.writeHead(error.status, error.headers).end(error.code);
      },
    );
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return async (authorization) => {
    const response = await fetch(url, { headers: authorization ? { authorization } : {} });
    return { status: response.status, body: await response.text(), challenge: response.headers.get('www-authenticate') };
  };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

t.test('loopback callers need nothing by default; sent credentials are ignored without users', async (t) => {
  const call = await authServer(t, { anonymous: 'loopback', users: [] });
  t.same(await call(), { status: 200, body: 'ok:anonymous', challenge: null });
  t.equal((await call(basic('x', 'y'))).body, 'ok:anonymous');
});

t.test('with users, credentials sent by an anonymous-allowed caller are checked', async (t) => {
  const call = await authServer(t, { anonymous: 'loopback', users: [{ name: 'powerbi', password: 'pw:with:colons' }] });
  t.equal((await call()).body, 'ok:anonymous');
  t.equal((await call(basic('powerbi', 'pw:with:colons'))).body, 'ok:powerbi');
  const wrong = await call(basic('powerbi', 'nope'));
  t.same(wrong, { status: 401, body: 'AUTH_INVALID', challenge: BASIC_CHALLENGE });
});

t.test('anonymous: none demands Basic credentials', async (t) => {
  const call = await authServer(t, { anonymous: 'none', users: [{ name: 'pbi', passwordHash: await hashPassword('s3cret é', { N: 1024, r: 8, p: 1 }) }] });
  t.same(await call(), { status: 401, body: 'AUTH_REQUIRED', challenge: 'Basic realm="bearer-proxy", charset="UTF-8"' });
  t.equal((await call(basic('pbi', 's3cret é'))).body, 'ok:pbi', 'scrypt hash, UTF-8 password');
  t.equal((await call(basic('pbi', 's3cret é'))).body, 'ok:pbi', 'and again from the verified cache');
  t.equal((await call(basic('pbi', 's3cret e'))).body, 'AUTH_INVALID');
  t.equal((await call(basic('nobody', 's3cret é'))).body, 'AUTH_INVALID', 'unknown user');
  t.equal((await call('Bearer abc')).body, 'AUTH_INVALID', 'another scheme');
  t.equal((await call('Basic !!!')).body, 'AUTH_INVALID', 'garbage');
});

t.test('anonymous: any lets everyone in', async (t) => {
  const call = await authServer(t, { anonymous: 'any', users: [] });
  t.equal((await call()).body, 'ok:anonymous');
});

t.test('parseBasic', async (t) => {
  t.same(parseBasic(basic('u', 'p:q')), { user: 'u', password: 'p:q' });
  t.same(parseBasic(`basic ${Buffer.from('ü:€').toString('base64')}`), { user: 'ü', password: '€' });
  t.same(parseBasic(basic('', '')), { user: '', password: '' });
  t.equal(parseBasic(`Basic ${Buffer.from('no-colon').toString('base64')}`), undefined);
  t.equal(parseBasic('Digest x'), undefined);
});
