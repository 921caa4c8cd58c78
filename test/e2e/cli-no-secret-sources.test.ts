import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { runCli } from '../helpers/cli.ts';
import { startIdp } from '../helpers/idp.ts';
import { startJwtBearerIdp } from '../helpers/jwt-bearer-idp.ts';
import { generateTestKey } from '../helpers/keys.ts';
import { createTestCa } from '../helpers/tls.ts';

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
      '  /lake: { target: "https://lake.example.com", token: wi }',
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
