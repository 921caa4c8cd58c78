import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.ts';

// init as a file writer: where it writes, and what it will not overwrite.

t.test('init never overwrites a file unless --force', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': 'mine\n' });
  const refused = await runCli(['init', '--idp', 'okta'], { cwd: dir });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /proxy\.yaml already exists; not overwriting it \(pass --force to replace it, or -c to write another file\)/);
  t.equal(readFileSync(join(dir, 'proxy.yaml'), 'utf8'), 'mine\n', 'untouched');

  const forced = await runCli(['init', '--idp', 'okta', '--force'], { cwd: dir });
  t.equal(forced.code, 0, forced.stderr);
  t.match(readFileSync(join(dir, 'proxy.yaml'), 'utf8'), /issuer: https:\/\/your-org\.okta\.com\/oauth2\/default/);
});

t.test('init -c writes where it is told, and its next steps name that file', async (t) => {
  const dir = t.testdir({ 'proxy.schema.json': '{}' });
  const result = await runCli(['init', '-c', 'auth0.yaml', '--idp', 'auth0'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /3\. bearer-proxy check -c auth0\.yaml --fetch-tokens/);
  const text = readFileSync(join(dir, 'auth0.yaml'), 'utf8');
  t.equal(text.split('\n')[0], '# yaml-language-server: $schema=./proxy.schema.json', 'the schema beside the file');
  t.match(text, /audience: https:\/\/api\.example\.com/);
  writeFileSync(join(dir, 'env-named.yaml'), '');
  const viaEnv = await runCli(['init'], { cwd: dir, env: { BEARER_PROXY_CONFIG: 'env-named.yaml' } });
  t.equal(viaEnv.code, 1, 'BEARER_PROXY_CONFIG names the file init writes, as it names the one serve reads');
  t.match(viaEnv.stderr, /env-named\.yaml already exists/);
  const missingDir = await runCli(['init', '-c', 'no/such/dir/proxy.yaml'], { cwd: dir });
  t.equal(missingDir.code, 1);
  t.match(missingDir.stderr, /cannot write .*proxy\.yaml: the directory .*no\/such\/dir does not exist/);
});
