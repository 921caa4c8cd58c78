import { randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDemoIssuer } from '../src/demo/issuer.ts';
import { closeNow } from '../src/http/lifecycle.ts';

export interface BenchIssuer {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Token requests that reached the issuer, whatever their outcome. */
  readonly tokenRequests: number;
  /**
   * `Bearer <token>` with a token the issuer minted (not counted in tokenRequests): the
   * comparators inject it, so every system sends an Authorization of the same length, and
   * pays the same for undici's check of it (~1 µs per KB here).
   */
  authorization: string;
  close(): Promise<void>;
}

/**
 * The demo issuer behind a front that counts token requests and answers only after a
 * delay. Without the delay a loopback IdP answers in about a millisecond, and "1000
 * concurrent cold requests" would mostly arrive after the token was already cached,
 * which would not test the shared fetch at all.
 */
export async function startBenchIssuer(delayMs: number): Promise<BenchIssuer> {
  const clientId = 'bench-client';
  const clientSecret = randomBytes(24).toString('base64url');
  const issuer = await startDemoIssuer({ clientId, clientSecret, audience: 'https://bench.bearer-proxy.local' });
  const inner = new URL(issuer.tokenUrl);
  const minted = await fetch(issuer.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }) });
  const { access_token: sample } = (await minted.json()) as { access_token: string };
  let tokenRequests = 0;

  const front = createServer((req, res) => {
    if (req.url === '/token') tokenRequests++;
    void sleep(delayMs).then(() => {
      const upstream = request({ host: inner.hostname, port: inner.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.once('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const { port } = front.address() as AddressInfo;

  return {
    tokenUrl: `http://127.0.0.1:${port}/token`,
    clientId,
    clientSecret,
    authorization: `Bearer ${sample}`,
    get tokenRequests() {
      return tokenRequests;
    },
    async close() {
      await closeNow(front);
      await issuer.close();
    },
  };
}
