import t from 'tap';
import { startIdentityEndpoint } from '../helpers/azure-identity.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startUpstream } from '../helpers/upstream.ts';

// Managed identity end to end: the proxy gets the token from an Azure-style identity
// endpoint, the upstream verifies it, /_status names the kind, nothing secret is logged.

const RESOURCE = 'https://datalake.example.com';

t.test('IMDS, App Service and Arc each give the upstream a token it verifies', async (t) => {
  const dir = t.testdir({ arc: {} });
  const imds = await startIdentityEndpoint(t, 'imds');
  const appService = await startIdentityEndpoint(t, 'appService', { expiresOn: 'date' });
  const arc = await startIdentityEndpoint(t, 'arc', { arcKeyDirectory: `${dir}/arc` });
  const cases = [
    { name: 'IMDS', endpoint: imds, managedIdentity: { resource: RESOURCE, endpoint: imds.tokenUrl, clientId: imds.userIdentity.clientId }, env: {} },
    { name: 'App Service', endpoint: appService, managedIdentity: { resource: `${RESOURCE}/.default` }, env: { IDENTITY_ENDPOINT: appService.tokenUrl, IDENTITY_HEADER: appService.identityHeader } },
    { name: 'Azure Arc', endpoint: arc, managedIdentity: { resource: RESOURCE, arcKeyDirectory: `${dir}/arc` }, env: { IDENTITY_ENDPOINT: arc.tokenUrl, IMDS_ENDPOINT: arc.url } },
  ];
  for (const { name, endpoint, managedIdentity, env } of cases) {
    const upstream = await startUpstream({ jwksUrl: endpoint.jwksUrl, issuer: endpoint.issuer, audience: RESOURCE });
    t.teardown(() => upstream.close());
    // prefetch: true, as a gateway host would run it: /readyz waits for the identity's first token.
    const proxy = await startProxy({ tokens: { lake: { managedIdentity, prefetch: true } }, routes: { '/lake': { target: upstream.url, token: 'lake' } } }, { env });
    t.teardown(() => proxy.close());
    t.same(await proxy.proxy.prefetch(), [], `${name}: prefetched`);
    const response = await fetch(`${proxy.url}/lake/Orders?$top=2`);
    t.equal(response.status, 200, `${name}: the upstream accepted the token`);
    const echoed = (await response.json()) as { claims: Record<string, unknown> };
    t.match(echoed.claims, { iss: endpoint.issuer, aud: RESOURCE }, `${name}: a token for the resource, from the identity endpoint`);
    const status = await (await fetch(`${proxy.url}/_status`)).text();
    t.match(status, `managed identity (${name})`, `${name}: /_status says what kind of source it is`);
    const logs = proxy.logText();
    t.notMatch(logs, /eyJ[\w-]+\.[\w-]+\./, `${name}: no token in the log`);
    t.notMatch(logs, appService.identityHeader, `${name}: nor App Service's identity header`);
    for (const secret of arc.arcSecrets) t.notMatch(logs, secret, `${name}: nor an Arc key`);
    t.notMatch(status, appService.identityHeader);
  }
  t.ok(arc.arcSecrets.length >= 1, 'the Arc endpoint was challenged');
});

t.test('a throttled IMDS: requests get 503 with the Retry-After IMDS gave, and recover once it answers', async (t) => {
  const imds = await startIdentityEndpoint(t, 'imds');
  const upstream = await startUpstream({ jwksUrl: imds.jwksUrl, issuer: imds.issuer, audience: RESOURCE });
  t.teardown(() => upstream.close());
  let now = Date.now();
  const proxy = await startProxy(
    { tokens: { lake: { managedIdentity: { resource: RESOURCE, endpoint: imds.tokenUrl } } }, routes: { '/lake': { target: upstream.url, token: 'lake' } } },
    { clock: { now: () => now } },
  );
  t.teardown(() => proxy.close());
  imds.scriptNext({ status: 429, headers: { 'retry-after': '12' }, body: { error: 'too_many_requests', error_description: 'IMDS Throttling limits exceeded' } });
  const throttled = await fetch(`${proxy.url}/lake/x`);
  t.equal(throttled.status, 503);
  t.equal(throttled.headers.get('retry-after'), '12', 'Retry-After as IMDS said');
  t.match(await throttled.json(), { error: { code: 'TOKEN_UNAVAILABLE', message: /HTTP 429 \(too_many_requests: IMDS Throttling limits exceeded\)/ } });
  now += 12_000;
  const recovered = await fetch(`${proxy.url}/lake/x`);
  t.equal(recovered.status, 200, 'the next request after the wait gets a token');
  await recovered.body?.cancel();
});
