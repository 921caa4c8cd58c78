import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import t from 'tap';
import { runCli } from '../helpers/cli.ts';
import { startIdp } from '../helpers/idp.ts';
import { startJwtBearerIdp } from '../helpers/jwt-bearer-idp.ts';
import { generateTestKey } from '../helpers/keys.ts';
import { createTestCa, fetchJwks } from '../helpers/tls.ts';

// `check --fetch-tokens` and `token` for workload identity, mTLS, certificate-bound tokens,
// client_secret_jwt and the JWT-bearer grant, as child processes of the built CLI.

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

t.test('each source is named by kind, fetches its token, and nothing secret is printed', async (t) => {
  const tenant = randomUUID();
  const entra = await startIdp({ tokenPath: `/${tenant}/oauth2/v2.0/token` });
  t.teardown(() => entra.close());
  const ca = createTestCa();
  const mtlsIdp = await startIdp({ tls: { ca } });
  t.teardown(() => mtlsIdp.close());
  const serviceKey = generateTestKey('rsa');
  const account = 'reports@lake-project.iam.gserviceaccount.com';
  const google = await startJwtBearerIdp(t, [{ issuer: account, publicJwk: serviceKey.publicJwk }]);
  const { pki, bound } = mtlsIdp.mtlsClients!;
  const federated = await entra.federatedClient.mint();

  const dir = t.testdir({
    'ca.pem': ca.certPem,
    'mtls-cert.pem': pki.certificate.certPem,
    'mtls-key.pem': pki.certificate.keyPem,
    'bound-cert.pem': bound.certificate.certPem,
    'bound-key.pem': bound.certificate.keyPem,
    'service-account.pem': serviceKey.privateKeyPem,
    'azure-identity-token': federated,
    'proxy.yaml': [
      'tokens:',
      '  wi:',
      '    azureWorkloadIdentity: true',
      '    allowInsecure: true',
      '  mtls:',
      `    tokenUrl: ${mtlsIdp.tokenUrl}`,
      '    ca: ca.pem',
      `    clientId: ${pki.clientId}`,
      '    authMethod: tls_client_auth',
      '    tls: { cert: mtls-cert.pem, key: mtls-key.pem }',
      '  bound:',
      `    tokenUrl: ${mtlsIdp.tokenUrl}`,
      '    ca: ca.pem',
      `    clientId: ${bound.clientId}`,
      '    authMethod: self_signed_tls_client_auth',
      '    tls: { cert: bound-cert.pem, key: bound-key.pem }',
      '    certificateBoundTokens: true',
      '  hs:',
      `    tokenUrl: ${entra.tokenUrl}`,
      `    clientId: ${entra.secretJwtClient.clientId}`,
      '    clientSecret: ${HS_SECRET}',
      '    authMethod: client_secret_jwt',
      '    assertionAlgorithm: HS384',
      '    allowInsecure: true',
      '  google:',
      `    tokenUrl: ${google.tokenUrl}`,
      '    allowInsecure: true',
      `    jwtBearer: { issuer: ${account}, privateKey: service-account.pem, keyId: ${serviceKey.kid}, claims: { scope: bigquery.readonly } }`,
      'routes:',
      '  /lake: { target: "https://lake.example.com", token: wi, maxConnections: 8 }',
      '  /bound: { target: "https://bound.example.com", token: bound }',
      '',
    ].join('\n'),
  });
  const config = `${dir}/proxy.yaml`;
  const env = {
    AZURE_AUTHORITY_HOST: `${entra.issuer}/`,
    AZURE_TENANT_ID: tenant,
    AZURE_CLIENT_ID: entra.federatedClient.clientId,
    AZURE_FEDERATED_TOKEN_FILE: `${dir}/azure-identity-token`,
    HS_SECRET: entra.secretJwtClient.clientSecret,
  };

  const checked = await runCli(['check', '-c', config, '--fetch-tokens'], { env });
  t.equal(checked.code, 0, checked.stdout + checked.stderr);
  const out = checked.stdout;
  t.match(out, `wi: Azure workload identity: ${entra.tokenUrl}, client ${entra.federatedClient.clientId}, private_key_jwt with the assertion in ${dir}/azure-identity-token`);
  t.match(out, `mtls: ${mtlsIdp.tokenUrl}, client ${pki.clientId}, tls_client_auth`);
  t.match(out, `bound: ${mtlsIdp.tokenUrl}, client ${bound.clientId}, self_signed_tls_client_auth, certificate-bound tokens`);
  t.match(out, /\/bound\s+→\s+https:\/\/bound\.example\.com\s+token: bound, timeout 600s, presents bound's client certificate/);
  t.match(out, /\/lake\s+→\s+https:\/\/lake\.example\.com\s+token: wi, timeout 600s, 8 connections at most\n/, 'a bound other than the default is shown');
  t.match(out, `hs: ${entra.tokenUrl}, client ${entra.secretJwtClient.clientId}, client_secret_jwt HS384`);
  t.match(out, `google: JWT bearer grant at ${google.tokenUrl}, issuer ${account}, kid ${serviceKey.kid}`);
  for (const name of ['wi', 'mtls', 'bound', 'hs', 'google']) t.match(out, new RegExp(`✓ ${name}: bearer token, expires in \\d+s`), `${name} fetched`);
  t.equal(entra.tokenRequests.find((request) => request.params.client_id === entra.federatedClient.clientId)?.params.client_assertion, federated, 'workload identity sent the federated token');

  // The platform rotates the file; the next command reads the new one.
  const rotated = await entra.federatedClient.mint();
  writeFileSync(`${dir}/azure-identity-token`, rotated);
  const wi = await runCli(['token', 'wi', '-c', config], { env });
  t.equal(wi.code, 0, wi.stderr);
  t.match(wi.stdout, 'token source  wi (Azure workload identity (federated token file))');
  t.match(wi.stdout, new RegExp(`client_id\\s+${entra.federatedClient.clientId}`));
  t.equal(entra.tokenRequests.at(-1)!.params.client_assertion, rotated, 'with the rotated assertion');

  const boundToken = await runCli(['token', 'bound', '-c', config], { env });
  t.equal(boundToken.code, 0, boundToken.stderr);
  const thumbprint = createHash('sha256').update(new X509Certificate(bound.certificate.certPem).raw).digest('base64url');
  t.match(boundToken.stdout, `cnf        {"x5t#S256":"${thumbprint}"}`, 'the binding shows in the claims');
  const googleToken = await runCli(['token', 'google', '-c', config], { env });
  t.equal(googleToken.code, 0, googleToken.stderr);
  t.match(googleToken.stdout, 'token source  google (JWT bearer grant)');
  t.match(googleToken.stdout, new RegExp(`sub\\s+${account}`));

  const printed = [checked, wi, boundToken, googleToken].map((run) => run.stdout + run.stderr).join('\n');
  t.notMatch(printed, JWT, 'no token or assertion printed');
  t.notMatch(printed, entra.secretJwtClient.clientSecret, 'no client secret');
  for (const pem of [pki.certificate.keyPem, bound.certificate.keyPem, serviceKey.privateKeyPem]) t.notMatch(printed, pem.split('\n')[1]!, 'no private key');
});

t.test("token --raw for tls_client_auth and client_secret_jwt prints the IdP's token and nothing else", async (t) => {
  const ca = createTestCa();
  // One HTTPS IdP serves both: it asks for a client certificate but lets the secret-JWT client in without one.
  const idp = await startIdp({ tls: { ca } });
  t.teardown(() => idp.close());
  const { pki } = idp.mtlsClients!;
  const dir = t.testdir({
    'ca.pem': ca.certPem,
    'mtls-cert.pem': pki.certificate.certPem,
    'mtls-key.pem': pki.certificate.keyPem,
    'proxy.yaml': [
      'tokens:',
      '  mtls:',
      `    tokenUrl: ${idp.tokenUrl}`,
      '    ca: ca.pem',
      `    clientId: ${pki.clientId}`,
      '    authMethod: tls_client_auth',
      '    tls: { cert: mtls-cert.pem, key: mtls-key.pem }',
      '  hs:',
      `    tokenUrl: ${idp.tokenUrl}`,
      '    ca: ca.pem',
      `    clientId: ${idp.secretJwtClient.clientId}`,
      '    clientSecret: ${HS_SECRET}',
      '    authMethod: client_secret_jwt',
      'routes:',
      '  /mtls: { target: "https://mtls.example.com", token: mtls }',
      '  /hs: { target: "https://hs.example.com", token: hs }',
      '',
    ].join('\n'),
  });
  const config = `${dir}/proxy.yaml`;
  const env = { HS_SECRET: idp.secretJwtClient.clientSecret };
  const keys = createLocalJWKSet(await fetchJwks(idp.jwksUrl, ca));
  const issuedBy = { issuer: idp.issuer, audience: idp.audience };

  const mtls = await runCli(['token', 'mtls', '-c', config, '--raw'], { env });
  t.equal(mtls.code, 0, mtls.stderr);
  t.match(mtls.stdout, /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/, 'stdout is the token line and nothing else');
  const mtlsClaims = (await jwtVerify(mtls.stdout.trim(), keys, issuedBy)).payload;
  t.equal(mtlsClaims.client_id, pki.clientId, 'signed by the IdP for the mTLS client');
  const mtlsRequest = idp.tokenRequests.filter((entry) => entry.params.client_id === pki.clientId);
  t.same(
    mtlsRequest.map((entry) => ({ status: entry.status, assertion: entry.params.client_assertion, secret: entry.params.client_secret, authorization: entry.authorization })),
    [{ status: 200, assertion: undefined, secret: undefined, authorization: undefined }],
    'one request, authenticated by the certificate alone',
  );

  const hs = await runCli(['token', 'hs', '-c', config, '--raw'], { env });
  t.equal(hs.code, 0, hs.stderr);
  t.match(hs.stdout, /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/, 'stdout is the token line and nothing else');
  const hsClaims = (await jwtVerify(hs.stdout.trim(), keys, issuedBy)).payload;
  t.equal(hsClaims.client_id, idp.secretJwtClient.clientId, 'signed by the IdP for the client_secret_jwt client');
  const hsRequests = idp.tokenRequests.filter((entry) => entry.params.client_assertion !== undefined);
  t.same(
    hsRequests.map((entry) => entry.status),
    [200],
    'one request, with a client assertion',
  );
  const assertion = hsRequests[0]?.params.client_assertion ?? 'no assertion';
  t.match(decodeProtectedHeader(assertion), { alg: 'HS256' }, 'signed with the secret (HS256)');
  t.match(decodeJwt(assertion), { sub: idp.secretJwtClient.clientId, aud: idp.tokenUrl }, 'for this client and token endpoint');
  t.not(hs.stdout.trim(), assertion, 'what is printed is the access token, not the assertion');

  for (const [name, run] of [['mtls', mtls] as const, ['hs', hs] as const]) {
    const printed = run.stdout + run.stderr;
    t.equal(run.stderr, '', `${name}: nothing on stderr`);
    t.notOk(printed.includes(idp.secretJwtClient.clientSecret), `${name}: no client secret`);
    t.notOk(printed.includes(assertion), `${name}: no client assertion`);
    t.notOk(printed.includes('PRIVATE KEY'), `${name}: no PEM private key`);
    const keyLines = pki.certificate.keyPem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
    t.notOk(
      keyLines.some((line) => printed.includes(line)),
      `${name}: no line of the client certificate's key`,
    );
  }
});
