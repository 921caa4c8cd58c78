import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decodeText, encodingProblem } from '../../src/config/encoding.ts';
import { ConfigError, loadConfigFile } from '../../src/config/load.ts';
import { runCli } from '../helpers/cli.ts';

const YAML = 'tokens:\n  lake: { tokenUrl: "https://idp.example.com/token", clientId: c, clientSecret: "${file:secret.txt}" }\nroutes:\n  /sales: { target: "https://api.example.com", token: lake }\n';
const utf16le = (text: string, bom = true) => Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from(text, 'utf16le')]);
const utf16be = (text: string) => Buffer.from(utf16le(text).swap16());

t.test('UTF-8, with or without a byte-order mark, is read; the mark is dropped', async (t) => {
  t.equal(decodeText(Buffer.from('a: ü\n'), 'x.yaml'), 'a: ü\n');
  t.equal(decodeText(Buffer.from('\ufeffa: 1\n'), 'x.yaml'), 'a: 1\n');
  t.equal(decodeText(Buffer.alloc(0), 'x.yaml'), '');
});

t.test('UTF-16 and UTF-32 are named, with the fix', async (t) => {
  t.match(
    encodingProblem(utf16le(YAML), 'proxy.yaml'),
    /^it is UTF-16 \(little-endian, with a byte-order mark\), as Windows PowerShell 5\.1 writes with > and Out-File; save it as UTF-8: \(Get-Content proxy\.yaml\) \| Set-Content -Encoding utf8 proxy\.yaml/,
  );
  t.match(encodingProblem(utf16le(YAML, false), 'proxy.yaml'), /^it is UTF-16 \(little-endian, without a byte-order mark\)/);
  t.match(encodingProblem(utf16be(YAML), 'proxy.yaml'), /^it is UTF-16 \(big-endian, with a byte-order mark\)/);
  t.match(encodingProblem(Buffer.from(utf16be(YAML).subarray(2)), 'proxy.yaml'), /^it is UTF-16 \(big-endian, without a byte-order mark\)/);
  t.match(encodingProblem(Buffer.from([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0]), 'p.yaml'), /^it is UTF-32 \(little-endian/);
  t.throws(() => decodeText(utf16le(YAML), '/etc/x/proxy.yaml'), { code: 'EENCODING', message: /Set-Content -Encoding utf8 proxy\.yaml/ }, 'the fix names the file, not its directory');
});

t.test('other bytes that are not UTF-8 are placed by line and column', async (t) => {
  const latin1 = Buffer.from('tokens:\n  lake:\n    scope: café\n', 'latin1');
  t.equal(encodingProblem(latin1, 'p.yaml'), 'it is not UTF-8: byte 0xE9 at line 3, column 15 (text saved as Windows-1252 or Latin-1?); save it as UTF-8');
  t.match(encodingProblem(Buffer.from([0xc0, 0xae]), 'p.yaml'), /byte 0xC0 at line 1, column 1/, 'an overlong form');
  t.match(encodingProblem(Buffer.from([0x61, 0xed, 0xa0, 0x80]), 'p.yaml'), /byte 0xED at line 1, column 2/, 'a surrogate');
  t.match(encodingProblem(Buffer.from('ab\0cd'), 'p.yaml'), /NUL bytes/);
  t.match(encodingProblem(Buffer.from('listen: {}\n\0\ntokens: {}\n'), 'p.yaml'), /NUL bytes/);
  t.match(encodingProblem(Buffer.from([0x30, 0x82, 0x03, 0x0d, 0x30, 0x82, 0xff]), 'cert.cer'), /binary \(DER\).*openssl x509 -inform der -in cert\.cer -out cert\.cer\.pem/);
});

t.test('loading: a UTF-16 config file is refused with its name; a UTF-8 BOM is fine; so for the files it names', async (t) => {
  const dir = t.testdir({});
  const load = (name: string, bytes: Buffer, secret: Buffer = Buffer.from('s3cret\n')) => {
    writeFileSync(join(dir, name), bytes);
    writeFileSync(join(dir, 'secret.txt'), secret);
    return loadConfigFile(join(dir, name), { env: {} });
  };
  const refused = t.throws(() => load('utf16.yaml', utf16le(YAML))) as unknown as ConfigError;
  t.ok(refused instanceof ConfigError);
  t.match(refused.message, /utf16\.yaml: 1 problem\n {2}\S+utf16\.yaml \(top level\): cannot read the config file: it is UTF-16 \(little-endian, with a byte-order mark\)/);
  t.notMatch(refused.message, /expected (object|a mapping)/, 'not "expected a mapping, not the text …"');
  t.equal(load('bom.yaml', Buffer.from(`\ufeff${YAML}`)).config.tokens.lake!.clientSecret, 's3cret', 'a UTF-8 BOM is accepted');
  t.equal(
    load('bom-secret.yaml', Buffer.from(YAML), Buffer.from('\ufeffs3cret\r\n')).config.tokens.lake!.clientSecret,
    's3cret',
    'and dropped from a secret file (Set-Content -Encoding utf8 writes one)',
  );
  const secret = t.throws(() => load('plain.yaml', Buffer.from(YAML), utf16le('s3cret\r\n'))) as unknown as ConfigError;
  t.match(secret.message, /tokens\.lake\.clientSecret: cannot read file "secret\.txt" named by \$\{file:secret\.txt\} \(it is UTF-16 \(little-endian, with a byte-order mark\)/);
  t.notMatch(secret.message, /s3cret/);
});

t.test('check on a file PowerShell 5.1 wrote with >', async (t) => {
  const dir = t.testdir({});
  writeFileSync(join(dir, 'proxy.yaml'), utf16le(YAML.replace('${file:secret.txt}', 'x')));
  const result = await runCli(['check', '-c', join(dir, 'proxy.yaml')]);
  t.equal(result.code, 1);
  t.match(result.stderr, /proxy\.yaml \(top level\): cannot read the config file: it is UTF-16 .*Set-Content -Encoding utf8 proxy\.yaml/);
});
