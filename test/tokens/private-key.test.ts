import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { CompactSign, compactVerify, importSPKI } from 'jose';
import t from 'tap';
import { loadSigningKey, privateKeyProblem } from '../../src/tokens/private-key.ts';
import { generateTestKey, selfSignedCertificate } from '../helpers/keys.ts';

t.test('each key type signs with the algorithm it implies, verifiable with its public key', async (t) => {
  for (const [kind, alg] of [
    ['rsa', 'RS256'],
    ['ec', 'ES256'],
    ['ed25519', 'EdDSA'],
  ] as const) {
    const key = generateTestKey(kind);
    const signing = await loadSigningKey(key.privateKeyPem, { keyId: key.kid });
    t.same([signing.alg, signing.kid], [alg, key.kid], kind);
    const jws = await new CompactSign(new TextEncoder().encode('payload')).setProtectedHeader({ alg }).sign(signing.key);
    const publicKey = await importSPKI(createPublicKey(key.privateKeyPem).export({ type: 'spki', format: 'pem' }).toString(), alg);
    const { payload } = await compactVerify(jws, publicKey);
    t.equal(new TextDecoder().decode(payload), 'payload', `${kind}: the imported key is the configured key`);
  }
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString();
  t.match(p384, /BEGIN EC PRIVATE KEY/);
  t.equal((await loadSigningKey(p384)).alg, 'ES384', 'a SEC1 P-384 key');
  t.equal((await loadSigningKey(p384)).kid, undefined, 'no kid unless configured');
});

t.test('a certificate adds its SHA-1 and SHA-256 thumbprints', async (t) => {
  const key = generateTestKey('rsa');
  const certificate = selfSignedCertificate(key);
  const signing = await loadSigningKey(key.privateKeyPem, { certificate });
  const der = new X509Certificate(certificate).raw;
  t.equal(signing['x5t#S256'], createHash('sha256').update(der).digest('base64url'));
  t.equal(signing.x5t, createHash('sha1').update(der).digest('base64url'));
});

t.test('problems are described without repeating the key', async (t) => {
  const key = generateTestKey('ec');
  t.equal(privateKeyProblem(key.privateKeyPem), undefined);
  const broken = key.privateKeyPem.replace(/[A-Za-z]{8}/, 'AAAAAAAA');
  t.match(privateKeyProblem(broken), /not a readable PEM private key/);
  const bodyLines = broken.split('\n').filter((line) => line && !line.startsWith('-----'));
  t.ok(
    bodyLines.every((line) => !privateKeyProblem(broken)!.includes(line.slice(0, 16))),
    'no part of the key in the message',
  );
  const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  t.match(privateKeyProblem(x25519), /unsupported private key type "x25519"/, 'a key that cannot sign');
});
