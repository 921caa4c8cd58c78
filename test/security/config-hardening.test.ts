import { writeFileSync } from 'node:fs';
import { MAX_CONFIG_BYTES, MAX_ENTRIES, MAX_REFERENCED_FILE_BYTES } from '../../src/config/size-limits.ts';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/load.ts';
import { runCli } from '../helpers/cli.ts';

/*
 * The config refuses what would leak a credential before anything is sent: user:password@
 * in a token URL or issuer (printed by `check`, sent in clear to any outbound proxy) is
 * refused as it already was for route targets. And its size is bounded: a config with
 * 50,000 routes took 45 s to load (the YAML parser's duplicate-key check is quadratic),
 * on the thread that serves requests when it was a reload.
 */

function problemsOf(text: string, baseDir?: string): string[] {
  try {
    parseConfig(text, { env: { SECRET: 'x' }, source: 'proxy.yaml', ...(baseDir ? { baseDir } : {}) });
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

const routesYaml = (count: number, flow = false) => {
  const head = 'tokens:\n  s: { tokenUrl: "https://idp.test/token", clientId: c, clientSecret: "${SECRET}" }\nroutes:';
  if (flow) return `${head} {${Array.from({ length: count }, (_, i) => `/r${i}: {target: "https://a.test", token: s}`).join(', ')}}\n`;
  return `${head}\n${Array.from({ length: count }, (_, i) => `  /r${i}: { target: "https://api.test/r${i}", token: s }`).join('\n')}\n`;
};

t.test('a mapping or list of more than 1000 entries is refused with its key path and line', async (t) => {
  t.same(problemsOf(routesYaml(MAX_ENTRIES)), [], `${MAX_ENTRIES} routes load`);
  for (const flow of [false, true]) {
    t.match(problemsOf(routesYaml(MAX_ENTRIES + 1, flow)), [/^proxy\.yaml:[34]:\d+ routes: 1001 entries; at most 1000 are allowed in one mapping or list/], `1001 routes${flow ? ', flow style' : ''}`);
  }
  const users = `inbound:\n  users:\n${Array.from({ length: 1001 }, (_, i) => `    - { name: u${i}, password: "\${SECRET}" }`).join('\n')}\n${routesYaml(1)}`;
  t.match(problemsOf(users), [/^proxy\.yaml:3:5 inbound\.users: 1001 entries/], 'a list too');
  const headers = `${routesYaml(1).trimEnd()}\n`.replace('token: s }', `token: s, headers: { ${Array.from({ length: 1001 }, (_, i) => `X-H${i}: v`).join(', ')} } }`);
  t.match(problemsOf(headers), [/routes\["\/r0"\]\.headers: 1001 entries/], 'nested anywhere');
  const wide = `tokens: {${Array.from({ length: 20_000 }, (_, i) => `k${i}: 0`).join(', ')}}\nroutes: {}\n`;
  t.ok(Buffer.byteLength(wide) < MAX_CONFIG_BYTES, 'twenty thousand keys in one mapping, within the size limit');
  t.match(problemsOf(wide), [/tokens: 20000 entries/], 'are refused (and found in one pass, not one comparison per pair of keys)');
});

t.test('duplicate keys are still found, in big mappings too', async (t) => {
  const text = routesYaml(900).replace('  /r450:', '  /r12:');
  t.match(problemsOf(text), [/^proxy\.yaml:454:3 \(top level\): YAML syntax: Map keys must be unique/]);
});

t.test('a config file, or a file it names, past the size limit is refused unread', async (t) => {
  const big = `${routesYaml(1)}# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`;
  t.match(problemsOf(big), [/the config is \d+ KiB; at most 256 KiB is read/]);
  const dir = t.testdir({ 'huge-secret': 'y'.repeat(MAX_REFERENCED_FILE_BYTES + 1), 'huge.pem': `-----BEGIN CERTIFICATE-----\n${'A'.repeat(MAX_REFERENCED_FILE_BYTES)}\n` });
  const viaFile = routesYaml(1).replace('"${SECRET}"', '"${file:huge-secret}"');
  t.match(problemsOf(viaFile, dir), [/tokens\.s\.clientSecret: .*larger than 1024 KiB/], '${file:} reads at most 1 MiB');
  const viaPem = routesYaml(1).replace('token: s }', 'token: s, ca: ./huge.pem }');
  t.match(problemsOf(viaPem, dir), [/routes\["\/r0"\]\.ca: .*larger than 1024 KiB/], 'so does a PEM path');
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, big);
  const result = await runCli(['check', '-c', file]);
  t.equal(result.code, 1);
  t.match(result.stderr, /cannot read the config file \(larger than 256 KiB/);
});

const warningsFor = (target: string, extra = '') =>
  parseConfig(`tokens:\n  s: { tokenUrl: "https://idp.test/token", clientId: c, clientSecret: "\${SECRET}" }\nroutes:\n  /r: { target: "${target}", token: s${extra} }\n`, {
    env: { SECRET: 'x' },
    source: 'proxy.yaml',
  }).warnings;

t.test('plain http:// to a host beyond this machine is warned about at load, unless allowInsecure says it is meant', async (t) => {
  for (const target of [
    'http://odata.corp.example/svc',
    'http://10.1.2.3:8080/svc',
    'http://203.0.113.7/svc',
    'http://[2001:db8::1]/svc',
    'HTTP://Odata.Corp.Example/svc',
    'http://127.0.0.1.nip.io/svc',
  ]) {
    t.match(warningsFor(target), [/^proxy\.yaml:4:\d+ routes\["\/r"\]\.target: plain http:\/\/ to .*: the bearer token travels in clear text/], target);
    t.same(warningsFor(target, ', allowInsecure: true'), [], `${target} with allowInsecure: true`);
  }
  for (const target of ['http://localhost:8081/svc', 'http://127.0.0.5/svc', 'http://[::1]:8081/svc', 'http://api.localhost/svc', 'http://[::ffff:127.0.0.1]/svc', 'https://odata.corp.example/svc']) {
    t.same(warningsFor(target), [], `${target}: no warning`);
  }
});

t.test('link-local and cloud metadata targets are warned about, however the address is written', async (t) => {
  for (const target of [
    'https://169.254.169.254/latest',
    'http://169.254.170.2/v2',
    'http://0xa9fea9fe/',
    'http://2852039166/',
    'http://169.254.169.254.',
    'http://[::ffff:169.254.169.254]/',
    'http://[fe80::1]/',
    'http://[fd00:ec2::254]/',
    'http://metadata.google.internal/computeMetadata/v1',
    'http://100.100.100.200/latest',
  ]) {
    const warnings = warningsFor(target, ', allowInsecure: true');
    t.match(warnings, [/routes\["\/r"\]\.target: .* is a link-local or cloud metadata address/], target);
  }
  t.same(warningsFor('https://169.255.1.1/'), [], 'a neighbouring public address is not');
});

t.test('check prints the warning', async (t) => {
  const file = join(t.testdir(), 'proxy.yaml');
  writeFileSync(file, withUrls('tokenUrl', 'https://idp.test/token', 'http://odata.corp.example/svc'));
  const result = await runCli(['check', '-c', file], { env: { SECRET: 'x' } });
  t.equal(result.code, 0);
  t.match(result.stderr, /warning: .*routes\["\/r"\]\.target: plain http:\/\/ to odata\.corp\.example/);
});
