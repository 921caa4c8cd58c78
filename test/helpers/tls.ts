import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { Agent, request } from 'undici';
import { generateTestKey } from './keys.ts';

export interface TestCa {
  certPem: string;
  keyPem: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

/** Runs openssl in a scratch directory holding the given files; returns what it wrote to `out`. */
function openssl(files: Record<string, string>, args: (dir: string) => string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'bearer-proxy-tls-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content, { mode: 0o600 });
    execFileSync('openssl', args(dir), { stdio: 'pipe' });
    return readFileSync(join(dir, 'out.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A private certificate authority, made fresh for each test (no key material in the repository). */
export function createTestCa(name = 'bearer-proxy test CA'): TestCa {
  const key = generateTestKey('ec');
  const certPem = openssl({ 'ca.key': key.privateKeyPem }, (dir) => [
    'req',
    '-x509',
    '-new',
    '-key',
    join(dir, 'ca.key'),
    '-subj',
    `/CN=${name}`,
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    join(dir, 'out.pem'),
  ]);
  return { certPem, keyPem: key.privateKeyPem };
}

/** A leaf certificate signed by the CA: a server certificate for 127.0.0.1/localhost, or a client certificate. */
export function issueCertificate(ca: TestCa, commonName: string, usage: 'server' | 'client' = 'server'): IssuedCertificate {
  const key = generateTestKey('ec');
  const extensions = usage === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n';
  const csr = openssl({ 'leaf.key': key.privateKeyPem }, (dir) => ['req', '-new', '-key', join(dir, 'leaf.key'), '-subj', `/CN=${commonName}`, '-out', join(dir, 'out.pem')]);
  const certPem = openssl({ 'ca.crt': ca.certPem, 'ca.key': ca.keyPem, 'leaf.csr': csr, 'ext.cnf': extensions }, (dir) => [
    'x509',
    '-req',
    '-in',
    join(dir, 'leaf.csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    join(dir, 'ext.cnf'),
    '-out',
    join(dir, 'out.pem'),
  ]);
  return { certPem, keyPem: key.privateKeyPem };
}

/** An IdP's JWKS over HTTPS signed by a test CA, to verify the tokens it issued. */
export async function fetchJwks(url: string, ca: TestCa): Promise<JSONWebKeySet> {
  const dispatcher = new Agent({ connect: { ca: ca.certPem } });
  try {
    return (await (await request(url, { dispatcher })).body.json()) as JSONWebKeySet;
  } finally {
    await dispatcher.close();
  }
}
