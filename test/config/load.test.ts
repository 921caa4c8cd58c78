import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, formatProblem, loadConfigFile, parseConfig } from '../../src/config/load.ts';
import { generateTestKey, selfSignedCertificate } from '../helpers/keys.ts';
import { createTestCa, issueCertificate } from '../helpers/tls.ts';

const valid = (extra = '') => `tokens:
  lake:
    tokenUrl: https://idp.example.com/token
    clientId: app
    clientSecret: \${LAKE_SECRET}
routes:
  /sales:
    target: https://api.example.com/odata/
    token: lake
${extra}`;

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const problemsOf = (text: string, env: Record<string, string> = { LAKE_SECRET: 'x' }) => configErrorOf(() => parseConfig(text, { env, source: 'proxy.yaml' }));

/** "line:col keypath: message" for each problem, to compare whole lists. */
const where = (error: ConfigError) => error.problems.map((problem) => formatProblem('', problem).trimStart());

t.test('a valid file gets its defaults and interpolated secrets', async (t) => {
  const { config, warnings, source } = parseConfig(valid(), { env: { LAKE_SECRET: 's3' } });
  t.equal(source, 'proxy.yaml', 'the default source name');
  t.equal(config.tokens.lake?.clientSecret, 's3');
  t.same(config.listen, { host: 'localhost', port: 8080 });
  t.equal(config.inbound.anonymous, 'loopback');
  t.equal(config.routes['/sales']?.timeout, 600_000, 'OData.Feed’s own 600 s');
  t.equal(config.routes['/sales']?.rewriteUrls, true);
  t.same(warnings, [], 'no plain-text secret, no warning');
});

t.test('every mistake is reported at once with line, column and key path', async (t) => {
  const text = `listen:
  port: 99999
inbound:
  anonymus: loopback
tokens:
  lake:
    tokenUrl: http://idp.example.com/token
    clientId: \${MISSING_ID}
    clientSecret: x
routes:
  /sales:
    target: not a url
    token: sea
    timeout: soon
  /healthz:
    target: https://api.example.com
    token: lake
`;
  const error = problemsOf(text);
  t.equal(error.name, 'ConfigError');
  t.equal(error.code, 'CONFIG_INVALID');
  t.equal(error.source, 'proxy.yaml');
  t.match(where(error), [
    /^:2:9 listen\.port: /,
    ':4:3 inbound.anonymus: unknown key "anonymus" (did you mean "anonymous"?)',
    /^:7:15 tokens\.lake\.tokenUrl: an http:\/\/ IdP would carry the client secret in clear text/,
    ':8:15 tokens.lake.clientId: environment variable MISSING_ID is not set',
    ':12:13 routes["/sales"].target: expected an absolute http:// or https:// URL',
    ':13:12 routes["/sales"].token: no token source named "sea" (defined: lake)',
    /^:14:14 routes\["\/sales"\]\.timeout: "soon" is not a duration/,
    ':15:3 routes["/healthz"]: route prefix "/healthz" uses the reserved path /healthz',
  ]);
  t.equal(error.problems.length, 8, 'nothing else, nothing twice');
  t.same(error.problems[1], { path: ['inbound', 'anonymus'], line: 4, column: 3, message: 'unknown key "anonymus" (did you mean "anonymous"?)' });
  const messageLines = error.message.split('\n');
  t.equal(messageLines[0], 'proxy.yaml: 8 problems');
  t.equal(messageLines.length, 9, 'one line per problem');
  t.equal(messageLines[2], '  proxy.yaml:4:3 inbound.anonymus: unknown key "anonymus" (did you mean "anonymous"?)', 'file:line:col keypath: message');
  t.notMatch(error.message, /clientSecret: x/, 'values are not echoed');
});

