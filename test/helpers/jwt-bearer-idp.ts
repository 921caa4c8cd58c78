import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';
import type { Test } from 'tap';
import { closeServer, listen } from './listen.ts';

/** A service account the IdP knows: assertions with this iss must verify against this key. */
export interface ServiceAccount {
  issuer: string;
  publicJwk: JWK;
}

export interface JwtBearerIdp {
  issuer: string;
  tokenUrl: string;
  jwksUrl: string;
  audience: string;
  /** Each token request's form, in order. */
  readonly requests: Array<{ params: Record<string, string>; status: number }>;
}

const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * A token endpoint for the RFC 7523 JWT-bearer grant, as Google's is for service accounts:
 * no client authentication, the assertion is the credential. It must be signed by a known
 * account's key, addressed to this token URL, carry sub, iat, exp (at most an hour after
 * iat) and a jti not seen before. The access token it issues is a JWT for `audience` with
 * the assertion's scope claim (or the form's scope), verifiable at /jwks.
 */
export async function startJwtBearerIdp(t: Test, accounts: ServiceAccount[], audience = 'https://api.test'): Promise<JwtBearerIdp> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = `jb-${randomBytes(4).toString('hex')}`;
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const requests: JwtBearerIdp['requests'] = [];
  const seenJti = new Set<string>();
  let issuer = '';

  const server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/jwks') return answer(200, jwks);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      const record = { params, status: 0 };
      requests.push(record);
      const refuse = (error: string, description: string) => {
        record.status = 400;
        answer(400, { error, error_description: description });
      };
      if (req.method !== 'POST' || req.url !== '/token') return refuse('invalid_request', 'POST /token');
      if (params.grant_type !== GRANT) return refuse('unsupported_grant_type', `grant_type must be ${GRANT}`);
      if (!params.assertion) return refuse('invalid_request', 'assertion is required');
      void verify(params.assertion).then(
        async (claims) => {
          const scope = typeof claims.scope === 'string' ? claims.scope : params.scope;
          const accessToken = await new SignJWT({ ...(scope ? { scope } : {}), azp: claims.iss })
            .setProtectedHeader({ alg: 'RS256', kid })
            .setIssuer(issuer)
            .setAudience(audience)
            .setSubject(String(claims.sub))
            .setIssuedAt()
            .setExpirationTime('1h')
            .sign(privateKey);
          record.status = 200;
          answer(200, { access_token: accessToken, token_type: 'Bearer', expires_in: 3599 });
        },
        (error: Error) => refuse('invalid_grant', error.message),
      );
    });
  });

  const verify = async (assertion: string) => {
    const iss = decodeJwt(assertion).iss;
    const account = accounts.find((candidate) => candidate.issuer === iss);
    if (!account) throw new Error('Invalid JWT: unknown issuer');
    const { payload } = await jwtVerify(assertion, createLocalJWKSet({ keys: [account.publicJwk] }), {
      issuer: account.issuer,
      audience: `${issuer}/token`,
      requiredClaims: ['sub', 'iat', 'exp', 'jti'],
    });
    if (payload.exp! - payload.iat! > 3600) throw new Error('Invalid JWT: exp more than an hour after iat');
    if (seenJti.has(payload.jti!)) throw new Error('Invalid JWT: jti already used');
    seenJti.add(payload.jti!);
    return payload;
  };

  issuer = await listen(server);
  t.teardown(() => closeServer(server));
  return { issuer, tokenUrl: `${issuer}/token`, jwksUrl: `${issuer}/jwks`, audience, requests };
}
