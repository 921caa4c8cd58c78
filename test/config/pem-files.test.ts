import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t, { type Test } from 'tap';
import { parseDocument } from 'yaml';
import { ConfigError, loadConfigFile } from '../../src/config/load.ts';
import { readPemFiles } from '../../src/config/pem-files.ts';
import { MAX_REFERENCED_FILE_BYTES, readBoundedFile } from '../../src/config/size-limits.ts';
import { generateTestKey, selfSignedCertificate } from '../helpers/keys.ts';

const key = generateTestKey('ec');
const certificate = selfSignedCertificate(key);
const TAIL = '; a value without -----BEGIN is read as a file path';

/** What t.testdir takes for one entry: text, bytes, an empty directory or a link. */
type Entry = string | Buffer | Record<string, never> | ReturnType<Test['fixture']>;

/** A conf/ directory for the config, with `files` in it, and `outside/` beside it. */
function confDir(t: Test, files: Record<string, Entry> = {}): string {
  const root = t.testdir({ conf: { 'cert.pem': certificate, 'key.pem': key.privateKeyPem, ...files }, outside: { 'ca.pem': certificate } });
  return join(root, 'conf');
}

/** readPemFiles as loadConfigFile calls it: paths resolved against baseDir, read by the real bounded reader. */
function readIn(baseDir: string, yaml: string, skip: ReadonlySet<string> = new Set()) {
  const doc = parseDocument(yaml);
  const read: string[] = [];
  const referenced = new Set<string>();
  const problems = readPemFiles(
    doc,
    {
      baseDir,
      skip,
      readFile: (path) => {
        read.push(path);
        return readBoundedFile(resolve(baseDir, path), MAX_REFERENCED_FILE_BYTES);
      },
    },
    referenced,
  );
  return { doc, problems, referenced, read };
}

