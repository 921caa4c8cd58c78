import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { createTransport } from '../../src/http/transport.ts';
import { createTokenProvider, createTokenSource } from '../../src/tokens/factory.ts';
import { RetryLaterError } from '../../src/tokens/token.ts';
import { startIdentityEndpoint } from '../helpers/azure-identity.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { streamHugeJson } from '../helpers/scripted-idp.ts';

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

t.test('Azure Arc: a challenge naming a key file over 4 KiB is refused without sending any of it; one of 4 KiB is sent', async (t) => {
  // SECURITY.md: "only a `.key` file of at most 4 KiB in the agent's own directory is read". The file is the
  // test's (the documented endpoint writes its own few-dozen-byte one), in the allowed directory, so size alone decides.
  const limit = Number(/\.key` file of at most (\d+) KiB/.exec(readFileSync(new URL('../../SECURITY.md', import.meta.url), 'utf8'))?.[1]) * 1024;
  t.equal(limit, 4096, 'SECURITY.md promises 4 KiB');
  const keys = t.testdir({ 'over.key': 'k'.repeat(limit + 1), 'five.key': 'k'.repeat(5 * 1024), 'exact.key': 'e'.repeat(limit) });
  const arc = await startArcChallenger(t);
  const env = { IDENTITY_ENDPOINT: arc.tokenUrl, IMDS_ENDPOINT: arc.url };
  for (const [file, size] of [
    ['five.key', '5 KiB'],
    ['over.key', '4 KiB and a byte'],
  ] as const) {
    arc.realm = join(keys, file);
    const refused = await failure(sourceFor(t, { resource: 'https://management.azure.com/', arcKeyDirectory: keys }, env).fetchToken());
    t.match(refused, { code: 'TOKEN_FETCH_FAILED', message: /challenge key file is larger than 4096 bytes/ }, `a ${size} key file is refused, saying why`);
    t.same(arc.authorizations, [], `and nothing of the ${size} file is sent`);
  }
  arc.realm = join(keys, 'exact.key');
  const token = await sourceFor(t, { resource: 'https://management.azure.com/', arcKeyDirectory: keys }, env).fetchToken();
  t.equal(token.value, 'arc-token', 'a key file of exactly 4 KiB is read');
  t.same(arc.authorizations, [`Basic ${'e'.repeat(limit)}`], 'and sent whole');
});

t.test('an endpoint answering 200 with more than 1 MiB: TOKEN_FETCH_FAILED, not a token, and the answer is not downloaded', async (t) => {
  // The same bound as an IdP's answer (src/tokens/bounded-fetch.ts, IDP_ANSWER_LIMIT): a local process answering
  // on the identity endpoint must not make the proxy hold gigabytes.
  const imds = await startIdentityEndpoint(t, 'imds');
  const padded = JSON.stringify({ access_token: 'a'.repeat(2 * 1024 * 1024), expires_in: '3600', token_type: 'Bearer' });
  for (const [framing, headers] of [
    ['with an honest Content-Length', { 'content-length': String(Buffer.byteLength(padded)) }],
    ['chunked', {}],
  ] as const) {
    imds.scriptNext({ status: 200, headers, body: padded });
    const error = await failure(sourceFor(t, { resource: 'https://vault.azure.net', endpoint: imds.tokenUrl }).fetchToken());
    t.match(error, { code: 'TOKEN_FETCH_FAILED', message: /larger than 1 MiB; it was refused without reading the rest/ }, `a 2 MiB answer ${framing} is refused, saying why`);
  }

  // An endless answer (256 MiB, sent only as fast as it is read): the endpoint sees the connection closed mid-answer.
  let cutOff = 0;
  const endless = createHttpServer((req, res) => {
    res.on('close', () => (cutOff += res.writableFinished ? 0 : 1));
    if (req.headers.metadata !== 'true') return void res.writeHead(400).end();
    streamHugeJson(res, 256);
  });
  const endlessUrl = await listen(endless);
  t.teardown(() => closeServer(endless));
  const huge = await failure(sourceFor(t, { resource: 'https://vault.azure.net', endpoint: `${endlessUrl}/metadata/identity/oauth2/token` }).fetchToken());
  t.match(huge, { code: 'TOKEN_FETCH_FAILED', message: /larger than 1 MiB/ }, 'a 256 MiB answer is refused');
  for (let i = 0; i < 100 && cutOff === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(cutOff, 1, 'the endpoint saw the connection closed mid-answer: the rest was never read');
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

/**
 * An Azure Arc endpoint that challenges with a key file the test chose (`realm`), as a
 * rogue local listener could, and answers a token to whoever sends that file's contents.
 */
async function startArcChallenger(t: Test) {
  const state = { realm: '', authorizations: [] as string[] };
  const server = createHttpServer((req, res) => {
    const authorization = req.headers.authorization;
    if (authorization === undefined) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Basic realm=${state.realm}` });
      return void res.end('{"statusCode":401,"message":"Unauthorized"}');
    }
    state.authorizations.push(authorization);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: 'arc-token', expires_in: '3600', token_type: 'Bearer' }));
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return Object.assign(state, { url, tokenUrl: `${url}/metadata/identity/oauth2/token` });
}

/** A port nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
