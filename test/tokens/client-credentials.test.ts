import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { ProxyError } from '../../src/errors.ts';
import { createClientCredentialsSource } from '../../src/tokens/client-credentials.ts';
import { RetryLaterError } from '../../src/tokens/token.ts';
import { createHash, createPrivateKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { IDP_SCOPE, startIdp, type TestIdp } from '../helpers/idp.ts';
import { generateTestKey, selfSignedCertificate } from '../helpers/keys.ts';
import { closeServer, listen } from '../helpers/listen.ts';

const clock = { now: () => Date.now() };

/** A token source config as the schema produces it (defaults filled in). */
function sourceConfig(input: Record<string, unknown>): TokenSourceConfig {
  return configSchema.parse({ tokens: { s: { allowInsecure: true, ...input } }, routes: { '/r': { target: 'https://x.test', token: 's' } } }).tokens.s!;
}

function postClient(idp: TestIdp, extra: Record<string, unknown> = {}) {
  return sourceConfig({ tokenUrl: idp.tokenUrl, clientId: idp.clients.post.clientId, clientSecret: idp.clients.post.clientSecret, ...extra });
}

async function refusal(promise: Promise<unknown>): Promise<ProxyError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProxyError) return error;
    throw error;
  }
  throw new Error('expected the token fetch to fail');
}

t.test('client_secret_post against a real IdP', async (t) => {
  const idp = await startIdp({ accessTokenTtlSeconds: 120 });
  t.teardown(() => idp.close());
  const before = Date.now();
  const token = await createClientCredentialsSource('s', postClient(idp), { clock }).fetchToken();
  t.match(token.value, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  t.equal(token.tokenType, 'bearer');
  t.ok(token.expiresAt - before >= 119_000 && token.expiresAt - Date.now() <= 120_000, 'expiry from expires_in');
  const [request] = idp.tokenRequests;
  t.equal(request?.params.client_secret, idp.clients.post.clientSecret, 'secret in the form body');
  t.equal(request?.params.grant_type, 'client_credentials');
  t.equal(request?.authorization, undefined);
  t.notOk('scope' in request!.params || 'resource' in request!.params || 'audience' in request!.params, 'nothing sent that was not configured');
});

t.test('client_secret_basic, discovery, and configured parameters', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const config = sourceConfig({
    issuer: idp.issuer,
    clientId: idp.clients.basic.clientId,
    clientSecret: idp.clients.basic.clientSecret,
    authMethod: 'client_secret_basic',
    scope: IDP_SCOPE,
    resource: idp.audience,
    params: { extra_field: 'x y' },
  });
  const token = await createClientCredentialsSource('s', config, { clock }).fetchToken();
  t.equal(token.scope, IDP_SCOPE);
  const request = idp.tokenRequests.at(-1)!;
  t.match(request.authorization, /^Basic /);
  t.equal(request.params.client_secret, undefined, 'no secret in the body');
  t.same([request.params.scope, request.params.resource, request.params.extra_field], [IDP_SCOPE, idp.audience, 'x y']);
});

t.test('audience is sent when configured (Auth0)', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  await createClientCredentialsSource('s', postClient(idp, { audience: 'https://api.auth0.test' }), { clock }).fetchToken();
  t.equal(idp.tokenRequests.at(-1)!.params.audience, 'https://api.auth0.test');
});

t.test('refusals by the IdP are TOKEN_FETCH_FAILED with its error code, never the secret', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const wrongSecret = 'wrong-secret-value-1234567890';
  const badClient = await refusal(createClientCredentialsSource('lake', postClient(idp, { clientSecret: wrongSecret }), { clock }).fetchToken());
  t.equal(badClient.code, 'TOKEN_FETCH_FAILED');
  t.equal(badClient.status, 502);
  t.match(badClient.message, /"lake".*invalid_client/);
  t.notMatch(badClient.message, wrongSecret);

  const badBasic = await refusal(
    createClientCredentialsSource('lake', sourceConfig({ tokenUrl: idp.tokenUrl, clientId: idp.clients.basic.clientId, clientSecret: wrongSecret, authMethod: 'client_secret_basic' }), {
      clock,
    }).fetchToken(),
  );
  t.equal(badBasic.code, 'TOKEN_FETCH_FAILED', 'also when the IdP answers with a WWW-Authenticate challenge');
  t.match(badBasic.message, /invalid_client/);

  const badScope = await refusal(createClientCredentialsSource('lake', postClient(idp, { scope: 'not:allowed' }), { clock }).fetchToken());
  t.equal(badScope.code, 'TOKEN_FETCH_FAILED');
  t.match(badScope.message, /invalid_scope/);
});

