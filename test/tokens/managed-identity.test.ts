import { createServer } from 'node:net';
import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { createTransport } from '../../src/http/transport.ts';
import { createTokenProvider, createTokenSource } from '../../src/tokens/factory.ts';
import { RetryLaterError } from '../../src/tokens/token.ts';
import { startIdentityEndpoint } from '../helpers/azure-identity.ts';

// Managed identity against endpoints that follow Azure's documented formats (test/helpers/azure-identity.ts).

const clock = { now: () => Date.now() };

function sourceConfig(managedIdentity: Record<string, unknown>, extra: Record<string, unknown> = {}): TokenSourceConfig {
  return configSchema.parse({ tokens: { mi: { managedIdentity, ...extra } }, routes: { '/r': { target: 'https://x.test', token: 'mi' } } }).tokens.mi!;
}

function sourceFor(t: Test, managedIdentity: Record<string, unknown>, env: Record<string, string> = {}) {
  const transport = createTransport({ env });
  t.teardown(() => transport.close());
  return createTokenSource('mi', sourceConfig(managedIdentity), { transport, clock, env });
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => new Error('expected a failure'),
    (error: unknown) => error as Error & { code?: string },
  );

t.test('IMDS: the documented request, and the answer whose numbers are all strings', async (t) => {
  const imds = await startIdentityEndpoint(t, 'imds');
  const source = sourceFor(t, { resource: 'api://datalake/.default', endpoint: imds.tokenUrl });
  t.equal(source.kind, 'managed identity (IMDS)');
  const before = Date.now();
  const token = await source.fetchToken();
  const request = imds.requests.at(-1)!;
  t.equal(request.headers.metadata, 'true', 'Metadata: true');
  t.equal(request.query.get('api-version'), '2018-02-01');
  t.equal(request.query.get('resource'), 'api://datalake', 'the v2 scope form names the resource');
  t.notOk(request.headers['x-forwarded-for'], 'no forwarding headers');
  t.match(decodeJwt(token.value), { aud: 'api://datalake', appid: imds.systemIdentity.clientId }, 'the system-assigned identity’s token');
  t.equal(token.tokenType, 'bearer');
  t.ok(token.expiresAt - before > 3_590_000 && token.expiresAt - before <= 3_600_000 + 1_000, 'lifetime from expires_in "3600"');

  const bare = await fetch(`${imds.tokenUrl}?api-version=2018-02-01&resource=x`);
  t.equal(bare.status, 400, 'the endpoint refuses a request without Metadata: true …');
  t.match(await bare.json(), { error: 'invalid_request', error_description: 'Required metadata header not specified' });
  const wrong = await fetch(`${imds.tokenUrl}?api-version=2018-02-01&resource=x`, { headers: { metadata: 'yes' } });
  t.equal(wrong.status, 400, '… and one with another value');
  await wrong.body?.cancel();
});

t.test('IMDS: a user-assigned identity by client id, object id or resource id', async (t) => {
  const imds = await startIdentityEndpoint(t, 'imds');
  const { userIdentity } = imds;
  for (const [key, parameter] of [
    ['clientId', 'client_id'],
    ['objectId', 'object_id'],
    ['resourceId', 'msi_res_id'],
  ] as const) {
    const token = await sourceFor(t, { resource: 'https://storage.azure.com', endpoint: imds.tokenUrl, [key]: userIdentity[key] }).fetchToken();
    t.equal(imds.requests.at(-1)!.query.get(parameter), userIdentity[key], `${key} is sent as ${parameter}`);
    t.match(decodeJwt(token.value), { appid: userIdentity.clientId, oid: userIdentity.objectId }, `${key}: that identity’s token`);
  }
  const unknown = await failure(sourceFor(t, { resource: 'https://storage.azure.com', endpoint: imds.tokenUrl, clientId: 'not-assigned-here' }).fetchToken());
  t.match(
    unknown,
    { code: 'TOKEN_FETCH_FAILED', message: /IMDS\) refused the token request for "mi" with HTTP 400 \(invalid_request: Identity not found\)/ },
    'an identity the VM does not have is a refusal',
  );
});

