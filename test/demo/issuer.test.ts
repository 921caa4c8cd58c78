import t, { type Test } from 'tap';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startDemoIssuer } from '../../src/demo/issuer.ts';

const CLIENT_ID = 'demo client';
// Characters that RFC 6749 §2.3.1 form-urlencoding changes, so a Basic decoder that skips that step fails.
const SECRET = 'se cr+et:%/é';
const AUDIENCE = 'https://aud.example';

const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
const formEncode = (text: string): string => encodeURIComponent(text).replaceAll('%20', '+');
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;

interface TokenError {
  error: string;
  error_description: string;
}

async function start(t: Test, ttlSeconds?: number) {
  const issuer = await startDemoIssuer({ clientId: CLIENT_ID, clientSecret: SECRET, audience: AUDIENCE, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) });
  t.teardown(() => issuer.close());
  const post = (body: string, headers: Record<string, string> = formHeaders) => fetch(issuer.tokenUrl, { method: 'POST', headers, body });
  return { issuer, post };
}

t.test('discovery and JWKS describe the issuer', async (t) => {
  const { issuer } = await start(t);
  t.match(issuer.issuer, /^http:\/\/127\.0\.0\.1:\d+$/, 'listens on loopback by default');
  const discovery = await fetch(`${issuer.issuer}/.well-known/openid-configuration`);
  t.equal(discovery.status, 200);
  t.same(await discovery.json(), {
    issuer: issuer.issuer,
    token_endpoint: issuer.tokenUrl,
    jwks_uri: issuer.jwksUrl,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
  });
  const jwks = (await (await fetch(issuer.jwksUrl)).json()) as { keys: Array<Record<string, unknown>> };
  t.equal(jwks.keys.length, 1);
  t.match(jwks.keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: String });
  t.notOk('d' in jwks.keys[0]!, 'only the public key is published');
  t.equal((await fetch(issuer.tokenUrl)).status, 405, 'the token endpoint takes POST only');
  t.equal((await fetch(`${issuer.issuer}/nothing`)).status, 404);
});

t.test('a lifetime that is not a positive whole number of seconds is refused at start', async (t) => {
  await t.rejects(startDemoIssuer({ clientId: CLIENT_ID, clientSecret: SECRET, audience: AUDIENCE, ttlSeconds: 0 }), RangeError);
  await t.rejects(startDemoIssuer({ clientId: CLIENT_ID, clientSecret: SECRET, audience: AUDIENCE, ttlSeconds: 1.5 }), RangeError);
});

t.test('client_secret_post issues a verifiable ES256 JWT with the expected claims', async (t) => {
  const { issuer, post } = await start(t, 60);
  const response = await post(form({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET }));
  t.equal(response.status, 200);
  t.equal(response.headers.get('cache-control'), 'no-store');
  const token = (await response.json()) as { access_token: string; token_type: string; expires_in: number };
  t.equal(token.token_type, 'Bearer');
  t.equal(token.expires_in, 60);
  t.match(decodeProtectedHeader(token.access_token), { alg: 'ES256', typ: 'at+jwt', kid: String });

  const claims = await issuer.verifyAccessToken(token.access_token);
  t.match(claims, { iss: issuer.issuer, aud: AUDIENCE, sub: CLIENT_ID, client_id: CLIENT_ID, scope: 'demo.read', jti: String });
  t.equal(claims.exp! - claims.iat!, 60, 'lifetime is the configured ttl');
  t.ok(Math.abs(claims.iat! - Date.now() / 1000) < 5, 'issued now');
  t.equal(issuer.tokensIssued, 1);

  const second = (await (await post(form({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET }))).json()) as { access_token: string };
  t.not(decodeJwt(second.access_token).jti, claims.jti, 'every token has its own jti');
});