function keyClient(idp: TestIdp, extra: Record<string, unknown>) {
  return sourceConfig({ tokenUrl: idp.tokenUrl, clientId: idp.keyClient.clientId, authMethod: 'private_key_jwt', ...extra });
}

/** The client assertion the IdP received, decoded. */
function lastAssertion(idp: TestIdp) {
  const params = idp.tokenRequests.at(-1)!.params;
  return { params, header: decodeProtectedHeader(params.client_assertion!), claims: decodeJwt(params.client_assertion!) };
}

t.test('private_key_jwt with RSA, EC and Ed25519 keys, with and without kid', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const { rsa, ec, ed25519 } = idp.keyClient.keys;
  for (const [key, alg] of [
    [rsa, 'RS256'],
    [ec, 'ES256'],
    [ed25519, 'EdDSA'],
  ] as const) {
    const token = await createClientCredentialsSource('s', keyClient(idp, { privateKey: key.privateKeyPem, keyId: key.kid }), { clock }).fetchToken();
    t.match(token.value, /^[\w-]+\.[\w-]+\.[\w-]+$/, `${alg}: the IdP issued a token`);
    const { params, header, claims } = lastAssertion(idp);
    t.same([header.alg, header.kid], [alg, key.kid], `${alg}: signed with the key's algorithm, named by kid`);
    t.equal(params.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    t.equal(params.client_secret, undefined);
    t.same([claims.iss, claims.sub, claims.aud], [idp.keyClient.clientId, idp.keyClient.clientId, idp.tokenUrl], `${alg}: addressed to the token endpoint`);
  }

  await createClientCredentialsSource('s', keyClient(idp, { privateKey: ec.privateKeyPem }), { clock }).fetchToken();
  t.equal(lastAssertion(idp).header.kid, undefined, 'no kid unless configured; the IdP finds the key by trying its keys');

  const pkcs1 = createPrivateKey(rsa.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
  t.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
  await createClientCredentialsSource('s', keyClient(idp, { privateKey: pkcs1, keyId: rsa.kid }), { clock }).fetchToken();
  t.equal(idp.tokenRequests.at(-1)!.status, 200, 'a PKCS#1 key as older OpenSSL writes it works too');
});

t.test('private_key_jwt through discovery, with a certificate thumbprint and a configured audience', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const { rsa } = idp.keyClient.keys;
  const certificate = selfSignedCertificate(rsa);
  const config = keyClient(idp, { tokenUrl: undefined, issuer: idp.issuer, privateKey: rsa.privateKeyPem, certificate, assertionAudience: idp.issuer });
  await createClientCredentialsSource('s', config, { clock }).fetchToken();
  const { header, claims } = lastAssertion(idp);
  t.equal(idp.tokenRequests.at(-1)!.status, 200);
  t.equal(claims.aud, idp.issuer, 'assertionAudience replaces the token endpoint (Auth0 wants the tenant URL)');
  const der = Buffer.from(certificate.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  t.equal(header['x5t#S256'], createHash('sha256').update(der).digest('base64url'), 'x5t#S256 is the certificate thumbprint (Entra ID)');
  t.equal(header.x5t, createHash('sha1').update(der).digest('base64url'));
});

t.test('private_key_jwt with a key the IdP does not know: TOKEN_FETCH_FAILED invalid_client', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const stranger = generateTestKey('ec');
  const error = await refusal(createClientCredentialsSource('lake', keyClient(idp, { privateKey: stranger.privateKeyPem }), { clock }).fetchToken());
  t.equal(error.code, 'TOKEN_FETCH_FAILED');
  t.match(error.message, /"lake".*invalid_client/);
  t.notMatch(error.message, /PRIVATE KEY|MII/, 'no key material in the message');
});