t.test('IMDS: 429 with Retry-After is waited out (beyond the backoff step), 5xx retried, other 4xx refused', async (t) => {
  const imds = await startIdentityEndpoint(t, 'imds');
  const transport = createTransport({ env: {} });
  t.teardown(() => transport.close());
  let now = Date.now();
  const provider = createTokenProvider('mi', sourceConfig({ resource: 'https://vault.azure.net', endpoint: imds.tokenUrl }, { backoff: { initial: '1s', max: '60s' } }), {
    transport,
    clock: { now: () => now },
    env: {},
  });
  imds.scriptNext({ status: 429, headers: { 'retry-after': '30' }, body: { error: 'too_many_requests', error_description: 'IMDS Throttling limits exceeded' } });
  const throttled = await failure(provider.getToken());
  t.match(throttled, { code: 'TOKEN_UNAVAILABLE', message: /HTTP 429 \(too_many_requests: IMDS Throttling limits exceeded\)/, headers: { 'retry-after': '30' } }, 'Retry-After passed on to callers');
  const requests = imds.requests.length;
  now += 5_000;
  await t.rejects(provider.getToken(), { code: 'TOKEN_UNAVAILABLE' }, '5 s later (past a 1 s backoff step): refused at once');
  t.equal(imds.requests.length, requests, 'without asking IMDS again');
  now += 26_000;
  imds.scriptNext({ status: 503, body: { error: 'service_unavailable', error_description: 'IMDS is updating' } });
  await t.rejects(provider.getToken(), { code: 'TOKEN_UNAVAILABLE', message: /HTTP 503/ }, 'after 30 s it asks again; a 503 may heal too');
  now += 60_000;
  t.match(decodeJwt((await provider.getToken()).value), { aud: 'https://vault.azure.net' }, 'and recovers');

  const source = sourceFor(t, { resource: 'https://vault.azure.net', endpoint: imds.tokenUrl });
  imds.scriptNext({ status: 429, headers: { 'retry-after': '7' } });
  const error = await failure(source.fetchToken());
  t.ok(error instanceof RetryLaterError && error.retryAfterMs === 7_000, 'the source reports the wait it was given');
  imds.scriptNext({ status: 403, body: { error: 'forbidden', error_description: 'nope' } });
  t.match(await failure(source.fetchToken()), { code: 'TOKEN_FETCH_FAILED' }, 'a 403 will not heal by itself');
});

t.test('App Service and Functions: IDENTITY_ENDPOINT with the secret IDENTITY_HEADER, expires_on as epoch or date string', async (t) => {
  for (const expiresOn of ['epoch', 'date'] as const) {
    const appService = await startIdentityEndpoint(t, 'appService', { expiresOn });
    const env = { IDENTITY_ENDPOINT: appService.tokenUrl, IDENTITY_HEADER: appService.identityHeader };
    const source = sourceFor(t, { resource: 'https://database.windows.net/' }, env);
    t.equal(source.kind, 'managed identity (App Service)');
    const before = Date.now();
    const token = await source.fetchToken();
    const request = appService.requests.at(-1)!;
    t.equal(request.headers['x-identity-header'], appService.identityHeader, 'X-IDENTITY-HEADER from IDENTITY_HEADER');
    t.equal(request.query.get('api-version'), '2019-08-01');
    t.match(decodeJwt(token.value), { aud: 'https://database.windows.net/' });
    t.ok(
      token.expiresAt - before > 3_580_000 && token.expiresAt - before < 3_602_000,
      `lifetime from expires_on as ${expiresOn === 'epoch' ? 'epoch seconds in a string' : '"MM/dd/yyyy hh:mm:ss PM +00:00"'}`,
    );
  }
  const appService = await startIdentityEndpoint(t, 'appService');
  const env = { IDENTITY_ENDPOINT: appService.tokenUrl, IDENTITY_HEADER: appService.identityHeader };
  const token = await sourceFor(t, { resource: 'https://vault.azure.net', objectId: appService.userIdentity.objectId }, env).fetchToken();
  t.equal(appService.requests.at(-1)!.query.get('principal_id'), appService.userIdentity.objectId, 'an object id is principal_id on App Service');
  t.match(decodeJwt(token.value), { oid: appService.userIdentity.objectId });

  const wrongHeader = await failure(sourceFor(t, { resource: 'https://vault.azure.net' }, { ...env, IDENTITY_HEADER: 'stale-header-value' }).fetchToken());
  t.match(wrongHeader, { code: 'TOKEN_FETCH_FAILED', message: /App Service\) refused .* HTTP 400 \(X-IDENTITY-HEADER missing or wrong\)/ });
  appService.scriptNext({ status: 400, body: { statusCode: 400, message: `header ${appService.identityHeader} is not valid here` } });
  const echoed = await failure(sourceFor(t, { resource: 'https://vault.azure.net' }, env).fetchToken());
  t.notMatch(echoed.message, appService.identityHeader, 'an endpoint quoting the identity header is scrubbed');
  t.match(echoed.message, /header \[redacted\] is not valid/);
});

