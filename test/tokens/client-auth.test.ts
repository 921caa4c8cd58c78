import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import t, { type Test } from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { createTransport } from '../../src/http/transport.ts';
import { createTokenSource } from '../../src/tokens/factory.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { createTestCa } from '../helpers/tls.ts';

// Each client authentication method against oidc-provider configured for it, through the
// factory and a real transport (so a client certificate travels the way serve sends it).

const clock = { now: () => Date.now() };

function sourceConfig(input: Record<string, unknown>): TokenSourceConfig {
  return configSchema.parse({ tokens: { s: { allowInsecure: true, ...input } }, routes: { '/r': { target: 'https://x.test', token: 's' } } }).tokens.s!;
}

async function fetchWith(t: Test, input: Record<string, unknown>) {
  const transport = createTransport({ env: {} });
  t.teardown(() => transport.close());
  return createTokenSource('s', sourceConfig(input), { transport, clock, env: {} }).fetchToken();
}

const lastRequest = (idp: TestIdp) => idp.tokenRequests.at(-1)!;

t.test('client_secret_jwt signs with the secret in HS256, HS384 or HS512, addressed to the token endpoint', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const { clientId, clientSecret } = idp.secretJwtClient;
  for (const algorithm of ['HS256', 'HS384', 'HS512'] as const) {
    const token = await fetchWith(t, { tokenUrl: idp.tokenUrl, clientId, clientSecret, authMethod: 'client_secret_jwt', ...(algorithm === 'HS256' ? {} : { assertionAlgorithm: algorithm }) });
    t.match(decodeJwt(token.value), { client_id: clientId, aud: idp.audience }, `${algorithm}: the IdP issued a token`);
    const sent = lastRequest(idp).params;
    t.equal(sent.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    t.equal(decodeProtectedHeader(sent.client_assertion!).alg, algorithm, `${algorithm} was used (HS256 when unset)`);
    t.match(decodeJwt(sent.client_assertion!), { iss: clientId, sub: clientId, aud: idp.tokenUrl, jti: String });
    t.notOk('client_secret' in sent, 'the secret itself is not sent');
  }
  const refused = await fetchWith(t, { tokenUrl: idp.tokenUrl, clientId, clientSecret: `${clientSecret}-wrong`, authMethod: 'client_secret_jwt' }).then(
    () => new Error('expected a failure'),
    (error: unknown) => error as Error,
  );
  t.match(refused, { code: 'TOKEN_FETCH_FAILED', message: /invalid_client/ }, 'a wrong secret is the IdP’s invalid_client');
  t.notMatch(refused.message, clientSecret, 'the secret is not in the message');
  t.notMatch(refused.message, /eyJ/, 'nor the assertion');
});

t.test('a client assertion file is read again for every fetch: the IdP sees the rotated assertion', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const dir = t.testdir({});
  const file = join(dir, 'azure-identity-token');
  const transport = createTransport({ env: {} });
  t.teardown(() => transport.close());
  const source = createTokenSource('s', sourceConfig({ tokenUrl: idp.tokenUrl, clientId: idp.federatedClient.clientId, clientAssertionFile: file }), { transport, clock, env: {} });
  t.equal(source.kind, 'client credentials (client assertion file)');

  const missing = await source.fetchToken().then(
    () => new Error('expected a failure'),
    (error: unknown) => error as Error,
  );
  t.match(missing, { code: 'TOKEN_UNAVAILABLE', message: /client assertion file ".*azure-identity-token" cannot be read \(ENOENT\)/ }, 'a file not written yet: may heal');
  t.equal(idp.tokenRequests.length, 0, 'and nothing was sent');

  const first = await idp.federatedClient.mint();
  writeFileSync(file, `${first}\n`);
  t.match(decodeJwt((await source.fetchToken()).value), { client_id: idp.federatedClient.clientId });
  t.equal(lastRequest(idp).params.client_assertion, first, 'the IdP got the file’s assertion (without its newline)');

  const rotated = await idp.federatedClient.mint();
  writeFileSync(file, rotated);
  await source.fetchToken();
  t.equal(lastRequest(idp).params.client_assertion, rotated, 'after the platform rotated the file, the IdP got the new one');

  writeFileSync(file, '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n');
  const requests = idp.tokenRequests.length;
  const wrongFile = await source.fetchToken().then(
    () => new Error('expected a failure'),
    (error: unknown) => error as Error,
  );
  t.match(wrongFile, { code: 'TOKEN_UNAVAILABLE', message: /does not hold a JWT.*nothing was sent/ });
  t.notMatch(wrongFile.message, /MIGH/, 'the content is not repeated');
  t.equal(idp.tokenRequests.length, requests, 'what is not a JWT is never sent to the IdP');
});

