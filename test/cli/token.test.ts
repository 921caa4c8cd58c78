import { createRemoteJWKSet, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { token } from '../../src/cli/token.ts';
import { UsageError } from '../../src/cli/io.ts';
import { isProxyError } from '../../src/errors.ts';
import { testIo } from '../helpers/cli-io.ts';
import { IDP_SCOPE, startIdp, type TestIdp } from '../helpers/idp.ts';
import { startScriptedIdp, tokenAnswer } from '../helpers/scripted-idp.ts';

/** A config with two sources at the real IdP; their secrets come from the environment the command is given. */
function configDir(t: Test, idp: TestIdp): { dir: string; env: Record<string, string> } {
  const { basic, post } = idp.clients;
  const dir = t.testdir({
    'proxy.yaml': [
      'tokens:',
      `  lake: { issuer: "${idp.issuer}", clientId: ${basic.clientId}, clientSecret: "\${LAKE_SECRET}", authMethod: client_secret_basic, scope: ${IDP_SCOPE}, allowInsecure: true }`,
      `  sales: { tokenUrl: "${idp.tokenUrl}", clientId: ${post.clientId}, clientSecret: "\${SALES_SECRET}", allowInsecure: true }`,
      'routes:',
      '  /lake: { target: "https://api.example.com", token: lake }',
      '  /sales: { target: "https://api.example.com", token: sales }',
      '',
    ].join('\n'),
  });
  return { dir, env: { LAKE_SECRET: basic.clientSecret, SALES_SECRET: post.clientSecret } };
}

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

t.test('against a real IdP: what the token says, never the token itself or the secret', async (t) => {
  const idp = await startIdp({ accessTokenTtlSeconds: 600 });
  t.teardown(() => idp.close());
  const { dir, env } = configDir(t, idp);
  const run = testIo({ cwd: dir, env });
  t.equal(await token(run.io, { source: 'lake' }), 0);
  const out = run.stdout.text;
  t.match(out, /^token source {2}lake \(.+\)\ntoken type {4}bearer\nexpires {7}\S.* \(in (599|600)s\)\nscope {9}api:read\nformat {8}JWT \(RS256, kid test-[0-9a-f]{8}\)\nclaims\n/);
  const claims = out.slice(out.indexOf('claims\n') + 7).split('\n');
  const { clientId } = idp.clients.basic;
  t.same(
    claims.slice(0, 5),
    [`  iss        ${idp.issuer}`, `  sub        ${clientId}`, `  aud        ${idp.audience}`, `  client_id  ${clientId}`, '  scope      api:read'],
    'who it is for and what it allows, first, in that order',
  );
  t.match(out, /^ {2}exp {8}\d{10} \(\S.*\)$/m, 'a time claim is shown as a date too');
  t.equal(claims.at(-2), '(the token itself is printed only with --raw)');
  t.notMatch(run.output, JWT, 'the token itself is not printed');
  t.notMatch(run.output, idp.clients.basic.clientSecret, 'nor the secret');
  t.equal(run.stderr.text, '');
});

t.test('--raw prints the token alone, for $(bearer-proxy token lake --raw), and nothing else', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const { dir, env } = configDir(t, idp);
  const run = testIo({ cwd: dir, env });
  t.equal(await token(run.io, { source: 'sales', raw: true }), 0);
  const lines = run.stdout.text.split('\n');
  t.same(lines.length, 2, 'one line');
  const { payload } = await jwtVerify(lines[0]!, createRemoteJWKSet(new URL(idp.jwksUrl)), { issuer: idp.issuer, audience: idp.audience });
  t.equal(payload.client_id, idp.clients.post.clientId, "a token the IdP signed, for the source's client");
  t.equal(run.stderr.text, '');
  t.notMatch(run.output, idp.clients.post.clientSecret, 'the secret is not printed');
});

t.test('a source that is not defined is a usage mistake naming those that are, and no IdP is asked', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const { dir, env } = configDir(t, idp);
  // Names every object has, and Object.prototype itself: none is a token source of this file.
  for (const name of ['lak', 'LAKE', 'constructor', 'toString', 'hasOwnProperty', '__proto__']) {
    const error = await t.rejects(token(testIo({ cwd: dir, env }).io, { source: name }), `${name}: refused`);
    t.same(
      { usageError: error instanceof UsageError, message: (error as Error).message, exitCode: (error as UsageError).exitCode },
      { usageError: true, message: `no token source named "${name}" (defined: lake, sales)`, exitCode: 2 },
      `${name}: a usage mistake (exit 2), not a crash`,
    );
  }
  for (const source of [undefined, '']) {
    const error = await t.rejects(token(testIo({ cwd: dir, env }).io, source === undefined ? {} : { source }));
    t.equal((error as Error).message, 'name a token source: bearer-proxy token <source>  (defined: lake, sales)', `${JSON.stringify(source)}: says how`);
  }
  t.equal(idp.tokenRequests.length, 0, 'no token was fetched');
});

t.test('a refused secret is the IdP error, without the secret, and nothing on standard output', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const { dir, env } = configDir(t, idp);
  const wrong = 'wrong-sales-secret-0b7e44';
  const run = testIo({ cwd: dir, env: { ...env, SALES_SECRET: wrong } });
  const error = await t.rejects(token(run.io, { source: 'sales', raw: true }));
  t.ok(isProxyError(error), 'an error cli.ts prints with its code, exit 1');
  t.match(error, { code: 'TOKEN_FETCH_FAILED', message: /refused the token request for "sales" with invalid_client/ });
  t.notMatch((error as Error).message, wrong);
  t.equal(run.stdout.text, '', 'a script reading --raw gets nothing, not a half answer');
});

t.test('an opaque token: its type, expiry and scope, no claims, and itself only with --raw', async (t) => {
  const opaque = 'opaque-access-token-9c2f6e1a7b';
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: opaque, token_type: 'Bearer', expires_in: 120, scope: 'read write' }));
  const dir = t.testdir({
    'proxy.yaml': `tokens:\n  legacy: { tokenUrl: "${idp.tokenUrl}", clientId: app, clientSecret: "\${S}", allowInsecure: true }\nroutes:\n  /a: { target: "https://api.example.com", token: legacy }\n`,
  });
  const secret = 'legacy-secret-4d1f90';
  const shown = testIo({ cwd: dir, env: { S: secret } });
  t.equal(await token(shown.io, { source: 'legacy' }), 0);
  t.match(shown.stdout.text, /^token type {4}bearer\nexpires {7}.* \(in 120s\)\nscope {9}read write\nformat {8}opaque \(not a JWT\): no claims to show\n/m);
  t.notMatch(shown.output, new RegExp(`${opaque}|${secret}`));

  const raw = testIo({ cwd: dir, env: { S: secret } });
  t.equal(await token(raw.io, { source: 'legacy', raw: true }), 0);
  t.equal(raw.stdout.text, `${opaque}\n`);
  t.notMatch(raw.output, secret);
});
