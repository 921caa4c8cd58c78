import { request as httpRequest } from 'node:http';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { IDP_SCOPE, startIdp, type TestIdp } from './helpers/idp.ts';
import { startUpstream, type UpstreamOptions } from './helpers/upstream.ts';

const form = (fields: Record<string, string>) => new URLSearchParams(fields);

interface TokenResponse {
  access_token?: string;
  token_type?: string;
  expires_in?: number;
  scope?: string;
  error?: string;
}

async function postToken(idp: TestIdp, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(idp.tokenUrl, { method: 'POST', headers, body: form({ grant_type: 'client_credentials', ...fields }) });
  return { status: response.status, body: (await response.json()) as TokenResponse };
}

async function startedIdp(t: Test, ttl?: number): Promise<TestIdp> {
  const idp = await startIdp(ttl === undefined ? {} : { accessTokenTtlSeconds: ttl });
  t.teardown(() => idp.close());
  return idp;
}

async function postToken200(t: Test, idp: TestIdp, fields: Record<string, string> = {}): Promise<string> {
  const { status, body } = await postToken(idp, { client_id: idp.clients.post.clientId, client_secret: idp.clients.post.clientSecret, ...fields });
  t.equal(status, 200, 'token issued');
  return body.access_token ?? '';
}

t.test('client_secret_post issues a signed JWT access token', async (t) => {
  const idp = await startedIdp(t, 120);
  const { clientId, clientSecret } = idp.clients.post;
  t.ok(clientSecret.length >= 40, 'secrets are long enough to grep for');
  const { status, body } = await postToken(idp, { client_id: clientId, client_secret: clientSecret });
  t.equal(status, 200);
  t.match(body.token_type, /^bearer$/i);
  t.ok(body.expires_in! > 110 && body.expires_in! <= 120, `expires_in ${body.expires_in} honours the TTL`);
  t.match(body.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a three-part JWT');

  const { payload, protectedHeader } = await jwtVerify(body.access_token!, createRemoteJWKSet(new URL(idp.jwksUrl)), { issuer: idp.issuer, audience: idp.audience });
  t.equal(payload.client_id, clientId);
  t.equal(payload.exp! - payload.iat!, 120);
  t.equal(protectedHeader.alg, 'RS256');

  t.equal(idp.tokenRequests.length, 1);
  t.same(idp.tokenRequests[0]?.params, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  t.equal(idp.tokenRequests[0]?.status, 200);
  t.equal(idp.tokenRequests[0]?.authorization, undefined);
});

t.test('client_secret_basic issues a token; the secret travels only in the header', async (t) => {
  const idp = await startedIdp(t);
  const { clientId, clientSecret } = idp.clients.basic;
  const authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  const { status, body } = await postToken(idp, {}, { authorization });
  t.equal(status, 200);
  t.equal(decodeJwt(body.access_token!).client_id, clientId);
  t.ok(body.expires_in! > 290 && body.expires_in! <= 300, 'default TTL is 300 s');
  t.equal(idp.tokenRequests.length, 1);
  t.same(idp.tokenRequests[0]?.params, { grant_type: 'client_credentials' });
  t.equal(idp.tokenRequests[0]?.authorization, authorization);

  // oidc-provider accepts either secret method for either client, so only tokenRequests
  // tells a test which method the proxy really used.
  const otherMethod = await postToken(idp, { client_id: clientId, client_secret: clientSecret });
  t.equal(otherMethod.status, 200);
  t.same([idp.tokenRequests[1]?.authorization, idp.tokenRequests[1]?.params.client_secret], [undefined, clientSecret]);
});

t.test('a wrong secret is invalid_client, and the refusal is recorded', async (t) => {
  const idp = await startedIdp(t);
  const { status, body } = await postToken(idp, { client_id: idp.clients.post.clientId, client_secret: 'not-the-secret' });
  t.ok(status === 400 || status === 401, `status ${status}`);
  t.equal(body.error, 'invalid_client');
  t.equal(body.access_token, undefined);
  t.equal(idp.tokenRequests.length, 1);
  t.equal(idp.tokenRequests[0]?.params.client_secret, 'not-the-secret');
  t.equal(idp.tokenRequests[0]?.status, status);
});

t.test('scope and resource: the allowed ones work, unknown ones are refused', async (t) => {
  const idp = await startedIdp(t);
  const withScope = decodeJwt(await postToken200(t, idp, { scope: IDP_SCOPE }));
  t.equal(withScope.scope, IDP_SCOPE);
  const withResource = decodeJwt(await postToken200(t, idp, { resource: idp.audience, scope: IDP_SCOPE }));
  t.equal(withResource.aud, idp.audience);

  const post = { client_id: idp.clients.post.clientId, client_secret: idp.clients.post.clientSecret };
  const badScope = await postToken(idp, { ...post, scope: `${IDP_SCOPE} api:write` });
  t.same([badScope.status, badScope.body.error], [400, 'invalid_scope']);
  const badResource = await postToken(idp, { ...post, resource: 'https://elsewhere.test' });
  t.same([badResource.status, badResource.body.error], [400, 'invalid_target']);
  t.same(
    idp.tokenRequests.map((entry) => entry.status),
    [200, 200, 400, 400],
    'failed requests recorded too',
  );
});

t.test('options: a custom audience ends up in aud', async (t) => {
  const idp = await startIdp({ audience: 'https://custom.test/api' });
  t.teardown(() => idp.close());
  t.equal(idp.audience, 'https://custom.test/api');
  t.equal(decodeJwt(await postToken200(t, idp)).aud, 'https://custom.test/api');
});

t.test('discovery lists the token endpoint and JWKS', async (t) => {
  const idp = await startedIdp(t);
  t.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
  t.equal(response.status, 200);
  const discovery = (await response.json()) as Record<string, unknown>;
  t.equal(discovery.issuer, idp.issuer);
  t.equal(discovery.token_endpoint, idp.tokenUrl);
  t.equal(discovery.jwks_uri, idp.jwksUrl);
  t.ok((discovery.grant_types_supported as string[]).includes('client_credentials'));
  t.equal(idp.tokenRequests.length, 0, 'discovery is not a token request');
});

t.test('every IdP start has its own keys and secrets', async (t) => {
  const [a, b] = [await startedIdp(t), await startedIdp(t)];
  t.not(a.clients.post.clientSecret, b.clients.post.clientSecret);
  t.not(a.issuer, b.issuer);
  const token = await postToken200(t, a);
  // b's keys must not verify a's token, or the upstream tests could pass against the wrong IdP.
  await t.rejects(jwtVerify(token, createRemoteJWKSet(new URL(b.jwksUrl))));
});

async function idpAndUpstream(t: Test, extra: UpstreamOptions = {}) {
  const idp = await startedIdp(t);
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience, ...extra });
  t.teardown(() => upstream.close());
  return { idp, upstream, token: await postToken200(t, idp) };
}