t.test('mutual TLS client authentication (RFC 8705) and certificate-bound tokens', async (t) => {
  const ca = createTestCa();
  const idp = await startIdp({ tls: { ca } });
  t.teardown(() => idp.close());
  const { pki, selfSigned, bound } = idp.mtlsClients!;
  const tlsOf = (client: typeof pki) => ({ cert: client.certificate.certPem, key: client.certificate.keyPem });

  const viaCa = await fetchWith(t, { tokenUrl: idp.tokenUrl, ca: ca.certPem, clientId: pki.clientId, authMethod: 'tls_client_auth', tls: tlsOf(pki) });
  t.match(decodeJwt(viaCa.value), { client_id: pki.clientId }, 'tls_client_auth: a CA-issued certificate, matched by subject');
  t.same(Object.keys(lastRequest(idp).params).sort(), ['client_id', 'grant_type'], 'only the client id in the body: the TLS connection authenticates');
  const discovered = await fetchWith(t, { issuer: idp.issuer, ca: ca.certPem, clientId: pki.clientId, authMethod: 'tls_client_auth', tls: tlsOf(pki) });
  t.match(decodeJwt(discovered.value), { client_id: pki.clientId }, 'by discovery too (mtls_endpoint_aliases when the IdP publishes them)');

  const viaSelfSigned = await fetchWith(t, { tokenUrl: idp.tokenUrl, ca: ca.certPem, clientId: selfSigned.clientId, authMethod: 'self_signed_tls_client_auth', tls: tlsOf(selfSigned) });
  t.match(decodeJwt(viaSelfSigned.value), { client_id: selfSigned.clientId }, 'self_signed_tls_client_auth: the registered certificate');
  t.notOk(decodeJwt(viaSelfSigned.value).cnf, 'not bound unless the client is registered so');

  const boundToken = decodeJwt(
    (await fetchWith(t, { tokenUrl: idp.tokenUrl, ca: ca.certPem, clientId: bound.clientId, authMethod: 'self_signed_tls_client_auth', tls: tlsOf(bound), certificateBoundTokens: true })).value,
  );
  const thumbprint = createHash('sha256').update(new X509Certificate(bound.certificate.certPem).raw).digest('base64url');
  t.same(boundToken.cnf, { 'x5t#S256': thumbprint }, 'a bound client’s token carries the certificate’s thumbprint');

  const stranger = await fetchWith(t, { tokenUrl: idp.tokenUrl, ca: ca.certPem, clientId: selfSigned.clientId, authMethod: 'self_signed_tls_client_auth', tls: tlsOf(bound) }).then(
    () => new Error('expected a failure'),
    (error: unknown) => error as Error,
  );
  t.match(stranger, { code: 'TOKEN_FETCH_FAILED', message: /invalid_client/ }, 'another client’s certificate is refused');
  const noCertificate = await fetchWith(t, { tokenUrl: idp.tokenUrl, ca: ca.certPem, clientId: pki.clientId, clientSecret: 'not-a-certificate', authMethod: 'client_secret_post' }).then(
    () => new Error('expected a failure'),
    (error: unknown) => error as Error,
  );
  t.match(noCertificate, { code: 'TOKEN_FETCH_FAILED', message: /invalid_client/ }, 'without the certificate the mTLS client is refused');
});
