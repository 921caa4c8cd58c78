import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import t from 'tap';
import { startIdentityEndpoint } from '../helpers/azure-identity.ts';
import { runCli } from '../helpers/cli.ts';

// `check --fetch-tokens` and `token` for managed identity, as child processes of the built CLI.

const RESOURCE = 'https://datalake.example.com';
const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

t.test('IMDS and App Service: check names each kind and fetches; token shows the claims, never the token', async (t) => {
  const imds = await startIdentityEndpoint(t, 'imds');
  const appService = await startIdentityEndpoint(t, 'appService');
  const dir = t.testdir({
    'proxy.yaml': [
      'tokens:',
      '  vm:',
      '    managedIdentity:',
      `      resource: ${RESOURCE}`,
      `      endpoint: ${imds.tokenUrl}`,
      `      clientId: ${imds.userIdentity.clientId}`,
      '  webapp:',
      `    managedIdentity: { resource: "${RESOURCE}/.default" }`,
      'routes:',
      '  /lake: { target: "https://lake.example.com", token: vm }',
      '  /app: { target: "https://app.example.com", token: webapp }',
      '',
    ].join('\n'),
  });
  const env = { IDENTITY_ENDPOINT: appService.tokenUrl, IDENTITY_HEADER: appService.identityHeader };
  const checked = await runCli(['check', '-c', `${dir}/proxy.yaml`, '--fetch-tokens'], { env });
  t.equal(checked.code, 0, checked.stdout + checked.stderr);
  t.match(checked.stdout, `vm: managed identity (IMDS) at ${imds.tokenUrl}, user-assigned client id ${imds.userIdentity.clientId}, resource ${RESOURCE}`);
  t.match(checked.stdout, `webapp: managed identity (App Service) at ${appService.tokenUrl}, system-assigned, resource ${RESOURCE}/.default`);
  t.match(checked.stdout, /✓ vm: bearer token, expires in 3\d{3}s/);
  t.match(checked.stdout, /✓ webapp: bearer token, expires in 3\d{3}s/);

  const shown = await runCli(['token', 'webapp', '-c', `${dir}/proxy.yaml`], { env });
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, 'token source  webapp (managed identity (App Service))');
  t.match(shown.stdout, new RegExp(`aud\\s+${RESOURCE}`));
  t.match(shown.stdout, new RegExp(`appid\\s+${appService.systemIdentity.clientId}`));
  for (const output of [checked.stdout + checked.stderr, shown.stdout + shown.stderr]) {
    t.notMatch(output, JWT, 'no token printed');
    t.notMatch(output, appService.identityHeader, 'nor the identity header');
  }
});

t.test('Azure Arc: the challenge from the command line too; an unreachable IMDS says where it looked', async (t) => {
  const dir = t.testdir({ tokens: {} });
  const arc = await startIdentityEndpoint(t, 'arc', { arcKeyDirectory: `${dir}/tokens` });
  const yaml = (source: string) => `tokens:\n  arc:\n    managedIdentity: ${source}\nroutes:\n  /a: { target: "https://a.example.com", token: arc }\n`;
  const config = `${dir}/proxy.yaml`;
  writeFileSync(config, yaml(`{ resource: "${RESOURCE}", arcKeyDirectory: "${dir}/tokens" }`));
  const env = { IDENTITY_ENDPOINT: arc.tokenUrl, IMDS_ENDPOINT: arc.url };
  const shown = await runCli(['token', 'arc', '-c', config], { env });
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, 'token source  arc (managed identity (Azure Arc))');
  t.notMatch(shown.stdout + shown.stderr, arc.arcSecrets.at(-1)!, 'the challenge key is not printed');

  const closed = `http://127.0.0.1:${await unusedPort()}/metadata/identity/oauth2/token`;
  writeFileSync(config, yaml(`{ resource: "${RESOURCE}", endpoint: "${closed}" }`));
  const down = await runCli(['check', '-c', config, '--fetch-tokens'], { env: {} });
  t.equal(down.code, 1);
  t.match(down.stdout, `✗ arc: TOKEN_UNAVAILABLE: No access token for "arc": the managed identity endpoint (IMDS at ${closed}) refused the connection`);
});