/** The message of each ConfigError problem loadConfigFile reports for a config file with this text. */
function loaderProblems(dir: string, text: string): string[] {
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, text);
  try {
    loadConfigFile(file, { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return [error.message, ...error.problems.map((problem) => problem.message)];
    throw error;
  }
  return [];
}

const routeWith = (extra: string) => `tokens:
  lake:
    tokenUrl: https://idp.example.com/token
    clientId: app
    authMethod: private_key_jwt
    privateKey: ./key.pem
routes:
  /sales:
    target: https://api.example.com/odata/
    token: lake
${extra}`;

t.test("a path is replaced in place by the file's text, one trailing newline dropped, and marked as read from a file", async (t) => {
  const dir = confDir(t);
  const { doc, problems, referenced } = readIn(
    dir,
    `listen:
  tls: { cert: cert.pem, key: ./key.pem }
tokens:
  lake: { privateKey: ${join(dir, 'key.pem')}, ca: ../outside/ca.pem }
routes:
  /sales: { clientCert: ./cert.pem }
`,
  );
  t.same(problems, []);
  t.equal(doc.getIn(['listen', 'tls', 'cert']), certificate.replace(/\n$/, ''), 'relative to the config directory');
  t.equal(doc.getIn(['listen', 'tls', 'key']), key.privateKeyPem.replace(/\n$/, ''));
  t.equal(doc.getIn(['tokens', 'lake', 'privateKey']), key.privateKeyPem.replace(/\n$/, ''), 'an absolute path');
  // Certificates kept beside the config directory are an ordinary layout (/etc/ssl next to /etc/bearer-proxy).
  t.equal(doc.getIn(['tokens', 'lake', 'ca']), certificate.replace(/\n$/, ''), 'a path out of the config directory is read as written');
  t.equal(doc.getIn(['routes', '/sales', 'clientCert']), certificate.replace(/\n$/, ''));
  t.same([...referenced].sort(), ['["listen","tls","cert"]', '["listen","tls","key"]', '["routes","/sales","clientCert"]', '["tokens","lake","ca"]', '["tokens","lake","privateKey"]']);
});

t.test('token sources named like Object members are read like any other', async (t) => {
  const dir = confDir(t);
  const { doc, problems, referenced } = readIn(dir, 'tokens:\n  __proto__: { privateKey: key.pem }\n  constructor: { ca: cert.pem }\n  toString: { tls: { cert: cert.pem } }\n');
  t.same(problems, []);
  t.equal(doc.getIn(['tokens', '__proto__', 'privateKey']), key.privateKeyPem.replace(/\n$/, ''));
  t.equal(doc.getIn(['tokens', 'constructor', 'ca']), certificate.replace(/\n$/, ''));
  t.equal(doc.getIn(['tokens', 'toString', 'tls', 'cert']), certificate.replace(/\n$/, ''));
  t.equal(referenced.size, 3);
});

t.test('only PEM keys holding a single-line path are read; everything else is left for the schema', async (t) => {
  const dir = confDir(t, { 'secret.txt': 'not-read' });
  const { doc, problems, referenced, read } = readIn(
    dir,
    `tokens:
  inline: { privateKey: "-----BEGIN PRIVATE KEY-----\\nMIG...\\n-----END PRIVATE KEY-----" }
  empty: { privateKey: "" }
  number: { ca: 1234 }
  lines: { privateKey: "MIGHAgEA\\nMBMGByqG" }
  plain: { clientSecret: secret.txt, tokenUrl: secret.txt }
  failed: { ca: cert.pem }
routes:
  /r: { target: secret.txt, ca: [cert.pem] }
`,
    new Set(['["tokens","failed","ca"]']),
  );
  t.same(problems, []);
  t.same(read, [], 'no file was opened');
  t.same(referenced, new Set());
  t.equal(doc.getIn(['tokens', 'plain', 'clientSecret']), 'secret.txt', 'a key that takes no PEM is no path');
  t.equal(doc.getIn(['tokens', 'failed', 'ca']), 'cert.pem', 'a key whose ${…} already failed is reported once, not read');
  t.equal(doc.getIn(['tokens', 'number', 'ca']), 1234);
});

t.test('a file that cannot be opened is named as written, with where it was looked for and the reason', async (t) => {
  const dir = confDir(t, { dangling: t.fixture('symlink', 'nowhere.pem'), tls: {} });
  const cases: Array<[string, string]> = [
    ['missing.pem', `cannot read PEM file "missing.pem" relative to ${dir} (ENOENT)${TAIL}`],
    ['../outside/missing.pem', `cannot read PEM file "../outside/missing.pem" relative to ${dir} (ENOENT)${TAIL}`],
    ['/nonexistent/ca.pem', `cannot read PEM file "/nonexistent/ca.pem" (ENOENT)${TAIL}`],
    ['dangling', `cannot read PEM file "dangling" relative to ${dir} (ENOENT)${TAIL}`],
    ['tls', `cannot read PEM file "tls" relative to ${dir} (EISDIR)${TAIL}`],
    ['cert.pem/inner.pem', `cannot read PEM file "cert.pem/inner.pem" relative to ${dir} (ENOTDIR)${TAIL}`],
    ['caf\u00e9 \u65e5\u672c.pem', `cannot read PEM file "caf\u00e9 \u65e5\u672c.pem" relative to ${dir} (ENOENT)${TAIL}`],
  ];
  for (const [path, message] of cases) {
    const { doc, problems, referenced } = readIn(dir, `routes:\n  /r: { ca: ${JSON.stringify(path)} }\n`);
    t.same(problems, [{ path: ['routes', '/r', 'ca'], message }], path);
    t.equal(doc.getIn(['routes', '/r', 'ca']), path, `${path}: the value stays the path`);
    t.equal(referenced.size, 0);
  }
});

t.test('an empty or blank file says so, rather than "not a certificate"', async (t) => {
  const dir = confDir(t, { 'empty.pem': '', 'blank.pem': '\n  \n\t\n' });
  for (const name of ['empty.pem', 'blank.pem']) {
    t.same(readIn(dir, `listen: { tls: { cert: ${name} } }\n`).problems, [{ path: ['listen', 'tls', 'cert'], message: `PEM file "${name}" is empty` }], name);
  }
});

t.test('a file that is no text, or too large, is refused with what it is and never its bytes', async (t) => {
  const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  const dir = confDir(t, {
    'key.der': der,
    'utf16.pem': Buffer.from(`\ufeff${certificate}`, 'utf16le'),
    'huge.pem': `-----BEGIN CERTIFICATE-----\n${'A'.repeat(MAX_REFERENCED_FILE_BYTES)}\n`,
  });
  const problemOf = (name: string) => readIn(dir, `routes:\n  /r: { clientKey: ${name} }\n`).problems.map((problem) => problem.message);
  t.match(problemOf('key.der'), [/^cannot read PEM file "key\.der" relative to .* \(it is binary \(DER\), not text; PEM is needed: openssl x509 -inform der -in key\.der/]);
  t.match(problemOf('utf16.pem'), [/^cannot read PEM file "utf16\.pem" relative to .* \(it is UTF-16 \(little-endian, with a byte-order mark\)/]);
  t.match(problemOf('huge.pem'), [/^cannot read PEM file "huge\.pem" relative to .* \(larger than 1024 KiB\)/]);
  const all = ['key.der', 'utf16.pem', 'huge.pem'].flatMap(problemOf).join('\n');
  t.notMatch(all, der.toString('base64').slice(20, 60));
  t.notMatch(all, 'AAAAAAAAAAAAAAAA');
});

t.test("a path to a file that is not PEM: the loader's message never repeats the file's text", async (t) => {
  const dir = confDir(t, { 'secret.txt': 'hunter2-the-client-secret\n' });
  const messages = loaderProblems(dir, routeWith('    ca: ./secret.txt\n    clientCert: ./key.pem\n    clientKey: ./cert.pem\n'));
  t.match(messages.slice(1), [/no PEM certificate found/, /not a readable PEM certificate/, /not a readable PEM private key/], 'the file read was checked as PEM');
  t.notMatch(messages[0], 'hunter2');
  t.notMatch(messages[0], key.privateKeyPem.split('\n')[1]!, 'nor a private key read from a file named as a certificate');
});

t.test('key material pasted without its BEGIN line is read as no path and never repeated', async (t) => {
  const dir = confDir(t);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const der = ec.export({ type: 'pkcs8', format: 'der' });
  const jwk = ec.export({ format: 'jwk' });
  const pasted: Array<[string, string, string]> = [
    ['the base64 body of a PEM key', der.toString('base64'), der.toString('base64').slice(-40)],
    // base64url is how JOSE tools write key bytes.
    ['base64url key bytes', der.toString('base64url'), der.toString('base64url').slice(-40)],
    // Okta's console hands out private_key_jwt keys as a JWK: pasting its JSON into privateKey is an easy mistake.
    ['a private JWK as JSON', JSON.stringify(jwk), jwk.d!],
  ];
  for (const [name, value, secret] of pasted) {
    const { problems } = readIn(dir, `tokens:\n  lake: { privateKey: ${JSON.stringify(value)} }\n`);
    t.equal(problems.length, 1, `${name}: one problem`);
    t.notMatch(problems[0]?.message ?? '', secret, `${name}: the message does not repeat it`);
    const messages = loaderProblems(dir, routeWith('').replace('./key.pem', JSON.stringify(value)));
    // The loader's messages are printed by check, logged on reload and listed on /_status.
    t.notMatch(messages[0], secret, `${name}: neither does the loader's error`);
  }
});
