import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../clock.ts';
import type { TokenSourceConfig } from '../config/schema.ts';
import { loadSigningKey, type SigningKey } from './private-key.ts';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * Salesforce wants the assertion's exp within 3 minutes and Google within an hour; it is
 * used once, at once, so 2 minutes suits both and leaves room for clock skew.
 */
export const GRANT_ASSERTION_LIFETIME_S = 120;

type JwtBearerConfig = NonNullable<TokenSourceConfig['jwtBearer']>;

/**
 * Signs the assertion of an RFC 7523 §2.1 token request: iss, sub (the issuer unless
 * another subject is configured), aud (the token endpoint unless configured), iat, exp, a
 * fresh jti, and any further claims (Google reads the scope from here). The registered
 * claims cannot be overridden by `claims`.
 */
export function createGrantAssertion(config: JwtBearerConfig, clock: Clock): (tokenEndpoint: string) => Promise<string> {
  let key: Promise<SigningKey> | undefined;
  return async (tokenEndpoint) => {
    key ??= loadSigningKey(config.privateKey, { keyId: config.keyId });
    const { key: signingKey, alg, kid } = await key;
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({ ...config.claims })
      .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })
      .setIssuer(config.issuer)
      .setSubject(config.subject ?? config.issuer)
      .setAudience(config.audience ?? tokenEndpoint)
      .setIssuedAt(now)
      .setExpirationTime(now + GRANT_ASSERTION_LIFETIME_S)
      .setJti(randomUUID())
      .sign(signingKey);
  };
}
