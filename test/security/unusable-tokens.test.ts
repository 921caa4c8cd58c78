import t, { type Test } from 'tap';
import { startProxy } from '../helpers/proxy.ts';
import { startScriptedIdp, tokenAnswer } from '../helpers/scripted-idp.ts';
import { startUpstream } from '../helpers/upstream.ts';

/*
 * A token the proxy cannot send as `Authorization: Bearer <token>` is refused when it is
 * fetched, with a reason, and never cached. A token with a CR/LF used to be cached and
 * fail every request as UPSTREAM_UNREACHABLE; a DPoP token was sent as Bearer.
 */

async function proxyFor(t: Test, answer: Record<string, unknown>) {
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { expires_in: 3600, ...answer }));
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await startProxy({
    tokens: { s: { tokenUrl: idp.tokenUrl, clientId: 'c', clientSecret: 'secret-31', allowInsecure: true } },
    routes: { '/api': { target: upstream.url, token: 's' } },
  });
  t.teardown(() => proxy.close());
  return { idp, upstream, proxy };
}

/** Every kind of character an HTTP field value cannot carry unquoted, or at all. */
const BAD_TOKENS: Array<[string, string]> = [
  ['CR LF and a header after it', 'abc\r\nX-Injected: 1'],
  ['a bare LF', 'abc\ndef'],
  ['a bare CR', 'abc\rdef'],
  ['NUL', 'abc\u0000def'],
  ['another control character', 'abc\u001bdef'],
  ['DEL', 'abc\u007fdef'],
  ['a space', 'abc def'],
  ['a tab', 'abc\tdef'],
  ['non-ASCII', 'abcédef'],
  ['a Unicode line separator', 'abc\u2028def'],
];

t.test('tokens with characters a header cannot carry are refused at fetch time, and not cached', async (t) => {
  for (const [name, token] of BAD_TOKENS) {
    const { upstream, proxy, idp } = await proxyFor(t, { access_token: token, token_type: 'Bearer' });
    const response = await fetch(`${proxy.url}/api/x`);
    const body = (await response.json()) as { error: { code: string; message: string } };
    t.equal(response.status, 502, `${name}: 502`);
    t.equal(body.error.code, 'TOKEN_FETCH_FAILED', `${name}: TOKEN_FETCH_FAILED`);
    t.match(body.error.message, /cannot be sent in an HTTP header \(it contains/, `${name}: says why`);
    t.equal(upstream.requests.length, 0, `${name}: the upstream was never sent it`);
    t.equal(proxy.proxy.tokenProviders.get('s')!.state().status, 'empty', `${name}: nothing cached`);
    t.equal(idp.tokenRequests.length, 1);
  }
});

t.test('a token_type other than Bearer is refused by name; Bearer in any case is fine', async (t) => {
  for (const type of ['DPoP', 'dpop', 'mac', 'N_A', 'pop', 'Bearer2']) {
    const { upstream, proxy } = await proxyFor(t, { access_token: 'tok-123', token_type: type });
    const response = await fetch(`${proxy.url}/api/x`);
    const body = (await response.json()) as { error: { code: string; message: string } };
    t.equal(body.error.code, 'TOKEN_FETCH_FAILED', `${type}: TOKEN_FETCH_FAILED`);
    t.match(body.error.message, new RegExp(`token of type "${type}" .*Bearer tokens only`, 'i'), `${type}: named`);
    t.equal(upstream.requests.length, 0, `${type}: never sent`);
  }
  for (const type of ['Bearer', 'bearer', 'BEARER']) {
    const { upstream, proxy } = await proxyFor(t, { access_token: 'tok-123', token_type: type });
    t.equal((await fetch(`${proxy.url}/api/x`)).status, 200, `${type}: used`);
    t.equal(upstream.requests[0]?.authorization, 'Bearer tok-123');
  }
});
