import { createServer } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { check } from '../../src/cli/check.ts';
import { ConfigError } from '../../src/config/load.ts';
import { testIo } from '../helpers/cli-io.ts';
import { startIdp } from '../helpers/idp.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startScriptedIdp, tokenAnswer } from '../helpers/scripted-idp.ts';

/** The token URL of an IdP that is down: a port that was just free, connections refused. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await closeServer(server);
  return `${url}/token`;
}

const PLAIN_SECRET = 'plain-text-secret-3f9a7c1e';

t.test('a valid file: OK, the listener, the routes longest prefix first, the sources, and no secret', async (t) => {
  const dir = t.testdir({
    'proxy.yaml': [
      'listen: { host: 127.0.0.1, port: 9090 }',
      'inbound:',
      '  users:',
      '    - { name: powerbi, passwordHash: "${PBI_HASH}" }',
      'tokens:',
      '  lake: { tokenUrl: "https://idp.example.com/token", clientId: lake-app, clientSecret: "${LAKE_SECRET}", scope: "api://lake/.default" }',
      `  plain: { tokenUrl: "https://idp.example.com/token", clientId: plain-app, clientSecret: "${PLAIN_SECRET}" }`,
      'routes:',
      '  /sales: { target: "https://api.example.com/odata", token: lake }',
      '  /sales/archive/2020: { target: "https://archive.example.com/v1", token: plain, timeout: 30s, maxConnections: 4, rewriteUrls: false }',
      '  /hr: { target: "https://hr.example.com", token: lake }',
      '',
    ].join('\n'),
  });
  const lakeSecret = 'lake-env-secret-8d2b41f0';
  const run = testIo({ cwd: dir, env: { LAKE_SECRET: lakeSecret, PBI_HASH: 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5' } });
  t.equal(await check(run.io, {}), 0);
  const lines = run.stdout.text.split('\n');
  t.equal(lines[0], `${join(dir, 'proxy.yaml')}: OK`);
  t.match(run.stdout.text, /^listen {3}127\.0\.0\.1:9090 {3}anonymous: loopback {3}users: powerbi$/m);
  const routes = lines.filter((line) => line.includes('→'));
  t.match(
    routes,
    [
      /^ {2}\/sales\/archive\/2020 {2}→ {2}https:\/\/archive\.example\.com\/v1 {3}token: plain, timeout 30s, 4 connections at most, no URL rewriting$/,
      /^ {2}\/sales {15}→ {2}https:\/\/api\.example\.com\/odata {3}token: lake, timeout 600s$/,
      /^ {2}\/hr {18}→ {2}https:\/\/hr\.example\.com {3}token: lake, timeout 600s$/,
    ],
    'longest prefix first, arrows aligned, only what differs from the defaults',
  );
  t.equal(routes.length, 3);
  t.match(run.stdout.text, /^token sources\n {2}lake: https:\/\/idp\.example\.com\/token, client lake-app, client_secret_post, scope api:\/\/lake\/\.default\n {2}plain: /m);
  t.match(run.stderr.text, /^warning: .*proxy\.yaml:7:\d+ tokens\.plain\.clientSecret: secret written in plain text/m, 'the plain-text secret is a warning on standard error');
  t.notMatch(run.output, new RegExp(`${lakeSecret}|${PLAIN_SECRET}|a2V5a2V5`), 'neither secret nor the password hash is printed');
  t.notMatch(run.stdout.text, /fetching tokens/, 'no IdP is asked without --fetch-tokens');
});

t.test('an invalid file: every problem with its line and key, and nothing said to be OK', async (t) => {
  const dir = t.testdir({
    'proxy.yaml': [
      'tokens:',
      '  lake:',
      '    tokenUrl: https://idp.example.com/token',
      '    clientId: abc',
      '    clientSecret: ${LAKE_SECRET}',
      '    scopes: api://x/.default',
      'routes:',
      '  /sales: { target: "https://api.example.com", token: laek }',
      '',
    ].join('\n'),
  });
  const run = testIo({ cwd: dir, env: { LAKE_SECRET: 'set' } });
  const error = await t.rejects(check(run.io, {}));
  t.type(error, ConfigError);
  // cli.ts recognises it by name (without loading the config code) and exits 1 with the message alone.
  t.equal((error as Error).name, 'ConfigError');
  const message = (error as Error).message;
  t.match(message, new RegExp(`^${join(dir, 'proxy.yaml')}: 2 problems\n`));
  t.match(message, /proxy\.yaml:6:5 tokens\.lake\.scopes: unknown key "scopes" \(did you mean "scope"\?\)/);
  t.match(message, /proxy\.yaml:8:\d+ routes\["\/sales"\]\.token: no token source named "laek"/);
  t.equal(run.stdout.text, '', 'nothing printed as if it were fine');
});

t.test('--fetch-tokens against a real IdP: each source fetched, exit 1 when any fails, no secret printed', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const { basic, post } = idp.clients;
  const dir = t.testdir({
    'proxy.yaml': [
      'tokens:',
      `  good: { issuer: "${idp.issuer}", clientId: ${basic.clientId}, clientSecret: "\${GOOD}", authMethod: client_secret_basic, allowInsecure: true }`,
      `  posted: { tokenUrl: "${idp.tokenUrl}", clientId: ${post.clientId}, clientSecret: "\${POSTED}", scope: api:read, allowInsecure: true }`,
      'routes:',
      '  /lake: { target: "https://api.example.com", token: good }',
      '  /posted: { target: "https://api.example.com", token: posted }',
      '',
    ].join('\n'),
  });
  const passing = testIo({ cwd: dir, env: { GOOD: basic.clientSecret, POSTED: post.clientSecret } });
  t.equal(await check(passing.io, { fetchTokens: true }), 0, 'every source works: exit 0');
  t.match(passing.stdout.text, /^fetching tokens\n {2}✓ good: bearer token, expires in \d+s\n {2}✓ posted: bearer token, expires in \d+s, scope api:read$/m);
  t.notMatch(passing.output, new RegExp(`${basic.clientSecret}|${post.clientSecret}|eyJ`), 'neither secret nor any token is printed');

  const wrong = 'wrong-secret-for-posted-6c1d';
  const failing = testIo({ cwd: dir, env: { GOOD: basic.clientSecret, POSTED: wrong } });
  t.equal(await check(failing.io, { fetchTokens: true }), 1, 'one source fails: exit 1');
  t.match(failing.stdout.text, /^ {2}✓ good: bearer token/m, 'the other is still fetched');
  t.match(failing.stdout.text, /^ {2}✗ posted: TOKEN_FETCH_FAILED: The identity provider refused the token request for "posted" with invalid_client/m);
  t.notMatch(failing.output, new RegExp(`${basic.clientSecret}|${wrong}|eyJ`));
});

t.test("--fetch-tokens: an IdP that quotes the secret back has it scrubbed from check's output", async (t) => {
  const secret = 'echoed-secret-a81f5c03e9';
  const idp = await startScriptedIdp(t, (req, res, body) =>
    tokenAnswer(res, { error: 'invalid_client', error_description: `client_secret=${body.get('client_secret') ?? ''} authorization=${req.headers.authorization ?? ''} is wrong` }, 401),
  );
  const dir = t.testdir({
    'proxy.yaml': [
      'tokens:',
      `  posted: { tokenUrl: "${idp.tokenUrl}", clientId: app, clientSecret: "\${S}", allowInsecure: true }`,
      `  basic: { tokenUrl: "${idp.tokenUrl}", clientId: app, clientSecret: "\${S}", authMethod: client_secret_basic, allowInsecure: true }`,
      'routes:',
      '  /a: { target: "https://api.example.com", token: posted }',
      '  /b: { target: "https://api.example.com", token: basic }',
      '',
    ].join('\n'),
  });
  const run = testIo({ cwd: dir, env: { S: secret } });
  t.equal(await check(run.io, { fetchTokens: true }), 1);
  t.equal(idp.tokenRequests.length, 2, 'both sources asked');
  t.match(run.stdout.text, /✗ posted: TOKEN_FETCH_FAILED: .*invalid_client/);
  t.match(run.stdout.text, /✗ basic: TOKEN_FETCH_FAILED: .*invalid_client/);
  const basicCredentials = Buffer.from(`app:${secret}`).toString('base64');
  t.notMatch(run.output, new RegExp(`${secret}|${basicCredentials}`), 'neither the secret nor the Basic credentials');
});

t.test('--fetch-tokens: an unreachable IdP is a failure with its reason, and check still returns', async (t) => {
  const tokenUrl = await closedPortUrl();
  const dir = t.testdir({
    'proxy.yaml': `tokens:\n  gone: { tokenUrl: "${tokenUrl}", clientId: app, clientSecret: "\${S}", allowInsecure: true }\nroutes:\n  /a: { target: "https://api.example.com", token: gone }\n`,
  });
  const run = testIo({ cwd: dir, env: { S: 'unreachable-secret-77e1' } });
  t.equal(await check(run.io, { fetchTokens: true }), 1);
  t.match(run.stdout.text, /✗ gone: TOKEN_UNAVAILABLE: No access token for "gone": the identity provider refused the connection/);
  t.notMatch(run.output, 'unreachable-secret-77e1');
});

t.test('a token source named like an Object property is listed and fetched like any other, never silently dropped', async (t) => {
  const tokenUrl = await closedPortUrl();
  const names = ['constructor', 'toString', '__proto__'];
  const dir = t.testdir(
    Object.fromEntries(
      names.map((name) => [
        name,
        {
          'proxy.yaml': `tokens:\n  ${name}: { tokenUrl: "${tokenUrl}", clientId: app, clientSecret: "\${S}", allowInsecure: true }\nroutes:\n  /a: { target: "https://api.example.com", token: ${name} }\n`,
        },
      ]),
    ),
  );
  for (const name of names) {
    const run = testIo({ cwd: join(dir, name), env: { S: 'x-secret' } });
    let code: number | undefined;
    try {
      code = await check(run.io, { fetchTokens: true });
    } catch (error) {
      // Refusing the name is as good as serving it: what must not happen is OK for a route whose source is gone.
      t.type(error, ConfigError, `${name}: refused as a problem in the file`);
      continue;
    }
    t.match(run.stdout.text, new RegExp(`^token sources\\n {2}${name}: ${tokenUrl.replace(/\./g, '\\.')}`, 'm'), `${name}: listed under token sources`);
    t.match(run.stdout.text, new RegExp(`^ {2}✗ ${name}: TOKEN_UNAVAILABLE`, 'm'), `${name}: fetched (its IdP is down)`);
    t.equal(code, 1, `${name}: the failed fetch is exit 1, not 0`);
  }
});
