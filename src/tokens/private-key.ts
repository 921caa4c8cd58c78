import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { CryptoKey } from 'openid-client';

/** A private_key_jwt signing key, ready for openid-client, with the JOSE header fields that name it. */
export interface SigningKey {
  key: CryptoKey;
  alg: string;
  kid?: string;
  /** Certificate thumbprints for IdPs that find the key by certificate (Entra ID). */
  x5t?: string;
  'x5t#S256'?: string;
}

/**
 * Reads a PEM private key in any form OpenSSL writes (PKCS#8, PKCS#1 "RSA PRIVATE KEY",
 * SEC1 "EC PRIVATE KEY") and picks the JWS algorithm its type implies.
 */
export async function loadSigningKey(pem: string, options: { keyId?: string | undefined; certificate?: string | undefined } = {}): Promise<SigningKey> {
  const keyObject = createPrivateKey(pem);
  const alg = jwsAlgorithmOf(keyObject);
  if (!alg) throw new Error(`unsupported private key type ${describeKey(keyObject)}`);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'pem' }).toString();
  // jose loads only when a key is really used, not when the config is checked.
  const { importPKCS8 } = await import('jose');
  const key = await importPKCS8(pkcs8, alg);
  const signingKey: SigningKey = { key, alg, ...(options.keyId ? { kid: options.keyId } : {}) };
  if (options.certificate) {
    const der = new X509Certificate(options.certificate).raw;
    signingKey.x5t = createHash('sha1').update(der).digest('base64url');
    signingKey['x5t#S256'] = createHash('sha256').update(der).digest('base64url');
  }
  return signingKey;
}

/** Why a configured privateKey cannot be used, without repeating any of it. */
export function privateKeyProblem(pem: string): string | undefined {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch {
    return 'not a readable PEM private key (expected -----BEGIN PRIVATE KEY----- or an RSA/EC private key, unencrypted)';
  }
  if (!jwsAlgorithmOf(keyObject)) return `unsupported private key type ${describeKey(keyObject)}: use RSA, EC P-256/P-384/P-521 or Ed25519`;
  return undefined;
}

function jwsAlgorithmOf(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      return { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[key.asymmetricKeyDetails?.namedCurve ?? ''];
    default:
      return undefined;
  }
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return `"${key.asymmetricKeyType ?? key.type}${curve ? ` ${curve}` : ''}"`;
}
