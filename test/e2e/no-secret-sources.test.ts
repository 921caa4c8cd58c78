import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createProxyServer } from '../../src/proxy/server.ts';
import { startIdp } from '../helpers/idp.ts';
import { startJwtBearerIdp } from '../helpers/jwt-bearer-idp.ts';
import { generateTestKey } from '../helpers/keys.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startProxy } from '../helpers/proxy.ts';
import { createTestCa, fetchJwks, issueCertificate, type TestCa } from '../helpers/tls.ts';
import { startUpstream } from '../helpers/upstream.ts';

// The sources without a long-lived secret, and client_secret_jwt, end to end through the
// proxy: each upstream verifies the token it got.

t.test('a federated token file: the upstream gets a token; after the platform rotates the file, the IdP sees the new assertion', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  // Refuses the first token once, so the proxy fetches another: the moment a rotated file matters.
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience, rejectTokens: (_claims, attempt) => attempt === 2 });
  t.teardown(() => upstream.close());
  const file = `${t.testdir({})}/token`;
  const first = await idp.federatedClient.mint();
  writeFileSync(file, first);
  const proxy = await startProxy({
    tokens: { lake: { tokenUrl: idp.tokenUrl, clientId: idp.federatedClient.clientId, clientAssertionFile: file, allowInsecure: true } },
    routes: { '/lake': { target: upstream.url, token: 'lake' } },
  });
  t.teardown(() => proxy.close());
  const answer = async () => {
    const response = await fetch(`${proxy.url}/lake/items`);
    return { status: response.status, body: (await response.json()) as { claims?: Record<string, unknown> } };
  };
  const one = await answer();
  t.equal(one.status, 200);
  t.match(one.body.claims, { client_id: idp.federatedClient.clientId });
  t.equal(idp.tokenRequests.at(-1)!.params.client_assertion, first);

  const rotated = await idp.federatedClient.mint();
  writeFileSync(file, rotated);
  const two = await answer();
  t.equal(two.status, 200, 'the upstream refused the old token once; the retry carried a new one');
  t.equal(idp.tokenRequests.length, 2);
  t.equal(idp.tokenRequests.at(-1)!.params.client_assertion, rotated, 'fetched with the rotated assertion');
  for (const assertion of [first, rotated]) t.notMatch(proxy.logText(), assertion, 'no assertion in the log');
  const status = await statusPage(proxy.url);
  t.equal(status.status, 200);
  t.equal(kindOf(status.page, 'lake'), 'client credentials (client assertion file)', '/_status names the kind');
  for (const assertion of [first, rotated]) t.notMatch(status.page, assertion, 'no assertion on /_status');
});

t.test('azureWorkloadIdentity: the webhook’s variables are all the proxy needs', async (t) => {
  const tenant = randomUUID();
  const entra = await startIdp({ tokenPath: `/${tenant}/oauth2/v2.0/token` });
  t.teardown(() => entra.close());
  const upstream = await startUpstream({ jwksUrl: entra.jwksUrl, issuer: entra.issuer, audience: entra.audience });
  t.teardown(() => upstream.close());
  const file = `${t.testdir({})}/azure-identity-token`;
  const assertion = await entra.federatedClient.mint();
  writeFileSync(file, assertion);
  const env = { AZURE_AUTHORITY_HOST: entra.issuer, AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: entra.federatedClient.clientId, AZURE_FEDERATED_TOKEN_FILE: file };
  const text = `tokens:\n  lake: { azureWorkloadIdentity: true, allowInsecure: true }\nroutes:\n  /lake: { target: "${upstream.url}", token: lake }\n`;
  const proxy = createProxyServer(parseConfig(text, { env }).config, { logger: createLogger({ level: 'silent' }), env });
  const url = await proxy.listen(0, '127.0.0.1');
  t.teardown(() => proxy.close());
  const response = await fetch(`${url}/lake/items`);
  t.equal(response.status, 200, 'the upstream verified the token got with the federated token');
  t.match(((await response.json()) as { claims: unknown }).claims, { client_id: entra.federatedClient.clientId });
  t.match(entra.tokenRequests.at(-1)!.params, { client_id: entra.federatedClient.clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });
  const status = await statusPage(url);
  t.equal(status.status, 200);
  t.equal(kindOf(status.page, 'lake'), 'Azure workload identity (federated token file)', '/_status names the kind');
  t.notMatch(status.page, assertion, 'no federated token on /_status');
});

