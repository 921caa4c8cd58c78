/**
 * The bar issue 19 sets: the fastest simple forwarder on undici 7 (what bearer-proxy is
 * built on), one header added (Authorization), no logging, metrics or checks. It uses
 * `dispatch` with a raw handler, which costs ~20% less CPU per request here than
 * `Pool.stream` (no parsed header object, no promise, no body stream). BENCH_TARGET is the
 * upstream origin, BENCH_AUTHORIZATION the header it adds. Prints {"port":N} when ready;
 * exits when stdin closes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

/** This hop's framing and keep-alive are Node's to decide. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

function main(): void {
  const target = process.env.BENCH_TARGET;
  if (!target) throw new Error('BENCH_TARGET is required');
  // The bench issuer's token, as long as the one bearer-proxy sends (undici checks every byte of it).
  const authorization = process.env.BENCH_AUTHORIZATION ?? 'Bearer static-bench-token';
  const pool = new Pool(target, { connections: 128, keepAliveTimeout: 30_000 });
  const server = createServer((req, res) => {
    // undici sets Host from the origin and refuses hop-by-hop headers; undefined values are skipped.
    const headers = { ...req.headers, host: undefined, connection: undefined, 'keep-alive': undefined, authorization };
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
    let resume = (): void => {};
    pool.dispatch(
      { path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body },
      {
        onConnect() {},
        onHeaders(statusCode, raw, resumeUpstream) {
          const out: string[] = [];
          for (let index = 0; index < raw.length; index += 2) {
            const name = raw[index]!.toString('latin1');
            if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[index + 1]!.toString('latin1'));
          }
          res.writeHead(statusCode, out);
          resume = resumeUpstream;
          return true;
        },
        // Backpressure: undici pauses the upstream socket until the client drains.
        onData: (chunk) => res.write(chunk) || (res.once('drain', resume), false),
        onComplete: () => res.end(),
        onError: () => (res.headersSent ? res.destroy() : res.writeHead(502).end()),
      },
    );
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

main();
