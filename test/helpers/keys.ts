import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestKey {
  kid: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  publicJwk: Record<string, unknown>;
  privateKey: KeyObject;
}

type KeyKind = 'rsa' | 'ec' | 'ed25519';

/** A fresh key per call, so no private key material lives in the repository. */
export function generateTestKey(kind: KeyKind): TestKey {
  const pair = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const kid = `${kind}-${randomBytes(4).toString('hex')}`;
  return {
    kid,
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig' },
    privateKey: pair.privateKey,
  };
}

/** A self-signed certificate for a key, made by the openssl command line (Node cannot create certificates). */
export function selfSignedCertificate(key: TestKey, commonName = 'bearer-proxy-test'): string {
  const dir = mkdtempSync(join(tmpdir(), 'bearer-proxy-cert-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });
    execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-subj', `/CN=${commonName}`, '-days', '2', '-out', certFile], { stdio: 'pipe' });
    return readFileSync(certFile, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
