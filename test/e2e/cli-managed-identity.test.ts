import { createServer } from 'node:net';
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
  const { writeFileSync } = await import('node:fs');
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

/** A port nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