t.test('IMDS: token --raw prints only the token the endpoint issued, at a configured endpoint or the pod-identity host', async (t) => {
  const imds = await startIdentityEndpoint(t, 'imds');
  const dir = t.testdir({
    'proxy.yaml': [
      'tokens:',
      '  vm:',
      `    managedIdentity: { resource: "${RESOURCE}", endpoint: "${imds.tokenUrl}", objectId: "${imds.userIdentity.objectId}" }`,
      '  pod:',
      `    managedIdentity: { resource: "${RESOURCE}" }`,
      'routes:',
      '  /lake: { target: "https://lake.example.com", token: vm }',
      '  /pod: { target: "https://pod.example.com", token: pod }',
      '',
    ].join('\n'),
  });
  const config = `${dir}/proxy.yaml`;
  // Without an endpoint the source would wait for 169.254.169.254; the AAD pod identity host stands in for it.
  const env = { AZURE_POD_IDENTITY_AUTHORITY_HOST: `${imds.url}/` };

  const raw = await runCli(['token', 'vm', '-c', config, '--raw'], { env });
  t.equal(raw.code, 0, raw.stderr);
  t.match(raw.stdout, /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/, 'stdout is the token line and nothing else');
  t.equal(raw.stderr, '', 'nothing on stderr');
  const { payload } = await jwtVerify(raw.stdout.trim(), createRemoteJWKSet(new URL(imds.jwksUrl)), { issuer: imds.issuer, audience: RESOURCE });
  t.match(payload, { oid: imds.userIdentity.objectId, appid: imds.userIdentity.clientId }, "the user-assigned identity's token, signed by the endpoint");
  const asked = imds.requests.at(-1)!;
  t.match(
    { status: asked.status, metadata: asked.headers.metadata, objectId: asked.query.get('object_id'), resource: asked.query.get('resource') },
    { status: 200, metadata: 'true', objectId: imds.userIdentity.objectId, resource: RESOURCE },
    'asked IMDS for that identity, with Metadata: true',
  );

  const shown = await runCli(['token', 'pod', '-c', config], { env });
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, 'token source  pod (managed identity (IMDS))');
  t.match(shown.stdout, new RegExp(`appid\\s+${imds.systemIdentity.clientId}`), 'the system-assigned identity, from the pod-identity host');
  t.notMatch(shown.stdout + shown.stderr, JWT, 'without --raw, no token printed');
  t.equal(imds.requests.length, 2, 'one request per command');
});

t.test('Azure Arc: check --fetch-tokens answers the challenge with the key file and fetches', async (t) => {
  const dir = t.testdir({ tokens: {} });
  const arc = await startIdentityEndpoint(t, 'arc', { arcKeyDirectory: `${dir}/tokens` });
  const config = `${dir}/proxy.yaml`;
  writeFileSync(config, `tokens:\n  arc:\n    managedIdentity: { resource: "${RESOURCE}", arcKeyDirectory: "${dir}/tokens" }\nroutes:\n  /a: { target: "https://a.example.com", token: arc }\n`);
  const checked = await runCli(['check', '-c', config, '--fetch-tokens'], { env: { IDENTITY_ENDPOINT: arc.tokenUrl, IMDS_ENDPOINT: arc.url } });
  t.equal(checked.code, 0, checked.stdout + checked.stderr);
  t.match(checked.stdout, `arc: managed identity (Azure Arc) at ${arc.tokenUrl}, system-assigned, resource ${RESOURCE}`);
  t.match(checked.stdout, /✓ arc: bearer token, expires in 3\d{3}s/);
  t.equal(arc.arcSecrets.length, 1, 'one challenge');
  t.same(
    arc.requests.map((request) => ({ status: request.status, authorization: request.headers.authorization })),
    [
      { status: 401, authorization: undefined },
      { status: 200, authorization: `Basic ${arc.arcSecrets[0]}` },
    ],
    "challenged, then retried with the key file's content",
  );
  const printed = checked.stdout + checked.stderr;
  t.notOk(printed.includes(arc.arcSecrets[0]!), 'the challenge key is not printed');
  t.notOk(printed.includes(Buffer.from(arc.arcSecrets[0]!).toString('base64')), 'nor its base64');
  t.notMatch(printed, JWT, 'nor the token');
});

/** A port nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
