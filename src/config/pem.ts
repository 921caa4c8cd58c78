import { createPrivateKey, X509Certificate } from 'node:crypto';

/*
 * Checks of PEM material named in the config. Messages describe the problem and never
 * repeat the material: a private key pasted into the wrong field must not reach a log.
 */

/** Why a configured certificate cannot be read. */
export function certificateProblem(pem: string): string | undefined {
  try {
    new X509Certificate(pem);
    return undefined;
  } catch {
    return 'not a readable PEM certificate (expected -----BEGIN CERTIFICATE-----)';
  }
}

/**
 * True only when both are readable and the certificate is for another key (an unreadable
 * one is reported on its own field, not twice).
 */
export function belongsToOtherKey(certificatePem: string, privateKeyPem: string): boolean {
  try {
    return !new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    return false;
  }
}

/** A CA bundle: one or more PEM certificates, each readable. */
export function caBundleProblem(pem: string): string | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'no PEM certificate found (expected one or more -----BEGIN CERTIFICATE----- blocks)';
  const unreadable = blocks.findIndex((block) => certificateProblem(block) !== undefined);
  return unreadable < 0 ? undefined : `certificate ${unreadable + 1} of ${blocks.length} is not readable`;
}

/** A TLS private key: any type OpenSSL can use, unencrypted. */
export function tlsKeyProblem(pem: string): string | undefined {
  try {
    createPrivateKey(pem);
    return undefined;
  } catch {
    return 'not a readable PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)';
  }
}