t.test('a value of the wrong type is not called missing', async (t) => {
  const error = problemsOf(valid().replace('clientId: app', 'clientId: 42') + 'listen:\n  port: "8080"\n  host:\n');
  t.same(where(error), [
    ':4:15 tokens.lake.clientId: expected text, not a number (write it in quotes)',
    ':11:9 listen.port: expected a number, not the text "8080"',
    ':12:8 listen.host: has no value (expected text)',
  ]);
});

t.test('missing required keys point at their parent', async (t) => {
  const error = problemsOf('tokens:\n  lake:\n    tokenUrl: https://idp/t\nroutes: {}\n');
  t.same(where(error), [
    ':3:5 tokens.lake.clientId: required key is missing (expected text)',
    ':3:5 tokens.lake.clientSecret: client_secret_post needs clientSecret (or set authMethod: private_key_jwt with privateKey or clientAssertionFile)',
    ':4:9 routes: define at least one route',
  ]);
  const empty = problemsOf('');
  t.same(
    empty.problems.map((problem) => problem.message),
    ['required key is missing (expected a mapping (key: value lines))', 'required key is missing (expected a mapping (key: value lines))'],
  );
  t.match(empty.message, /tokens: required key is missing[\s\S]*routes: required key is missing/);
  t.same(where(problemsOf('- a\n- b\n')), [':1:1 (top level): expected a mapping (key: value lines), not a list'], 'a sequence where a map belongs is no missing key');
});

t.test('unknown keys: a hint when one is close, the allowed keys otherwise', async (t) => {
  const error = problemsOf(valid().replace('    token: lake', '    token: lake\n    taget: x\n    zzzzz: 1') + 'logLevel: debug\n');
  t.same(where(error), [
    ':10:5 routes["/sales"].taget: unknown key "taget" (did you mean "target"?)',
    ':11:5 routes["/sales"].zzzzz: unknown key "zzzzz" (allowed: target, token, timeout, maxConnections, headers, rewriteUrls, forwardedHeaders, ca, clientCert, clientKey, allowInsecure)',
    ':12:1 logLevel: unknown key "logLevel" (allowed: listen, inbound, tokens, routes, admin, statusPage, shutdownTimeout)',
  ]);
  t.same(where(problemsOf(valid() + 'inbound:\n  users:\n    - name: u\n      pasword: x\n')), [
    ':12:7 inbound.users[0]: set exactly one of password or passwordHash',
    ':13:7 inbound.users[0].pasword: unknown key "pasword" (did you mean "password"?)',
  ]);
});

t.test('a bad token source name is reported at the key', async (t) => {
  const error = problemsOf(valid().replaceAll('lake', 'the lake'), { LAKE_SECRET: 'x' });
  t.same(where(error), [':2:3 tokens["the lake"]: token source names use letters, digits, _ . -']);
});