t.test('Azure Arc: the 401 challenge, its key file read only from the agent’s directory', async (t) => {
  const dir = t.testdir({ agent: {}, elsewhere: {} });
  const keys = `${dir}/agent`;
  const arc = await startIdentityEndpoint(t, 'arc', { arcKeyDirectory: keys });
  const env = { IDENTITY_ENDPOINT: arc.tokenUrl, IMDS_ENDPOINT: arc.url };
  const source = sourceFor(t, { resource: 'https://management.azure.com/', arcKeyDirectory: keys }, env);
  t.equal(source.kind, 'managed identity (Azure Arc)');
  const token = await source.fetchToken();
  t.match(decodeJwt(token.value), { aud: 'https://management.azure.com/' });
  const [challenge, answered] = arc.requests.slice(-2);
  t.equal(challenge!.status, 401, 'the first request is challenged');
  t.notOk(challenge!.headers.authorization);
  t.equal(answered!.headers.authorization, `Basic ${arc.arcSecrets.at(-1)}`, 'the retry carries the key file’s contents');
  t.equal(answered!.query.get('api-version'), '2019-11-01');

  const elsewhere = `${dir}/elsewhere`;
  const rogue = await startIdentityEndpoint(t, 'arc', { arcKeyDirectory: elsewhere });
  const refused = await failure(sourceFor(t, { resource: 'https://management.azure.com/', arcKeyDirectory: keys }, { IDENTITY_ENDPOINT: rogue.tokenUrl, IMDS_ENDPOINT: rogue.url }).fetchToken());
  t.match(refused, { code: 'TOKEN_FETCH_FAILED', message: /not a \.key file in .*; it was not read/ }, 'a challenge naming a file elsewhere is refused');
  t.equal(rogue.requests.filter((request) => request.headers.authorization).length, 0, 'and nothing from it is sent');

  const userAssigned = await failure(sourceFor(t, { resource: 'https://management.azure.com/', clientId: 'x' }, env).fetchToken());
  t.match(userAssigned, { code: 'TOKEN_FETCH_FAILED', message: /only the system-assigned identity: remove managedIdentity.clientId/ });
});

t.test('the endpoint is reached directly, never through the outbound proxy, and never by a redirect', async (t) => {
  const imds = await startIdentityEndpoint(t, 'imds');
  const deadProxy = await unusedPort();
  const proxied = { HTTP_PROXY: `http://127.0.0.1:${deadProxy}`, HTTPS_PROXY: `http://127.0.0.1:${deadProxy}` };
  const token = await sourceFor(t, { resource: 'https://vault.azure.net', endpoint: imds.tokenUrl }, proxied).fetchToken();
  t.match(decodeJwt(token.value), { aud: 'https://vault.azure.net' }, 'HTTP_PROXY points nowhere, and the token still came');

  imds.scriptNext({ status: 307, headers: { location: 'http://127.0.0.1:9/elsewhere' } });
  t.match(await failure(sourceFor(t, { resource: 'https://vault.azure.net', endpoint: imds.tokenUrl }).fetchToken()), { code: 'TOKEN_UNAVAILABLE' }, 'a redirect is not followed');

  const closed = `http://127.0.0.1:${await unusedPort()}/metadata/identity/oauth2/token`;
  const down = await failure(sourceFor(t, { resource: 'https://vault.azure.net', endpoint: closed }).fetchToken());
  t.match(down, { code: 'TOKEN_UNAVAILABLE', message: /managed identity endpoint \(IMDS at .*\) refused the connection \(IMDS exists only on Azure VMs/ });
});

t.test('without an endpoint or variables, IMDS at 169.254.169.254; Service Fabric is named, not attempted', async (t) => {
  const transport = createTransport({ env: {} });
  t.teardown(() => transport.close());
  const { describeTokenSource } = await import('../../src/tokens/describe.ts');
  const config = sourceConfig({ resource: 'https://vault.azure.net' });
  t.equal(describeTokenSource(config, {}), 'managed identity (IMDS) at http://169.254.169.254/metadata/identity/oauth2/token, system-assigned, resource https://vault.azure.net');
  t.match(describeTokenSource(config, { AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://10.0.0.4:2579/' }), /IMDS\) at http:\/\/10\.0\.0\.4:2579\/metadata\/identity\/oauth2\/token/);
  const fabric = createTokenSource('mi', config, {
    transport,
    clock,
    env: { IDENTITY_ENDPOINT: 'https://10.0.0.5:2377/metadata/identity/oauth2/token', IDENTITY_HEADER: 'h', IDENTITY_SERVER_THUMBPRINT: 'ab' },
  });
  t.equal(fabric.kind, 'managed identity (Service Fabric, not supported)');
  t.match(await failure(fabric.fetchToken()), { code: 'TOKEN_FETCH_FAILED', message: /Service Fabric managed identity .* is not supported/ });
});

/** A port nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
