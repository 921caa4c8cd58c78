import t from 'tap';
import { startDemoIssuer } from '../../src/demo/issuer.ts';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };

t.test('the demo issuer behaves like an IdP for client_credentials', async (t) => {
  const issuer = await startDemoIssuer({ clientId: 'demo', clientSecret: 'se cr+et', audience: 'https://aud', ttlSeconds: 60 });
  t.teardown(() => issuer.close());

  const discovery = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  t.equal(discovery.token_endpoint, issuer.tokenUrl);
  t.equal(discovery.jwks_uri, issuer.jwksUrl);
  const jwks = (await (await fetch(issuer.jwksUrl)).json()) as { keys: Array<Record<string, unknown>> };
  t.equal(jwks.keys[0]?.alg, 'ES256');
  t.notOk('d' in jwks.keys[0]!, 'only the public key is published');

  const post = await fetch(issuer.tokenUrl, { method: 'POST', headers: formHeaders, body: form({ grant_type: 'client_credentials', client_id: 'demo', client_secret: 'se cr+et' }) });
  t.equal(post.status, 200);
  t.equal(post.headers.get('cache-control'), 'no-store');
  const token = (await post.json()) as { access_token: string; token_type: string; expires_in: number };
  t.equal(token.token_type, 'Bearer');
  t.equal(token.expires_in, 60);
  const claims = await issuer.verifyAccessToken(token.access_token);
  t.match(claims, { iss: issuer.issuer, aud: 'https://aud', sub: 'demo', client_id: 'demo', scope: 'demo.read' });

  // RFC 6749 §2.3.1: form-urlencode, then base64.
  const basicAuth = `Basic ${Buffer.from(`demo:${encodeURIComponent('se cr+et')}`).toString('base64')}`;
  const basic = await fetch(issuer.tokenUrl, { method: 'POST', headers: { ...formHeaders, authorization: basicAuth }, body: form({ grant_type: 'client_credentials', scope: 'x' }) });
  t.equal(basic.status, 200);
  t.equal(issuer.tokensIssued, 2);

  const wrong = await fetch(issuer.tokenUrl, { method: 'POST', headers: formHeaders, body: form({ grant_type: 'client_credentials', client_id: 'demo', client_secret: 'nope' }) });
  t.equal(wrong.status, 401);
  t.equal(((await wrong.json()) as { error: string }).error, 'invalid_client');
  const grant = await fetch(issuer.tokenUrl, { method: 'POST', headers: formHeaders, body: form({ grant_type: 'password', client_id: 'demo', client_secret: 'se cr+et' }) });
  t.equal(((await grant.json()) as { error: string }).error, 'unsupported_grant_type');
  const huge = await fetch(issuer.tokenUrl, { method: 'POST', headers: formHeaders, body: 'x'.repeat(20_000) });
  t.equal(huge.status, 413);
  t.equal(issuer.tokensIssued, 2, 'refusals issue nothing');
  await t.rejects(issuer.verifyAccessToken(`${token.access_token.slice(0, -4)}AAAA`), 'a tampered token fails verification');
});
