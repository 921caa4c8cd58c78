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
  /** Access token lifetime; default 3600. */
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
const DEFAULT_SCOPE = 'demo.read';
const TOKEN_TYPE = 'at+jwt';

interface OAuthFailure {
  status: number;
  error: string;
  description: string;
  headers?: Record<string, string>;
}

type ClientCheck = { ok: true } | { ok: false; failure: OAuthFailure };

/**
 * The demo's token issuer: the client_credentials grant for one client, ES256 JWTs, and
 * just enough metadata (discovery, JWKS) to behave like a real IdP for the proxy.
 */
export async function startDemoIssuer(options: DemoIssuerOptions): Promise<DemoIssuer> {
  const ttl = options.ttlSeconds ?? 3600;
  if (!Number.isSafeInteger(ttl) || ttl < 1) throw new RangeError(`ttlSeconds must be a positive integer, not ${ttl}`);
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
  // Comparing fixed-length digests keeps timingSafeEqual usable and leaks nothing about the secret's length.
  const expectedSecret = digest(options.clientSecret);
  let tokensIssued = 0;
  let issuer = '';

  const authenticate = (req: IncomingMessage, form: URLSearchParams): ClientCheck => {
    const header = req.headers.authorization;
    const usedBasic = header !== undefined && /^Basic(?:\s|$)/i.test(header);
    const rejectClient = (description: string): ClientCheck => ({
      ok: false,
      // RFC 6749 §5.2: a client that tried the Authorization header must be told which scheme to use.
      failure: { status: 401, error: 'invalid_client', description, ...(usedBasic ? { headers: { 'www-authenticate': 'Basic realm="demo-issuer", charset="UTF-8"' } } : {}) },
    });
    let credentials: { id: string; secret: string } | undefined;
    if (usedBasic) {
      if (form.has('client_secret')) {
        return { ok: false, failure: { status: 400, error: 'invalid_request', description: 'use one client authentication method, not both Basic and client_secret' } };
      }
      credentials = parseBasic(header);
      if (!credentials) return rejectClient('malformed Basic credentials');
    } else {
      const id = form.get('client_id');
      const secret = form.get('client_secret');
      if (id === null || secret === null) return rejectClient('client authentication is required');
      credentials = { id, secret };
    }
    // The secret comparison runs even for an unknown id, so timing does not reveal which part was wrong.
    const secretMatches = timingSafeEqual(digest(credentials.secret), expectedSecret);
    return credentials.id === options.clientId && secretMatches ? { ok: true } : rejectClient('unknown client or wrong secret');
  };

  const issueToken = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const fail = (failure: OAuthFailure): void =>
      sendJson(res, failure.status, { error: failure.error, error_description: failure.description }, { headers: { 'cache-control': 'no-store', ...failure.headers } });

    const declared = Number(req.headers['content-length'] ?? 0);
    const body = declared > BODY_LIMIT ? undefined : await readBody(req, BODY_LIMIT);
    if (body === undefined) {
      // The rest of the upload is never read, so the connection cannot be reused.
      return fail({ status: 413, error: 'invalid_request', description: `request body over ${BODY_LIMIT} bytes`, headers: { connection: 'close' } });
    }
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (mediaType !== 'application/x-www-form-urlencoded') {
      return fail({ status: 400, error: 'invalid_request', description: 'the body must be application/x-www-form-urlencoded' });
    }
    const form = new URLSearchParams(body);
    // RFC 6749 §3.2: parameters must not repeat; accepting the first or last would be a guess.
    const repeated = [...new Set(form.keys())].find((key) => form.getAll(key).length > 1);
    if (repeated) return fail({ status: 400, error: 'invalid_request', description: `parameter "${repeated}" is repeated` });

    const client = authenticate(req, form);
    if (!client.ok) return fail(client.failure);
    const grantType = form.get('grant_type');
    if (grantType === null) return fail({ status: 400, error: 'invalid_request', description: 'grant_type is required' });
    if (grantType !== 'client_credentials') return fail({ status: 400, error: 'unsupported_grant_type', description: 'only client_credentials is supported' });

    const scope = form.get('scope') || DEFAULT_SCOPE;
    const accessToken = await new SignJWT({ client_id: options.clientId, scope })
      .setProtectedHeader({ alg: 'ES256', kid, typ: TOKEN_TYPE })
      .setIssuer(issuer)
      .setAudience(options.audience)
      .setSubject(options.clientId)
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .setJti(randomUUID())
      .sign(privateKey);
    tokensIssued++;
    sendJson(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, scope }, { headers: { 'cache-control': 'no-store', pragma: 'no-cache' } });
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const method = req.method ?? 'GET';
    const getOnly = (body: () => unknown): void => {
      if (method === 'GET' || method === 'HEAD') return sendJson(res, 200, body(), { method });
      sendJson(res, 405, { error: 'invalid_request', error_description: `${method} is not allowed here` }, { headers: { allow: 'GET, HEAD' } });
    };
    if (path === '/.well-known/openid-configuration') {
      return getOnly(() => ({
        issuer,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      }));
    }
    if (path === '/jwks') return getOnly(() => jwks);
    if (path === '/token') {
      if (method !== 'POST') {
        return sendJson(res, 405, { error: 'invalid_request', error_description: 'the token endpoint takes POST' }, { headers: { allow: 'POST' } });
      }
      issueToken(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'the demo issuer failed' });
        else res.destroy();
      });
      return;
    }
    sendJson(res, 404, { error: 'not_found', error_description: `nothing at ${path}` }, { method });
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
      const { payload } = await jwtVerify(accessToken, publicKey, { issuer, audience: options.audience, algorithms: ['ES256'], typ: TOKEN_TYPE });
      return payload;
    },
    close: () => closeNow(server),
  };
}

/** RFC 6749 §2.3.1: id and secret are each form-urlencoded, then joined by ":" and base64-encoded. */
function parseBasic(header: string): { id: string; secret: string } | undefined {
  const encoded = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header)?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  // The id cannot contain a raw ":" (it would be %3A), so the first one is the separator.
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return id === undefined || secret === undefined ? undefined : { id, secret };
}

function formDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
