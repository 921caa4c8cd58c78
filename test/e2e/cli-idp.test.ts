import t from 'tap';
import { collect, runCli, spawnCli, waitForLine } from '../helpers/cli.ts';
import { startIdp } from '../helpers/idp.ts';
import { startUpstream } from '../helpers/upstream.ts';

// check, token and serve as child processes against a real IdP (oidc-provider) and upstream.

t.test('check, token and serve against a real IdP and upstream', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
  t.teardown(() => upstream.close());
  const secret = idp.clients.basic.clientSecret;
  const dir = t.testdir({
    'proxy.yaml': [
      'listen: { port: 0 }',
      'tokens:',
      '  good:',
      `    issuer: ${idp.issuer}`,
      `    clientId: ${idp.clients.basic.clientId}`,
      '    clientSecret: ${GOOD_SECRET}',
      '    authMethod: client_secret_basic',
      '    allowInsecure: true',
      '  bad:',
      `    tokenUrl: ${idp.tokenUrl}`,
      `    clientId: ${idp.clients.post.clientId}`,
      '    clientSecret: ${file:wrong-secret.txt}',
      '    allowInsecure: true',
      '  keyed:',
      `    tokenUrl: ${idp.tokenUrl}`,
      `    clientId: ${idp.keyClient.clientId}`,
      '    authMethod: private_key_jwt',
      '    privateKey: ${file:client-key.pem}',
      `    keyId: ${idp.keyClient.keys.rsa.kid}`,
      '    allowInsecure: true',
      'routes:',
      `  /lake: { target: "${upstream.url}/v1", token: good }`,
      `  /broken: { target: "${upstream.url}/v1", token: bad }`,
      '',
    ].join('\n'),
    'wrong-secret.txt': 'definitely-not-the-secret-42\n',
    'client-key.pem': idp.keyClient.keys.rsa.privateKeyPem,
  });
  const env = { GOOD_SECRET: secret };
  const config = `${dir}/proxy.yaml`;

  const checked = await runCli(['check', '-c', config, '--fetch-tokens'], { env });
  t.equal(checked.code, 1, 'one source fails');
  t.match(checked.stdout, /\/lake\s+→\s+http:\/\/127\.0\.0\.1:\d+\/v1/);
  t.match(checked.stdout, /✓ good: bearer token, expires in \d+s/);
  t.match(checked.stdout, /✗ bad: TOKEN_FETCH_FAILED: .*invalid_client/);
  t.match(checked.stdout, new RegExp(`keyed: .*private_key_jwt, kid ${idp.keyClient.keys.rsa.kid}`));
  t.match(checked.stdout, /✓ keyed: bearer token, expires in \d+s/, 'private_key_jwt with a key read from a file');
  const keyBody = idp.keyClient.keys.rsa.privateKeyPem.split('\n')[1]!;
  t.notMatch(checked.stdout + checked.stderr, new RegExp(`${secret}|definitely-not-the-secret-42|${keyBody.replace(/[+/]/g, '\\$&')}`), 'no secret or key printed');

  const shown = await runCli(['token', 'good', '-c', config], { env });
  t.equal(shown.code, 0);
  t.match(shown.stdout, new RegExp(`client_id\\s+${idp.clients.basic.clientId}`));
  t.match(shown.stdout, /format\s+JWT/);
  t.notMatch(shown.stdout, /eyJ[\w-]+\.[\w-]+\.[\w-]+/, 'the token itself only with --raw');
  const raw = await runCli(['token', 'good', '-c', config, '--raw'], { env });
  t.match(raw.stdout.trim(), /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);

  const server = spawnCli(['serve', '-c', config], { env });
  const exited = collect(server);
  const started = JSON.parse(await waitForLine(server, /listening on/)) as { url: string };
  const response = await fetch(`${started.url}/lake/items?$top=1`);
  t.equal(response.status, 200);
  await response.body?.cancel();
  // The echoed "url" would itself be rewritten now (a JSON string starting with the target path is a link).
  t.equal(upstream.requests.at(-1)?.url, '/v1/items?$top=1', 'the upstream got the target path');
  server.kill('SIGTERM');
  const result = await exited;
  t.equal(result.code, 0, 'SIGTERM exits 0');
  t.match(result.stdout, /"msg":"request"/, 'one access line per request');
  t.notMatch(result.stdout + result.stderr, new RegExp(secret), 'no secret in the log');
});