t.test('YAML syntax errors carry their line and column', async (t) => {
  const cases: Array<[string, string]> = [
    ['routes:\n  /a: [unclosed\n', ':3:1 (top level): YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['listen: a: b\n', ':1:9 (top level): YAML syntax: Nested mappings are not allowed in compact mappings'],
    ['listen:\n\tport: 1\n', ':2:1 (top level): YAML syntax: Tabs are not allowed as indentation'],
  ];
  for (const [text, expected] of cases) {
    const error = problemsOf(text);
    t.same(where(error), [expected], JSON.stringify(text));
    t.notMatch(error.message, /at line \d+, column \d+/, 'the parser’s own position text is not repeated');
  }
});

t.test('duplicate keys are errors, at the second one', async (t) => {
  t.same(where(problemsOf(valid('routes:\n  /b: {}\n'))), [':10:1 (top level): YAML syntax: Map keys must be unique']);
  t.same(where(problemsOf(valid().replace('    clientId: app', '    clientId: app\n    clientId: other'))), [':5:5 (top level): YAML syntax: Map keys must be unique']);
});

t.test('plain-text secrets work but are warned about; referenced ones are not', async (t) => {
  const text =
    valid().replace('${LAKE_SECRET}', 'hunter2') +
    'inbound:\n  users:\n    - name: pbi\n      password: pw\n    - name: other\n      password: ${PW}\n    - name: hashed\n      passwordHash: scrypt$16384$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5\n';
  const { config, warnings } = parseConfig(text, { env: { PW: 'x' }, source: 'p.yaml' });
  t.equal(config.tokens.lake?.clientSecret, 'hunter2');
  t.equal(config.inbound.users[1]?.password, 'x');
  t.equal(warnings.length, 2, warnings.join('\n'));
  t.match(warnings[0], /^p\.yaml:5:19 tokens\.lake\.clientSecret: secret written in plain text in the config file; prefer \$\{ENV_NAME\}/);
  t.match(warnings[1], /^p\.yaml:13:17 inbound\.users\[0\]\.password: secret written in plain text/);
  t.notMatch(warnings.join('\n'), /hunter2|\bpw\b/, 'the warning does not repeat the secret');
});

t.test('a secret with only `$${` escapes is still plain text', async (t) => {
  const { config, warnings } = parseConfig(valid().replace('${LAKE_SECRET}', () => 'pa$${ss}word'));
  t.equal(config.tokens.lake?.clientSecret, 'pa${ss}word', 'the escape is a literal ${');
  t.match(warnings, [/tokens\.lake\.clientSecret: secret written in plain text/]);
  t.match(parseConfig(valid().replace('${LAKE_SECRET}', 'pre-${LAKE_SECRET}'), { env: { LAKE_SECRET: 'x' } }).warnings, [], 'part reference, part text: referenced');
});

t.test('${file:} resolves against baseDir, or uses the readFile given', async (t) => {
  const dir = t.testdir({ 'secret.txt': 'from-base-dir\n' });
  t.equal(parseConfig(valid().replace('${LAKE_SECRET}', '${file:secret.txt}'), { baseDir: dir }).config.tokens.lake?.clientSecret, 'from-base-dir');
  const asked: string[] = [];
  const { config } = parseConfig(valid().replace('${LAKE_SECRET}', '${file:/abs/s}'), {
    readFile: (path) => {
      asked.push(path);
      return 'stub\n';
    },
  });
  t.equal(config.tokens.lake?.clientSecret, 'stub');
  t.same(asked, ['/abs/s']);
});

t.test('loadConfigFile reads ${file:} relative to the config file’s directory', async (t) => {
  const dir = t.testdir({
    conf: {
      'proxy.yaml': '', // written below, once the fixture directory is known
      secrets: { 'lake.txt': 'from-a-file\n' },
    },
    secrets: { 'lake.txt': 'wrong one: relative to the parent directory' },
    'abs.txt': 'absolute\r\n',
  });
  const path = `${dir}/conf/proxy.yaml`;
  writeFileSync(path, valid().replace('${LAKE_SECRET}', '${file:secrets/lake.txt}') + `inbound:\n  users:\n    - name: u\n      password: \${file:${dir}/abs.txt}\n`);
  const { config, source, warnings } = loadConfigFile(path);
  t.equal(config.tokens.lake?.clientSecret, 'from-a-file', 'relative to the config file, trailing newline dropped');
  t.equal(config.inbound.users[0]?.password, 'absolute', 'an absolute path as written; CRLF dropped');
  t.equal(source, path);
  t.same(warnings, [], 'secrets read from files are not plain text');
  const relativePath = relative(process.cwd(), path);
  t.notOk(relativePath.startsWith('/'), 'the path below is relative');
  t.equal(loadConfigFile(relativePath).config.tokens.lake?.clientSecret, 'from-a-file', 'a relative config path works the same');
});

t.test('loadConfigFile reports an unreadable ${file:} at its line', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': valid().replace('${LAKE_SECRET}', '${file:missing.txt}') });
  const error = configErrorOf(() => loadConfigFile(`${dir}/proxy.yaml`));
  t.same(where(error), [':5:19 tokens.lake.clientSecret: cannot read file "missing.txt" named by ${file:missing.txt} (ENOENT)']);
  t.match(error.message, new RegExp(`^${dir}/proxy\\.yaml: 1 problem\\n  ${dir}/proxy\\.yaml:5:19 tokens\\.lake\\.clientSecret: `), 'singular, and the file path leads each line');
});