/** The URL of a port that was just listened on and closed again: connecting to it is refused. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await closeServer(server);
  return url;
}

t.test('an unreachable IdP is TOKEN_UNAVAILABLE', async (t) => {
  const url = await closedPortUrl();
  const error = await refusal(createClientCredentialsSource('s', sourceConfig({ tokenUrl: `${url}/token`, clientId: 'c', clientSecret: 's' }), { clock }).fetchToken());
  t.equal(error.code, 'TOKEN_UNAVAILABLE');
  t.equal(error.status, 503);
  t.equal(error.message, 'No access token for "s": the identity provider refused the connection.');
});

t.test('a refused connection is named however deep the fetch error nests its errno code', async (t) => {
  const url = await closedPortUrl();
  // Which layer carries ECONNREFUSED differs between Node and undici versions; a fetch that
  // adds one more layer (as fetch wrappers do) puts it at error.cause.cause.code.
  const wrapping: typeof fetch = (input, init) =>
    fetch(input, init).catch((error: unknown) => {
      throw new TypeError('fetch failed', { cause: error });
    });
  const error = await refusal(createClientCredentialsSource('s', sourceConfig({ tokenUrl: `${url}/token`, clientId: 'c', clientSecret: 's' }), { clock, fetch: wrapping }).fetchToken());
  t.equal(error.code, 'TOKEN_UNAVAILABLE');
  t.equal(error.message, 'No access token for "s": the identity provider refused the connection.');
});

t.test('an IdP that does not answer within the source timeout is TOKEN_UNAVAILABLE', async (t) => {
  const server = createServer(() => undefined); // reads the request, never answers
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  const started = performance.now();
  const error = await refusal(createClientCredentialsSource('s', sourceConfig({ tokenUrl: `${url}/token`, clientId: 'c', clientSecret: 's', timeout: '300ms' }), { clock }).fetchToken());
  t.equal(error.code, 'TOKEN_UNAVAILABLE');
  t.match(error.message, /did not answer in time/);
  t.ok(performance.now() - started < 5_000, 'gave up after the timeout rather than waiting on');
});

/** A real token endpoint with canned answers, for response shapes oidc-provider never produces. */
async function cannedIdp(t: Test, status: number, body: string, contentType = 'application/json', headers: Record<string, string> = {}) {
  const forms: URLSearchParams[] = [];
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- node:http ignores the handler's promise; the handler catches nothing it could lose
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    forms.push(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    res.writeHead(status, { 'content-type': contentType, ...headers });
    res.end(body);
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return { tokenUrl: `${url}/token`, calls: () => forms.length, lastForm: () => forms.at(-1)! };
}

/** Fields of a form besides the grant and the client credentials: what the source chose to send. */
function extraFields(form: URLSearchParams): Record<string, string> {
  const fields = Object.fromEntries(form);
  for (const key of ['grant_type', 'client_id', 'client_secret']) delete fields[key];
  return fields;
}

t.test('each IdP gets the parameters it expects and its answer is read', async (t) => {
  // Answers as each IdP documents them for client_credentials (values shortened).
  const cases = [
    {
      idp: 'Entra ID v2',
      config: { scope: 'api://lake/.default' },
      answer: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'entra-v2' },
      sent: { scope: 'api://lake/.default' },
      lifetime: 3_599_000,
    },
    {
      idp: 'Azure AD v1',
      config: { resource: 'https://analysis.windows.net/powerbi/api' },
      answer: {
        token_type: 'Bearer',
        expires_in: '3599',
        ext_expires_in: '3599',
        expires_on: '1700003599',
        not_before: '1700000000',
        resource: 'https://analysis.windows.net/powerbi/api',
        access_token: 'azure-v1',
      },
      sent: { resource: 'https://analysis.windows.net/powerbi/api' },
      lifetime: 3_599_000,
    },
    {
      idp: 'Auth0',
      config: { audience: 'https://api.example.com' },
      answer: { access_token: 'auth0', scope: 'read:orders', expires_in: 86400, token_type: 'Bearer' },
      sent: { audience: 'https://api.example.com' },
      lifetime: 86_400_000,
    },
    {
      idp: 'Okta (custom authorization server)',
      config: { scope: 'lake.read' },
      answer: { token_type: 'Bearer', expires_in: 3600, access_token: 'okta', scope: 'lake.read' },
      sent: { scope: 'lake.read' },
      lifetime: 3_600_000,
    },
    {
      idp: 'Keycloak',
      config: {},
      answer: { access_token: 'keycloak', expires_in: 300, refresh_expires_in: 0, token_type: 'Bearer', 'not-before-policy': 0, scope: 'profile email' },
      sent: {},
      lifetime: 300_000,
    },
  ];
  for (const { idp, config, answer, sent, lifetime } of cases) {
    const canned = await cannedIdp(t, 200, JSON.stringify(answer));
    const token = await createClientCredentialsSource('s', sourceConfig({ tokenUrl: canned.tokenUrl, clientId: 'c', clientSecret: 's', ...config }), { clock }).fetchToken();
    t.same(extraFields(canned.lastForm()), sent, `${idp}: sends only what it needs`);
    t.equal(token.value, answer.access_token, `${idp}: token read`);
    t.equal(token.tokenType, 'bearer');
    t.equal(token.expiresAt - token.obtainedAt, lifetime, `${idp}: lifetime from expires_in`);
  }
});

