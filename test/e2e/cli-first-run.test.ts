import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.ts';

// From no file to a checked one: the first run, `init`, then `check`.

t.test('no config file: the message says how to make one', async (t) => {
  const dir = t.testdir({});
  const result = await runCli(['check'], { cwd: dir });
  t.equal(result.code, 1);
  t.match(result.stderr, /proxy\.yaml \(top level\): cannot read the config file \(file not found\); to start one: bearer-proxy init \(--idp entra, entra-v1, okta, auth0, keycloak, generic\)/);
  const named = await runCli(['serve', '-c', 'conf/my proxy.yaml'], { cwd: dir });
  t.equal(named.code, 1);
  t.match(named.stderr, /to start one: bearer-proxy init -c 'conf\/my proxy\.yaml'/, 'with the file it was told, quoted for a shell');
});

t.test('init --idp entra, then check reports only the unset environment variables', async (t) => {
  const dir = t.testdir({});
  const written = await runCli(['init', '--idp', 'entra'], { cwd: dir });
  t.equal(written.code, 0, written.stderr);
  t.match(written.stdout, /^wrote .*proxy\.yaml \(Entra ID \(Azure AD\) v2\)$/m);
  t.match(written.stdout, /Set TENANT_ID, API_CLIENT_ID, API_CLIENT_SECRET in the environment/);
  const text = readFileSync(join(dir, 'proxy.yaml'), 'utf8');
  t.match(text.split('\n')[0], /^# yaml-language-server: \$schema=\S+proxy\.schema\.json$/);
  t.match(text, 'tokenUrl: https://login.microsoftonline.com/${TENANT_ID}/oauth2/v2.0/token');
  t.match(text, 'clientSecret: ${API_CLIENT_SECRET}');

  const unset = await runCli(['check'], { cwd: dir });
  t.equal(unset.code, 1);
  const problems = unset.stderr.trim().split('\n');
  t.equal(problems[0], `${join(dir, 'proxy.yaml')}: 3 problems`);
  t.match(problems.slice(1), [
    /proxy\.yaml:\d+:\d+ tokens\.api\.tokenUrl: environment variable TENANT_ID is not set$/,
    /proxy\.yaml:\d+:\d+ tokens\.api\.clientId: environment variable API_CLIENT_ID is not set$/,
    /proxy\.yaml:\d+:\d+ tokens\.api\.clientSecret: environment variable API_CLIENT_SECRET is not set$/,
  ]);
  t.equal(problems.length, 4, 'nothing else');

  const set = await runCli(['check'], { cwd: dir, env: { TENANT_ID: 'contoso.onmicrosoft.com', API_CLIENT_ID: 'app-1', API_CLIENT_SECRET: 's3cret-value' } });
  t.equal(set.code, 0, set.stderr);
  t.match(set.stdout, /api: https:\/\/login\.microsoftonline\.com\/contoso\.onmicrosoft\.com\/oauth2\/v2\.0\/token, client app-1/);
  t.equal(set.stderr, '', 'no warning either');
});