t.test('mutual TLS client authentication, and a certificate-bound token the upstream checks against the connection', async (t) => {
  const ca = createTestCa();
  const idp = await startIdp({ tls: { ca } });
  t.teardown(() => idp.close());
  const keys = createLocalJWKSet(await fetchJwks(idp.jwksUrl, ca));
  const { pki, bound } = idp.mtlsClients!;

  const upstream = await startUpstream({ keys, issuer: idp.issuer, audience: idp.audience });
  t.teardown(() => upstream.close());
  const boundUpstream = await certificateCheckingUpstream(t, ca, keys, idp);
  const proxy = await startProxy({
    tokens: {
      pki: { tokenUrl: idp.tokenUrl, ca: ca.certPem, clientId: pki.clientId, authMethod: 'tls_client_auth', tls: { cert: pki.certificate.certPem, key: pki.certificate.keyPem } },
      bound: {
        tokenUrl: idp.tokenUrl,
        ca: ca.certPem,
        clientId: bound.clientId,
        authMethod: 'self_signed_tls_client_auth',
        tls: { cert: bound.certificate.certPem, key: bound.certificate.keyPem },
        certificateBoundTokens: true,
      },
    },
    routes: {
      '/pki': { target: upstream.url, token: 'pki' },
      '/bound': { target: boundUpstream.url, token: 'bound', ca: ca.certPem },
    },
  });
  t.teardown(() => proxy.close());

  const viaPki = await fetch(`${proxy.url}/pki/x`);
  t.equal(viaPki.status, 200, 'tls_client_auth: the upstream verified the token');
  t.match(((await viaPki.json()) as { claims: unknown }).claims, { client_id: pki.clientId });

  const viaBound = await fetch(`${proxy.url}/bound/x`);
  t.equal(viaBound.status, 200, 'the bound token arrived over a connection made with its certificate');
  const thumbprint = createHash('sha256').update(new X509Certificate(bound.certificate.certPem).raw).digest('base64url');
  t.same(await viaBound.json(), { client: bound.clientId, cnf: thumbprint, presented: thumbprint });
  const status = await statusPage(proxy.url);
  t.equal(status.status, 200);
  t.equal(kindOf(status.page, 'pki'), 'client credentials (tls_client_auth)', '/_status: mTLS client authentication, tokens not bound');
  t.equal(kindOf(status.page, 'bound'), 'client credentials (self_signed_tls_client_auth, certificate-bound)');
  for (const key of [pki.certificate.keyPem, bound.certificate.keyPem]) t.notMatch(status.page, key.trim(), 'no private key on /_status');
  t.notMatch(status.page, /PRIVATE KEY/, 'no PEM key block on /_status');
  t.notMatch(proxy.logText(), /PRIVATE KEY/, 'no key in the log');
});

t.test('client_secret_jwt (HS512) and the JWT-bearer grant', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const serviceKey = generateTestKey('rsa');
  const account = 'reports@lake-project.iam.gserviceaccount.com';
  const google = await startJwtBearerIdp(t, [{ issuer: account, publicJwk: serviceKey.publicJwk }]);
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
  t.teardown(() => upstream.close());
  const googleUpstream = await startUpstream({ jwksUrl: google.jwksUrl, issuer: google.issuer, audience: google.audience });
  t.teardown(() => googleUpstream.close());
  const { clientId, clientSecret } = idp.secretJwtClient;
  const proxy = await startProxy({
    tokens: {
      hs: { tokenUrl: idp.tokenUrl, clientId, clientSecret, authMethod: 'client_secret_jwt', assertionAlgorithm: 'HS512', allowInsecure: true },
      google: { tokenUrl: google.tokenUrl, jwtBearer: { issuer: account, privateKey: serviceKey.privateKeyPem, claims: { scope: 'bigquery.readonly' } }, allowInsecure: true },
    },
    routes: { '/hs': { target: upstream.url, token: 'hs' }, '/bq': { target: googleUpstream.url, token: 'google' } },
  });
  t.teardown(() => proxy.close());
  const hs = await fetch(`${proxy.url}/hs/x`);
  t.equal(hs.status, 200);
  t.match(((await hs.json()) as { claims: unknown }).claims, { client_id: clientId });
  t.match(decodeJwt(idp.tokenRequests.at(-1)!.params.client_assertion!), { iss: clientId });
  const bq = await fetch(`${proxy.url}/bq/x`);
  t.equal(bq.status, 200);
  t.match(((await bq.json()) as { claims: unknown }).claims, { sub: account, scope: 'bigquery.readonly' });
  const logs = proxy.logText();
  t.notMatch(logs, clientSecret, 'no secret in the log');
  t.notMatch(logs, google.requests.at(-1)!.params.assertion!, 'nor the grant assertion');
  t.match(await (await fetch(`${proxy.url}/_status`)).text(), /client credentials \(client_secret_jwt HS512\)[\s\S]*JWT bearer grant/);
});

async function statusPage(url: string) {
  const response = await fetch(`${url}/_status`);
  return { status: response.status, page: await response.text() };
}

/** The kind /_status shows under a token source's name in its Token sources row; undefined when it shows none. */
function kindOf(page: string, source: string): string | undefined {
  return new RegExp(`<tr><td>${source}<br><span class="muted">([^<]*)</span></td>`).exec(page)?.[1];
}

/**
 * A resource server that checks RFC 8705 §3 binding: the token's cnf.x5t#S256 must be the
 * thumbprint of the client certificate on this very connection.
 */
async function certificateCheckingUpstream(t: Test, ca: TestCa, keys: ReturnType<typeof createLocalJWKSet>, idp: { issuer: string; audience: string }) {
  const leaf = issueCertificate(ca, 'bound-upstream');
  const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerX509Certificate();
    const presented = peer ? createHash('sha256').update(peer.raw).digest('base64url') : undefined;
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    void jwtVerify(token, keys, { issuer: idp.issuer, audience: idp.audience }).then(
      ({ payload }) => {
        const cnf = (payload.cnf as Record<string, string> | undefined)?.['x5t#S256'];
        const ok = cnf !== undefined && cnf === presented;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify(ok ? { client: payload.client_id, cnf, presented } : { error: 'invalid_token', presented: presented ?? null }));
      },
      () => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_token"}');
      },
    );
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return { url };
}
