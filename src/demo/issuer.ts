import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { closeNow, listenOn } from '../http/lifecycle.ts';
import { sendJson } from '../http/respond.ts';
import { readBody } from './http-util.ts';

export interface DemoIssuerOptions {
  host?: string;
  port?: number;
  clientId: string;
  clientSecret: string;
  audience: string;
  ttlSeconds?: number;
}

export interface DemoIssuer {
  issuer: string;
  tokenUrl: string;
  jwksUrl: string;
  readonly tokensIssued: number;
  verifyAccessToken(token: string): Promise<JWTPayload>;
  close(): Promise<void>;
}

const BODY_LIMIT = 16 * 1024;

/**
 * The demo's token issuer: the client_credentials grant for one client, ES256 JWTs, and
 * just enough metadata (discovery, JWKS) to behave like a real IdP for the proxy.
 */
export async function startDemoIssuer(options: DemoIssuerOptions): Promise<DemoIssuer> {
  const ttl = options.ttlSeconds ?? 3600;
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
  const expectedSecret = digest(options.clientSecret);
  let tokensIssued = 0;
  let issuer = '';

  const authenticate = (req: IncomingMessage, form: URLSearchParams): { ok: boolean; basic: boolean } => {
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    if (basic) {
      // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
      const [rawId = '', rawSecret = ''] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      id = decodeURIComponent(rawId.replaceAll('+', ' '));
      secret = decodeURIComponent(rawSecret.replaceAll('+', ' '));
    }
    const ok = id === options.clientId && secret !== null && timingSafeEqual(digest(secret), expectedSecret);
    return { ok, basic: basic !== undefined };
  };

  const token = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req, BODY_LIMIT);
    if (body === undefined) return sendJson(res, 413, { error: 'invalid_request', error_description: 'request body too large' });
    const form = new URLSearchParams(body);
    const client = authenticate(req, form);
    if (!client.ok) {
      return sendJson(res, 401, { error: 'invalid_client', error_description: 'unknown client or wrong secret' }, { headers: client.basic ? { 'www-authenticate': 'Basic realm="demo-issuer"' } : {} });
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return sendJson(res, 400, { error: 'unsupported_grant_type', error_description: 'only client_credentials is supported' });
    }
    const scope = form.get('scope') ?? 'demo.read';
    const accessToken = await new SignJWT({ client_id: options.clientId, scope })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(options.audience)
      .setSubject(options.clientId)
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .setJti(randomUUID())
      .sign(privateKey);
    tokensIssued++;
    sendJson(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, scope }, { headers: { 'cache-control': 'no-store' } });
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      return sendJson(res, 200, {
        issuer,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      });
    }
    if (req.method === 'GET' && path === '/jwks') return sendJson(res, 200, jwks);
    if (req.method === 'POST' && path === '/token') {
      token(req, res).catch(() => sendJson(res, 500, { error: 'server_error' }));
      return;
    }
    sendJson(res, 404, { error: 'not_found' });
  });
  issuer = await listenOn(server, options.port ?? 0, options.host ?? '127.0.0.1');

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    jwksUrl: `${issuer}/jwks`,
    get tokensIssued() {
      return tokensIssued;
    },
    async verifyAccessToken(accessToken) {
      const { payload } = await jwtVerify(accessToken, publicKey, { issuer, audience: options.audience });
      return payload;
    },
    close: () => closeNow(server),
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
