import { readFileSync } from 'node:fs';
import t from 'tap';
import { verifyPasswordHash } from '../../src/inbound/password.ts';
import { collect, runCli, spawnCli, waitForLine } from '../helpers/cli.ts';
import { startIdp } from '../helpers/idp.ts';
import { startUpstream } from '../helpers/upstream.ts';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

t.test('--version, --help and usage mistakes', async (t) => {
  const shown = await runCli(['--version']);
  t.equal(shown.code, 0);
  t.equal(shown.stdout.trim(), version);
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /bearer-proxy check/);
  const unknown = await runCli(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "frobnicate"/);
  const badFlag = await runCli(['check', '--nope']);
  t.equal(badFlag.code, 2);
  t.notMatch(badFlag.stderr, /\n\s+at /, 'no stack trace for a user mistake');
});

t.test('an unknown log level is a command-line mistake, caught before the config is read', async (t) => {
  // The config file does not exist: a check that ran after loading it would exit 1 instead.
  const flag = await runCli(['serve', '-c', '/nonexistent/proxy.yaml', '--log-level', 'bogus']);
  t.equal(flag.code, 2);
  t.equal(flag.stderr.trim(), 'bearer-proxy: --log-level must be one of fatal, error, warn, info, debug, trace, silent, not "bogus"');
  const env = await runCli(['serve', '-c', '/nonexistent/proxy.yaml'], { env: { LOG_LEVEL: 'verbose' } });
  t.equal(env.code, 2);
  t.match(env.stderr, /^bearer-proxy: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "verbose"\n$/);
});

t.test('schema prints the JSON Schema', async (t) => {
  const result = await runCli(['schema']);
  t.equal(result.code, 0);
  const schema = JSON.parse(result.stdout) as { properties: Record<string, unknown>; additionalProperties: boolean };
  t.same(Object.keys(schema.properties).sort(), ['admin', 'inbound', 'listen', 'routes', 'shutdownTimeout', 'statusPage', 'tokens']);
  t.equal(schema.additionalProperties, false);
});

t.test('check reports every mistake with its line and exits 1', async (t) => {
  const dir = t.testdir({
    'proxy.yaml': [
      'listen:',
      '  port: 8080',
      'tokens:',
      '  lake:',
      '    tokenUrl: https://idp.example.com/token',
      '    clientId: abc',
      '    clientSecret: ${LAKE_SECRET}',
      '    scopes: api://x/.default',
      'routes:',
      '  /sales:',
      '    target: not a url',
      '    token: lake',
      '',
    ].join('\n'),
  });
  const result = await runCli(['check', '-c', `${dir}/proxy.yaml`]);
  t.equal(result.code, 1);
  t.match(result.stderr, /proxy\.yaml:7:\d+ tokens\.lake\.clientSecret: environment variable LAKE_SECRET is not set/);
  t.match(result.stderr, /proxy\.yaml:8:\d+ tokens\.lake\.scopes: unknown key "scopes" \(did you mean "scope"\?\)/);
  t.match(result.stderr, /proxy\.yaml:11:\d+ routes\["\/sales"\]\.target: expected an absolute http/);
  t.match(result.stderr, /3 problems/);
  t.notMatch(result.stderr, /\n\s+at /);
});

t.test('check on a missing file says so', async (t) => {
  const result = await runCli(['check', '-c', '/nonexistent/proxy.yaml']);
  t.equal(result.code, 1);
  t.match(result.stderr, /cannot read the config file \(file not found\)/);
});

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
  t.equal(upstream.requests.at(-1)?.url, '/v1/items?$top=1', 'the upstream got the target path');
  server.kill('SIGTERM');
  const result = await exited;
  t.equal(result.code, 0, 'SIGTERM exits 0');
  t.match(result.stdout, /"msg":"request"/, 'one access line per request');
  t.notMatch(result.stdout + result.stderr, new RegExp(secret), 'no secret in the log');
});

t.test('serve refuses to expose anonymous access beyond loopback unless told to', async (t) => {
  const dir = t.testdir({
    'proxy.yaml': 'inbound: { anonymous: any }\ntokens:\n  t: { tokenUrl: "https://idp.example.com/token", clientId: c, clientSecret: "${S}" }\nroutes:\n  /x: { target: "https://api.example.com", token: t }\n',
  });
  const refused = await runCli(['-c', `${dir}/proxy.yaml`, '--host', '0.0.0.0', '--port', '0'], { env: { S: 'x' } });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /anyone who can reach it could use your tokens.*--allow-anonymous-remote/);
  const badPort = await runCli(['-c', `${dir}/proxy.yaml`, '--port', 'eighty'], { env: { S: 'x' } });
  t.equal(badPort.code, 2);
  t.match(badPort.stderr, /--port must be a whole number/);
});

t.test('hash-password hashes standard input', async (t) => {
  const result = await runCli(['hash-password'], { input: 'correct horse battery\n' });
  t.equal(result.code, 0);
  const hash = result.stdout.trim();
  t.match(hash, /^scrypt\$/);
  t.ok(await verifyPasswordHash('correct horse battery', hash));
  t.notOk(await verifyPasswordHash('correct horse', hash));
  const empty = await runCli(['hash-password'], { input: '' });
  t.equal(empty.code, 1);
});

t.test('demo serves data through the proxy with a token the service verified', async (t) => {
  const result = await runCli(['demo', '--once', '--port', '0']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /✓ GET http:\/\/127\.0\.0\.1:\d+\/odata\/People without the proxy → 401/);
  t.match(result.stdout, /✓ GET http:\/\/localhost:\d+\/demo\/People → 200/);
  t.match(result.stdout, /✓ @odata\.nextLink → http:\/\/localhost:\d+\/demo\/People\?/);
  t.match(result.stdout, /✓ followed every page: \d+ people in \d+ pages, 1 token request at the issuer/);
});
