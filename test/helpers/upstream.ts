import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { closeServer, listen } from './listen.ts';

export interface RecordedRequest {
  method: string;
  /** The request target exactly as received. */
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  claims?: JWTPayload;
}

export interface UpstreamContext {
  claims?: JWTPayload;
  body: Buffer;
  baseUrl: string;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, ctx: UpstreamContext) => void | Promise<void>;

export interface TestUpstream {
  url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** When set, every request must carry a Bearer JWT that verifies against these keys. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  handler?: UpstreamHandler;
  /** Answer 401 to a valid token when this returns true (attempt counts from 1). */
  rejectTokens?: (claims: JWTPayload, attempt: number) => boolean;
}

/** A real API server that verifies bearer JWTs with jose, as a resource server would. */
export async function startUpstream(options: UpstreamOptions = {}): Promise<TestUpstream> {
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined;
  const requests: RecordedRequest[] = [];
  let attempts = 0;
  let baseUrl = '';

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const record: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body };
        requests.push(record);
        if (jwks) {
          const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
          try {
            if (!token) throw new Error('no bearer token');
            const { payload } = await jwtVerify(token, jwks, { ...(options.issuer ? { issuer: options.issuer } : {}), ...(options.audience ? { audience: options.audience } : {}) });
            record.claims = payload;
          } catch (error) {
            return refuse(res, (error as Error).message);
          }
          if (options.rejectTokens?.(record.claims, ++attempts)) return refuse(res, 'token revoked');
        }
        const handler = options.handler ?? echo;
        await handler(req, res, { ...(record.claims ? { claims: record.claims } : {}), body, baseUrl });
      })().catch((error: unknown) => {
        res.destroy(error as Error);
      });
    });
  });
  baseUrl = await listen(server);
  return { url: baseUrl, requests, close: () => closeServer(server) };
}

function refuse(res: ServerResponse, description: string): void {
  const body = JSON.stringify({ error: { code: 'InvalidToken', message: description } });
  res.writeHead(401, {
    'www-authenticate': `Bearer error="invalid_token", error_description="${description.replaceAll('"', "'")}"`,
    'content-type': 'application/json',
  });
  res.end(body);
}

const echo: UpstreamHandler = (req, res, ctx) => {
  const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: ctx.body.length, claims: ctx.claims });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
};
