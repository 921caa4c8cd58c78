import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/load.ts';
import { runCli } from '../helpers/cli.ts';

/*
 * The config refuses what would leak a credential before anything is sent: user:password@
 * in a token URL or issuer (printed by `check`, sent in clear to any outbound proxy) is
 * refused as it already was for route targets.
 */

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, { env: { SECRET: 'x' }, source: 'proxy.yaml' });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => formatProblem('proxy.yaml', problem));
    throw error;
  }
  return [];
}

const withUrls = (key: 'tokenUrl' | 'issuer', url: string, target = 'https://api.test/odata') =>
  `tokens:\n  s:\n    ${key}: "${url}"\n    clientId: c\n    clientSecret: \${SECRET}\nroutes:\n  /r:\n    target: "${target}"\n    token: s\n`;

/** The ways a URL can carry userinfo that the WHATWG parser (which openid-client and undici use) reads as such. */
const WITH_USERINFO = [
  'https://user:pw8812@idp.test/token',
  'https://user@idp.test/token',
  'https://:pw8812@idp.test/token',
  'https://@idp.test/token',
  'HTTPS://User:PW8812@idp.test/token',
  'https://us%40er:pw%3A8812@idp.test/token',
  'https://user:pw8812@idp.test:8443/token',
  'https://user:pw8812@[::1]/token',
];

t.test('tokenUrl, issuer and route targets with user:password@ are refused, naming the key and line', async (t) => {
  for (const url of WITH_USERINFO) {
    for (const key of ['tokenUrl', 'issuer'] as const) {
      const problems = problemsOf(withUrls(key, url));
      t.match(problems, [new RegExp(`^proxy\\.yaml:3:\\d+ tokens\\.s\\.${key}: an? (token|issuer) URL cannot carry user:password@`)], `${key}: ${url}`);
      t.notOk(problems.join('\n').toLowerCase().includes('8812'), `${key}: the message does not repeat it`);
    }
    const target = url.replace('idp.test/token', 'api.test/odata');
    t.match(problemsOf(withUrls('tokenUrl', 'https://idp.test/token', target)), [/routes\["\/r"\]\.target: a target cannot carry user:password@/], `target: ${target}`);
  }
  t.same(problemsOf(withUrls('tokenUrl', 'https://idp.test/token?next=a@b')), [], 'an @ in the query is not userinfo');
  t.same(problemsOf(withUrls('issuer', 'https://idp.test/realms/a@b')), [], 'nor one in the path');
});

t.test('check exits 1 without printing the credentials of a token URL', async (t) => {
  const file = join(t.testdir(), 'proxy.yaml');
  writeFileSync(file, withUrls('tokenUrl', 'https://admin:hunter2-secret@idp.test/token'));
  const result = await runCli(['check', '-c', file], { env: { SECRET: 'x' } });
  t.equal(result.code, 1);
  t.match(result.stderr, /tokens\.s\.tokenUrl: a token URL cannot carry user:password@/);
  t.notMatch(result.stdout + result.stderr, /hunter2-secret/);
});