t.test('IdP response variants', async (t) => {
  const azureV1 = await cannedIdp(t, 200, JSON.stringify({ token_type: 'Bearer', expires_in: '3599', access_token: 'opaque-v1', resource: 'https://r' }));
  const v1 = await createClientCredentialsSource('s', sourceConfig({ tokenUrl: azureV1.tokenUrl, clientId: 'c', clientSecret: 's', resource: 'https://r' }), { clock }).fetchToken();
  t.equal(v1.value, 'opaque-v1');
  t.ok(Math.abs(v1.expiresAt - v1.obtainedAt - 3_599_000) < 5, 'expires_in as a string (Azure AD v1)');

  const expiresOn = String(Math.floor(Date.now() / 1000) + 1800);
  const azureOn = await cannedIdp(t, 200, JSON.stringify({ token_type: 'Bearer', access_token: 'v1-on', expires_on: expiresOn }));
  const on = await createClientCredentialsSource('s', sourceConfig({ tokenUrl: azureOn.tokenUrl, clientId: 'c', clientSecret: 's' }), { clock }).fetchToken();
  t.equal(on.expiresAt, Number(expiresOn) * 1000, 'expires_on (epoch seconds as a string) when expires_in is missing');

  const noExpiry = await cannedIdp(t, 200, JSON.stringify({ token_type: 'BEARER', access_token: 'no-expiry' }));
  const fallback = await createClientCredentialsSource('s', sourceConfig({ tokenUrl: noExpiry.tokenUrl, clientId: 'c', clientSecret: 's', defaultExpiresIn: '15m' }), { clock }).fetchToken();
  t.equal(fallback.expiresAt - fallback.obtainedAt, 900_000, 'missing expires_in falls back to defaultExpiresIn');
  t.equal(fallback.tokenType, 'bearer', 'token_type in any case');

  const garbage = await cannedIdp(t, 200, '<html>maintenance</html>', 'text/html');
  const notJson = await refusal(createClientCredentialsSource('s', sourceConfig({ tokenUrl: garbage.tokenUrl, clientId: 'c', clientSecret: 's' }), { clock }).fetchToken());
  t.equal(notJson.code, 'TOKEN_UNAVAILABLE', 'garbage may heal: retryable');

  // Keycloak's own wording, with a description the message must carry through.
  const keycloak = await cannedIdp(t, 400, JSON.stringify({ error: 'invalid_scope', error_description: 'Invalid scopes: api://x/.default' }));
  const badScope = await refusal(
    createClientCredentialsSource('lake', sourceConfig({ tokenUrl: keycloak.tokenUrl, clientId: 'c', clientSecret: 's', scope: 'api://x/.default' }), { clock }).fetchToken(),
  );
  t.equal(badScope.code, 'TOKEN_FETCH_FAILED');
  t.match(badScope.message, /invalid_scope: Invalid scopes: api:\/\/x\/\.default/);

  const down = await cannedIdp(t, 503, JSON.stringify({ error: 'temporarily_unavailable' }));
  const unavailable = await refusal(createClientCredentialsSource('s', sourceConfig({ tokenUrl: down.tokenUrl, clientId: 'c', clientSecret: 's' }), { clock }).fetchToken());
  t.equal(unavailable.code, 'TOKEN_UNAVAILABLE', 'a 5xx is not a refusal');

  // Entra ID's throttling answer: 429 with an OAuth error body and Retry-After.
  const busy = await cannedIdp(t, 429, JSON.stringify({ error: 'temporarily_unavailable', error_description: 'AADSTS50196: too many requests' }), 'application/json', { 'retry-after': '45' });
  const throttled = await refusal(createClientCredentialsSource('s', sourceConfig({ tokenUrl: busy.tokenUrl, clientId: 'c', clientSecret: 's' }), { clock }).fetchToken());
  t.ok(throttled instanceof RetryLaterError && throttled.retryAfterMs === 45_000, 'a 429 with Retry-After says when to come back');
  t.match(throttled, { code: 'TOKEN_UNAVAILABLE', message: /HTTP 429 \(temporarily_unavailable: AADSTS50196: too many requests\)/ }, 'and may heal');
});

t.test('every IdP request goes through the injected fetch', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const seen: string[] = [];
  const fetchSpy: typeof fetch = (input, init) => {
    seen.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    return fetch(input, init);
  };
  const source = createClientCredentialsSource('s', sourceConfig({ issuer: idp.issuer, clientId: idp.clients.post.clientId, clientSecret: idp.clients.post.clientSecret }), { clock, fetch: fetchSpy });
  await source.fetchToken();
  t.same(seen, [`${idp.issuer}/.well-known/openid-configuration`, idp.tokenUrl], 'discovery, then the token endpoint');
});
