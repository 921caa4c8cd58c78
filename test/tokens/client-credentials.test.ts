import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { ProxyError } from '../../src/errors.ts';
import { createClientCredentialsSource } from '../../src/tokens/client-credentials.ts';
import { IDP_SCOPE, startIdp, type TestIdp } from '../helpers/idp.ts';
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
    createClientCredentialsSource('lake', sourceConfig({ tokenUrl: idp.tokenUrl, clientId: idp.clients.basic.clientId, clientSecret: wrongSecret, authMethod: 'client_secret_basic' }), { clock }).fetchToken(),
  );
  t.equal(badBasic.code, 'TOKEN_FETCH_FAILED', 'also when the IdP answers with a WWW-Authenticate challenge');
  t.match(badBasic.message, /invalid_client/);

  const badScope = await refusal(createClientCredentialsSource('lake', postClient(idp, { scope: 'not:allowed' }), { clock }).fetchToken());
  t.equal(badScope.code, 'TOKEN_FETCH_FAILED');
  t.match(badScope.message, /invalid_scope/);
});

t.test('an unreachable IdP is TOKEN_UNAVAILABLE with Retry-After', async (t) => {
  const server = createServer();
  const url = await listen(server);
  await closeServer(server); // the port is now closed
  const error = await refusal(createClientCredentialsSource('s', sourceConfig({ tokenUrl: `${url}/token`, clientId: 'c', clientSecret: 's' }), { clock }).fetchToken());
  t.equal(error.code, 'TOKEN_UNAVAILABLE');
  t.equal(error.status, 503);
  t.match(error.headers['retry-after'], /^\d+$/);
  t.match(error.message, /refused the connection/);
});

/** A real token endpoint with canned answers, for response shapes oidc-provider never produces. */
async function cannedIdp(t: Test, status: number, body: string, contentType = 'application/json') {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    req.resume();
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return { tokenUrl: `${url}/token`, calls: () => calls };
}

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
  const badScope = await refusal(createClientCredentialsSource('lake', sourceConfig({ tokenUrl: keycloak.tokenUrl, clientId: 'c', clientSecret: 's', scope: 'api://x/.default' }), { clock }).fetchToken());
  t.equal(badScope.code, 'TOKEN_FETCH_FAILED');
  t.match(badScope.message, /invalid_scope: Invalid scopes: api:\/\/x\/\.default/);

  const down = await cannedIdp(t, 503, JSON.stringify({ error: 'temporarily_unavailable' }));
  const unavailable = await refusal(createClientCredentialsSource('s', sourceConfig({ tokenUrl: down.tokenUrl, clientId: 'c', clientSecret: 's' }), { clock }).fetchToken());
  t.equal(unavailable.code, 'TOKEN_UNAVAILABLE', 'a 5xx is not a refusal');
});

t.test('every IdP request goes through the injected fetch', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const seen: string[] = [];
  const fetchSpy: typeof fetch = (input, init) => {
    seen.push(String(input));
    return fetch(input, init);
  };
  const source = createClientCredentialsSource('s', sourceConfig({ issuer: idp.issuer, clientId: idp.clients.post.clientId, clientSecret: idp.clients.post.clientSecret }), { clock, fetch: fetchSpy });
  await source.fetchToken();
  t.same(seen, [`${idp.issuer}/.well-known/openid-configuration`, idp.tokenUrl], 'discovery, then the token endpoint');
});