t.test('upstream accepts a valid token and echoes its claims', async (t) => {
  const { idp, upstream, token } = await idpAndUpstream(t);
  t.match(upstream.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const response = await fetch(`${upstream.url}/things?x=1`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'hello' });
  t.equal(response.status, 200);
  const echo = (await response.json()) as { method: string; url: string; bodyLength: number; claims: Record<string, unknown> };
  t.match(echo, { method: 'POST', url: '/things?x=1', bodyLength: 5, claims: { client_id: idp.clients.post.clientId, iss: idp.issuer, aud: idp.audience } });
  t.equal(upstream.requests.length, 1);
  t.equal(upstream.requests[0]?.body.toString(), 'hello');
  t.equal(upstream.requests[0]?.authorization, `Bearer ${token}`);
  t.equal(upstream.requests[0]?.claims?.client_id, idp.clients.post.clientId);
});

t.test('upstream refuses a missing, tampered or foreign token with 401', async (t) => {
  const { upstream, token } = await idpAndUpstream(t);
  const refused = async (authorization?: string) => {
    const response = await fetch(upstream.url, authorization === undefined ? {} : { headers: { authorization } });
    return { status: response.status, challenge: response.headers.get('www-authenticate'), body: (await response.json()) as { error?: { code?: string } } };
  };

  const missing = await refused();
  t.equal(missing.status, 401);
  t.match(missing.challenge, /^Bearer error="invalid_token", error_description="[^"]+"$/);
  t.equal(missing.body.error?.code, 'InvalidToken');

  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, client_id: 'someone-else' })).toString('base64url');
  t.equal((await refused(`Bearer ${header}.${forged}.${signature}`)).status, 401, 'altered payload');

  const other = await startedIdp(t);
  t.equal((await refused(`Bearer ${await postToken200(t, other)}`)).status, 401, 'signed by another IdP');
  t.equal((await refused(`Basic ${token}`)).status, 401, 'not a bearer scheme');
  t.equal((await refused(`bearer ${token}`)).status, 200, 'the scheme name is case-insensitive');

  t.same(
    upstream.requests.map((entry) => entry.claims === undefined),
    [true, true, true, true, false],
    'refused requests recorded, without claims',
  );
});

