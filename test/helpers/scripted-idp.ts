import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Test } from 'tap';
import { closeServer, listen } from './listen.ts';

export interface ScriptedIdp {
  issuer: string;
  tokenUrl: string;
  /** Each token request's form body, in order. */
  readonly tokenRequests: Array<{ body: URLSearchParams; authorization: string | undefined }>;
  /** Answers that were cut off by the client before the IdP had sent them whole. */
  readonly cutOff: number;
}

export type IdpScript = (req: IncomingMessage, res: ServerResponse, body: URLSearchParams) => void;

/**
 * A broken or hostile IdP on a real socket: what the token endpoint answers is up to the
 * test (oidc-provider, being correct, cannot be made to send a gigabyte or quote a secret).
 * Discovery answers with a document pointing at /token unless the script handles it.
 */
export async function startScriptedIdp(t: Test, script: IdpScript, options: { discovery?: IdpScript } = {}): Promise<ScriptedIdp> {
  const tokenRequests: ScriptedIdp['tokenRequests'] = [];
  let cutOff = 0;
  let issuer = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.on('close', () => {
        if (!res.writableFinished) cutOff++;
      });
      const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (req.url === '/.well-known/openid-configuration') {
        if (options.discovery) return options.discovery(req, res, body);
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ issuer, token_endpoint: `${issuer}/token` }));
      }
      tokenRequests.push({ body, authorization: req.headers.authorization });
      script(req, res, body);
    });
  });
  issuer = await listen(server);
  t.teardown(() => closeServer(server));
  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    tokenRequests,
    get cutOff() {
      return cutOff;
    },
  };
}

/** A token endpoint answer as JSON. */
export function tokenAnswer(res: ServerResponse, body: Record<string, unknown> | string, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Streams `mib` MiB of JSON (an endless access_token), respecting backpressure; stops when the client leaves. */
export function streamHugeJson(res: ServerResponse, mib: number, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.write('{"token_type":"Bearer","expires_in":3600,"access_token":"');
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  let sent = 0;
  let gone = false;
  res.on('close', () => (gone = true));
  const more = (): void => {
    while (!gone && sent < mib) {
      sent++;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    if (!gone) res.end('"}');
  };
  more();
}