t.test('client_secret_basic decodes the form-urlencoded id and secret and echoes the scope', async (t) => {
  const { issuer, post } = await start(t);
  const response = await post(form({ grant_type: 'client_credentials', scope: 'orders.read people.read' }), { ...formHeaders, authorization: basic(CLIENT_ID, SECRET) });
  t.equal(response.status, 200);
  const token = (await response.json()) as { access_token: string; expires_in: number };
  t.equal(token.expires_in, 3600, 'default ttl');
  t.match(await issuer.verifyAccessToken(token.access_token), { sub: CLIENT_ID, scope: 'orders.read people.read' });

  const wrong = await post(form({ grant_type: 'client_credentials' }), { ...formHeaders, authorization: basic(CLIENT_ID, 'nope') });
  t.equal(wrong.status, 401);
  t.match(wrong.headers.get('www-authenticate'), /^Basic /, 'Basic failures name the scheme');
  t.equal(((await wrong.json()) as TokenError).error, 'invalid_client');

  const garbled = await post(form({ grant_type: 'client_credentials' }), { ...formHeaders, authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` });
  t.equal(garbled.status, 401);
  const badEscape = await post(form({ grant_type: 'client_credentials' }), { ...formHeaders, authorization: `Basic ${Buffer.from(`${CLIENT_ID}:%E0%A4%A`).toString('base64')}` });
  t.equal(badEscape.status, 401, 'a broken %-escape is a bad credential, not a server error');

  const both = await post(form({ grant_type: 'client_credentials', client_secret: SECRET }), { ...formHeaders, authorization: basic(CLIENT_ID, SECRET) });
  t.equal(both.status, 400);
  t.equal(((await both.json()) as TokenError).error, 'invalid_request', 'one authentication method per request (RFC 6749 §2.3)');
  t.equal(issuer.tokensIssued, 1);
});

t.test('refusals', async (t) => {
  const { issuer, post } = await start(t);
  const wrongSecret = await post(form({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: 'nope' }));
  t.equal(wrongSecret.status, 401);
  t.equal(wrongSecret.headers.get('www-authenticate'), null, 'no Basic challenge when Basic was not used');
  t.match(await wrongSecret.json(), { error: 'invalid_client', error_description: String });

  const wrongId = await post(form({ grant_type: 'client_credentials', client_id: 'someone', client_secret: SECRET }));
  t.equal(((await wrongId.json()) as TokenError).error, 'invalid_client');
  const anonymous = await post(form({ grant_type: 'client_credentials' }));
  t.equal(anonymous.status, 401);

  const grant = await post(form({ grant_type: 'password', client_id: CLIENT_ID, client_secret: SECRET }));
  t.equal(grant.status, 400);
  t.equal(((await grant.json()) as TokenError).error, 'unsupported_grant_type');
  const noGrant = await post(form({ client_id: CLIENT_ID, client_secret: SECRET }));
  t.equal(((await noGrant.json()) as TokenError).error, 'invalid_request');

  const json = await post(JSON.stringify({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET }), { 'content-type': 'application/json' });
  t.equal(json.status, 400, 'only form bodies');
  const repeated = await post(`${form({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET })}&scope=a&scope=b`);
  t.equal(repeated.status, 400, 'repeated parameters are refused (RFC 6749 §3.2)');

  const huge = await post(`grant_type=client_credentials&pad=${'x'.repeat(20_000)}`);
  t.equal(huge.status, 413);
  t.equal(issuer.tokensIssued, 0, 'refusals issue nothing');
});

t.test('verifyAccessToken accepts only this issuer’s own, unexpired tokens for the audience', async (t) => {
  const { issuer, post } = await start(t);
  const other = await startDemoIssuer({ clientId: CLIENT_ID, clientSecret: SECRET, audience: AUDIENCE });
  t.teardown(() => other.close());
  const otherAudience = await startDemoIssuer({ clientId: CLIENT_ID, clientSecret: SECRET, audience: 'https://elsewhere' });
  t.teardown(() => otherAudience.close());
  const tokenFrom = async (url: string): Promise<string> => {
    const response = await fetch(url, { method: 'POST', headers: formHeaders, body: form({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET }) });
    return ((await response.json()) as { access_token: string }).access_token;
  };

  const own = ((await (await post(form({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET }))).json()) as { access_token: string }).access_token;
  t.ok(await issuer.verifyAccessToken(own));
  const [header, payload, signature] = own.split('.') as [string, string, string];
  const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
  await t.rejects(issuer.verifyAccessToken(`${header}.${payload}.${flipped}`), 'a tampered signature fails');
  await t.rejects(issuer.verifyAccessToken(await tokenFrom(other.tokenUrl)), 'another key (and issuer) fails');
  await t.rejects(issuer.verifyAccessToken(await tokenFrom(otherAudience.tokenUrl)), 'another audience fails');
  await t.rejects(issuer.verifyAccessToken('not.a.jwt'));

  const shortLived = await startDemoIssuer({ clientId: CLIENT_ID, clientSecret: SECRET, audience: AUDIENCE, ttlSeconds: 1 });
  t.teardown(() => shortLived.close());
  const expiring = await tokenFrom(shortLived.tokenUrl);
  t.ok(await shortLived.verifyAccessToken(expiring));
  await new Promise((resolve) => setTimeout(resolve, 2100));
  await t.rejects(shortLived.verifyAccessToken(expiring), { code: 'ERR_JWT_EXPIRED' }, 'an expired token fails');
});