t.test('upstream checks audience and issuer when given', async (t) => {
  const idp = await startedIdp(t);
  const wrongAudience = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: 'https://not-this-api.test' });
  t.teardown(() => wrongAudience.close());
  const token = await postToken200(t, idp);
  const response = await fetch(wrongAudience.url, { headers: { authorization: `Bearer ${token}` } });
  t.equal(response.status, 401);
  t.match(response.headers.get('www-authenticate'), /aud/);
});

t.test('upstream records the request target byte for byte', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const target = "/a/b?$filter=Name%20eq%20'A%20B'&x=+";
  // fetch would normalise the URL; node:http sends the target untouched.
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const request = httpRequest(`${upstream.url}`, { path: target, headers: { 'x-Mixed-Case': 'v' } }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', reject);
    request.end();
  });
  t.equal(status, 200, 'no jwksUrl, no token needed');
  t.equal(upstream.requests[0]?.url, target);
  t.ok(upstream.requests[0]?.rawHeaders.includes('x-Mixed-Case'), 'raw header names keep their case');
  t.equal(upstream.requests[0]?.authorization, undefined);
});

t.test('rejectTokens answers 401 to valid tokens it picks', async (t) => {
  const seen: number[] = [];
  const { upstream, token } = await idpAndUpstream(t, {
    rejectTokens: (claims, attempt) => {
      seen.push(attempt);
      return attempt === 1 && typeof claims.client_id === 'string';
    },
  });
  const call = () => fetch(upstream.url, { headers: { authorization: `Bearer ${token}` } });
  const first = await call();
  t.equal(first.status, 401);
  t.match(first.headers.get('www-authenticate'), /error="invalid_token"/);
  t.equal((await call()).status, 200);
  t.same(seen, [1, 2]);
  t.ok(upstream.requests[0]?.claims, 'the rejected token did verify');
});

t.test('a custom handler gets the body, claims and base URL', async (t) => {
  const { upstream, token, idp } = await idpAndUpstream(t, {
    handler: (_req, res, ctx) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ body: ctx.body.toString(), sub: ctx.claims?.sub, next: `${ctx.baseUrl}/page2` }));
    },
  });
  const response = await fetch(upstream.url, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'payload' });
  t.equal(response.status, 201);
  t.same(await response.json(), { body: 'payload', sub: idp.clients.post.clientId, next: `${upstream.url}/page2` });
});

t.test('a throwing handler yields a 500, not a hung request', async (t) => {
  const upstream = await startUpstream({
    handler: () => {
      throw new Error('boom');
    },
  });
  t.teardown(() => upstream.close());
  const response = await fetch(upstream.url);
  t.equal(response.status, 500);
  t.match(await response.text(), /boom/);
});

t.test('close() ends keep-alive connections promptly', async (t) => {
  const upstream = await startUpstream();
  const response = await fetch(upstream.url);
  await response.text();
  const started = Date.now();
  await upstream.close();
  t.ok(Date.now() - started < 1000, 'closed without waiting for the keep-alive timeout');
  await t.rejects(fetch(upstream.url), 'no longer listening');
});
