import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { closeServer, listen } from './listen.ts';

export interface RecordedRequest {
  method: string;
  /** The request target exactly as received. */
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** Set only when the bearer JWT verified. */
  claims?: JWTPayload;
  authorization?: string;
}

export interface UpstreamContext {
  claims?: JWTPayload;
  body: Buffer;
  baseUrl: string;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, ctx: UpstreamContext) => void | Promise<void>;

export interface TestUpstream {
  url: string;
  /** Every request, refused ones included, in arrival order. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** When set, every request must carry a Bearer JWT that verifies against these keys. */
  jwksUrl?: string;
  /** Instead of jwksUrl: keys at hand (an IdP behind a private CA, whose /jwks fetch would not trust it). */
  keys?: JWTVerifyGetKey;
  issuer?: string;
  audience?: string;
  /** Default: 200 with a JSON echo of method, url, headers, bodyLength and claims. */
  handler?: UpstreamHandler;
  /** Answer 401 to a valid token when this returns true (attempt counts valid-token requests from 1). */
  rejectTokens?: (claims: JWTPayload, attempt: number) => boolean;
}

/** A real API server that verifies bearer JWTs with jose, as a resource server would. */
export async function startUpstream(options: UpstreamOptions = {}): Promise<TestUpstream> {
  const jwks = options.keys ?? (options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined);
  const handler = options.handler ?? echo;
  const requests: RecordedRequest[] = [];
  let attempts = 0;
  let baseUrl = '';

  async function respond(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const authorization = req.headers.authorization;
    const record: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body,
      ...(authorization !== undefined ? { authorization } : {}),
    };
    requests.push(record);
    if (jwks) {
      // The auth scheme is case-insensitive (RFC 9110 §11.1); resource servers accept any case.
      const token = /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
      if (!token) return refuse(res, 'no bearer token');
      try {
        const { payload } = await jwtVerify(token, jwks, {
          ...(options.issuer ? { issuer: options.issuer } : {}),
          ...(options.audience ? { audience: options.audience } : {}),
        });
        record.claims = payload;
      } catch (error) {
        return refuse(res, (error as Error).message);
      }
      if (options.rejectTokens?.(record.claims, ++attempts)) return refuse(res, 'token revoked');
    }
    await handler(req, res, { ...(record.claims ? { claims: record.claims } : {}), body, baseUrl });
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    // Without a listener, a client aborting mid-body would crash the whole test process.
    req.on('error', () => res.destroy());
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      respond(req, res, Buffer.concat(chunks)).catch((error: unknown) => {
        // A visible 500 beats a bare connection reset when a test's own handler throws.
        if (res.headersSent) return res.destroy(error as Error);
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`test upstream handler failed: ${(error as Error).stack ?? String(error)}`);
      });
    });
  });
  baseUrl = await listen(server);
  return { url: baseUrl, requests, close: () => closeServer(server) };
}

function refuse(res: ServerResponse, description: string): void {
  const body = JSON.stringify({ error: { code: 'InvalidToken', message: description } });
  res.writeHead(401, {
    // A quoted-string cannot carry raw quotes or backslashes.
    'www-authenticate': `Bearer error="invalid_token", error_description="${description.replace(/["\\]/g, "'")}"`,
    'content-type': 'application/json',
  });
  res.end(body);
}

const echo: UpstreamHandler = (req, res, ctx) => {
  const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: ctx.body.length, claims: ctx.claims });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
};