t.test('loadConfigFile passes env through', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': valid() });
  t.equal(loadConfigFile(`${dir}/proxy.yaml`, { env: { LAKE_SECRET: 'from-env' } }).config.tokens.lake?.clientSecret, 'from-env');
  t.match(configErrorOf(() => loadConfigFile(`${dir}/proxy.yaml`, { env: {} })).message, /environment variable LAKE_SECRET is not set/);
});

t.test('loadConfigFile on a missing file or a directory is a ConfigError, not a crash', async (t) => {
  const missing = configErrorOf(() => loadConfigFile('/nonexistent/proxy.yaml'));
  t.equal(missing.message, '/nonexistent/proxy.yaml: 1 problem\n  /nonexistent/proxy.yaml (top level): cannot read the config file (file not found)');
  t.same(missing.problems, [{ path: [], message: 'cannot read the config file (file not found)' }], 'no line: the file itself');
  const dir = t.testdir({});
  t.match(configErrorOf(() => loadConfigFile(dir)).message, /cannot read the config file \(EISDIR/);
});

t.test('formatProblem', async (t) => {
  t.equal(formatProblem('f.yaml', { path: ['routes', '/a', 'token'], line: 3, column: 7, message: 'm' }), 'f.yaml:3:7 routes["/a"].token: m');
  t.equal(formatProblem('f.yaml', { path: ['listen'], line: 3, message: 'm' }), 'f.yaml:3:1 listen: m', 'column 1 when unknown');
  t.equal(formatProblem('f.yaml', { path: [], message: 'm' }), 'f.yaml (top level): m', 'no position at all');
});

// --- PEM keys: PEM text or a path to a PEM file ---------------------------------------------

const ca = createTestCa();
const server = issueCertificate(ca, 'proxy');
const client = issueCertificate(ca, 'client', 'client');
const jwtKey = generateTestKey('ec');
const jwtCertificate = selfSignedCertificate(jwtKey);

const PEM_FILES: Record<string, string> = {
  'tls/cert.pem': server.certPem,
  'tls/key.pem': server.keyPem,
  'ca.pem': ca.certPem,
  'client.pem': client.certPem,
  'client.key': client.keyPem,
  'jwt.key': jwtKey.privateKeyPem,
  'jwt.crt': jwtCertificate,
};

/** A temporary directory with conf/ holding the PEM files (and `changes`), removed after the test; returns conf/proxy.yaml. */
function pemConfDir(t: Test, changes: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'bearer-proxy-pem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'conf', 'tls'), { recursive: true });
  for (const [name, text] of Object.entries({ ...PEM_FILES, ...changes })) writeFileSync(join(dir, 'conf', name), text, { mode: 0o600 });
  return join(dir, 'conf', 'proxy.yaml');
}

/** Every PEM key, each value made by `value(file name)`. */
const everyPemKey = (value: (file: string) => string) => `listen:
  tls:
    cert: ${value('tls/cert.pem')}
    key: ${value('tls/key.pem')}
tokens:
  lake:
    tokenUrl: https://idp.example.com/token
    clientId: app
    authMethod: private_key_jwt
    privateKey: ${value('jwt.key')}
    certificate: ${value('jwt.crt')}
    ca: ${value('ca.pem')}
routes:
  /sales:
    target: https://api.example.com/odata/
    token: lake
    ca: ${value('ca.pem')}
    clientCert: ${value('client.pem')}
    clientKey: ${value('client.key')}
`;

const asReference = (file: string) => `\${file:${file}}`;
const asPath = (file: string) => file;

t.test('PEM keys take a path relative to the config file, read as ${file:} reads it', async (t) => {
  const path = pemConfDir(t);
  writeFileSync(path, everyPemKey(asReference));
  const viaReference = loadConfigFile(path).config;
  writeFileSync(
    path,
    everyPemKey((file) => (file.startsWith('tls/') ? `./${file}` : file)),
  );
  const { config, warnings } = loadConfigFile(path);
  t.same(config, viaReference, 'the same Config as with ${file:}: PEM text in every key');
  t.equal(config.listen.tls?.cert, server.certPem.trimEnd());
  t.equal(config.routes['/sales']?.clientKey, client.keyPem.trimEnd());
  t.same(warnings, [], 'a private key read from a file is no plain-text secret');
  writeFileSync(path, everyPemKey(asPath).replace(/ {2}tls:\n.*\n.*\n/, '  tls: { cert: ./tls/cert.pem, key: ./tls/key.pem }\n'));
  t.same(loadConfigFile(path).config.listen.tls, config.listen.tls, 'DESIGN.md’s example as written');
  writeFileSync(
    path,
    everyPemKey((file) => (file === 'tls/cert.pem' ? '${CERT_PATH}' : file)),
  );
  t.equal(loadConfigFile(path, { env: { CERT_PATH: 'tls/cert.pem' } }).config.listen.tls?.cert, server.certPem.trimEnd(), 'a path from ${ENV}');
});

t.test('PEM keys take an absolute path', async (t) => {
  const conf = dirname(pemConfDir(t));
  const { config } = parseConfig(
    everyPemKey((file) => join(conf, file)),
    { baseDir: '/nonexistent' },
  );
  t.equal(config.listen.tls?.key, server.keyPem.trimEnd());
  t.equal(config.tokens.lake?.privateKey, jwtKey.privateKeyPem.trimEnd());
  t.equal(config.tokens.lake?.certificate, jwtCertificate.trimEnd());
  t.equal(config.tokens.lake?.ca, ca.certPem.trimEnd());
});

t.test('a PEM file that cannot be read is reported once, at its key, with the path and the reason', async (t) => {
  const path = pemConfDir(t);
  const missing: Record<string, string> = { 'tls/cert.pem': 'tls/missing.pem', 'ca.pem': '/nonexistent/ca.pem' };
  writeFileSync(
    path,
    everyPemKey((file) => missing[file] ?? file),
  );
  const error = configErrorOf(() => loadConfigFile(path));
  const tail = '; a value without -----BEGIN is read as a file path';
  t.same(
    where(error),
    [
      `:3:11 listen.tls.cert: cannot read PEM file "tls/missing.pem" relative to ${dirname(path)} (ENOENT)${tail}`,
      `:12:9 tokens.lake.ca: cannot read PEM file "/nonexistent/ca.pem" (ENOENT)${tail}`,
      `:17:9 routes["/sales"].ca: cannot read PEM file "/nonexistent/ca.pem" (ENOENT)${tail}`,
    ],
    'no second "not a readable PEM certificate" for the path',
  );
  t.ok(error.message.includes(`\n  ${path}:3:11 listen.tls.cert: cannot read PEM file`), 'file:line:col keypath: message');
  writeFileSync(
    path,
    everyPemKey((file) => (file === 'tls/key.pem' ? 'tls' : file)),
  );
  t.match(where(configErrorOf(() => loadConfigFile(path))), [/^:4:\d+ listen\.tls\.key: cannot read PEM file "tls" relative to .* \(EISDIR\)/]);
});

t.test('a file that is not PEM gets the PEM error of its key, without its text; an empty one says so', async (t) => {
  const path = pemConfDir(t, { 'tls/cert.pem': 'secret-looking-text\n', 'client.key': server.certPem, 'ca.pem': '\n' });
  writeFileSync(path, everyPemKey(asPath));
  const error = configErrorOf(() => loadConfigFile(path));
  t.same(where(error), [
    ':3:11 listen.tls.cert: not a readable PEM certificate (expected -----BEGIN CERTIFICATE-----)',
    ':12:9 tokens.lake.ca: PEM file "ca.pem" is empty',
    ':17:9 routes["/sales"].ca: PEM file "ca.pem" is empty',
    ':19:16 routes["/sales"].clientKey: not a readable PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)',
  ]);
  t.notMatch(error.message, /secret-looking-text|BEGIN CERTIFICATE-----\n/, 'the file’s text is not repeated');
});

t.test('inline PEM text still works; key material without its BEGIN line is never echoed', async (t) => {
  const block = (pem: string) => `|\n${pem.trimEnd().replace(/^/gm, '      ')}`;
  const text = `${valid()}  /tls:\n    target: https://api.example.com/x\n    token: lake\n    clientCert: ${block(client.certPem)}\n    clientKey: ${block(client.keyPem)}\n`;
  const { config } = parseConfig(text, { env: { LAKE_SECRET: 'x' }, baseDir: '/nonexistent' });
  t.equal(config.routes['/tls']?.clientCert, client.certPem, 'a block scalar keeps its final newline');
  t.equal(config.routes['/tls']?.clientKey, client.keyPem);
  t.equal(parseConfig(everyPemKey((file) => JSON.stringify(PEM_FILES[file]))).config.tokens.lake?.privateKey, jwtKey.privateKeyPem, 'a quoted string');
  const body = client.keyPem.split('\n').slice(1, -2).join('');
  const oneLine = problemsOf(text.replace(block(client.keyPem), body));
  t.same(
    oneLine.problems.map((problem) => problem.message),
    ['not PEM text (no -----BEGIN line) and not a readable file path either (ENOENT)'],
  );
  t.notMatch(oneLine.message, body.slice(0, 40), 'the key is not repeated');
  const headless = problemsOf(text.replace(block(client.keyPem), block(client.keyPem.split('\n').slice(1).join('\n'))));
  t.match(where(headless), [/routes\["\/tls"\]\.clientKey: not a readable PEM private key/], 'with a line break it is PEM text that lost its BEGIN line, no path');
});

t.test('${file:} still works for PEM keys, and every load reads the files again', async (t) => {
  const path = pemConfDir(t);
  writeFileSync(
    path,
    everyPemKey((file) => (file.startsWith('tls/') ? asReference(file) : file)),
  );
  t.equal(loadConfigFile(path).config.listen.tls?.cert, server.certPem.trimEnd(), '${file:}');
  writeFileSync(path, everyPemKey(asPath));
  t.equal(loadConfigFile(path).config.listen.tls?.cert, server.certPem.trimEnd(), 'a path');
  const renewed = issueCertificate(ca, 'proxy');
  writeFileSync(join(dirname(path), 'tls', 'cert.pem'), renewed.certPem);
  writeFileSync(join(dirname(path), 'tls', 'key.pem'), renewed.keyPem);
  t.same(loadConfigFile(path).config.listen.tls, { cert: renewed.certPem.trimEnd(), key: renewed.keyPem.trimEnd() }, 'the renewed certificate at the same path');
});

t.test('a secret put in a PEM key stays out of messages, also when a YAML alias error ends the load early (found by fuzzing)', async (t) => {
  const secret = 'SeCrEt-AAAAAAAA-9q';
  const text = `tokens:
  lake:
    tokenUrl: https://idp.example.com/token
    clientId: app
    privateKey: \${LAKE_SECRET}
    authMethod: private_key_jwt
inbound:
  users:
    - name: *!
routes:
  /sales:
    target: https://api.example.com/odata/
    token: lake
`;
  const error = configErrorOf(() => parseConfig(text, { env: { LAKE_SECRET: secret }, baseDir: tmpdir() }));
  t.match(error.message, /YAML aliases/, 'the alias error ended the load');
  t.match(error.message, /tokens\.lake\.privateKey: cannot read PEM file the value of the \$\{…\} reference/, 'the unreadable path is reported without its value');
  t.notMatch(error.message, secret);
});
