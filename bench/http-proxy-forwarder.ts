/**
 * The http-proxy 1.18 comparator: the smallest forwarder that does the same job as
 * bearer-proxy on the wire (a bearer header, X-Forwarded-*, keep-alive upstream pool),
 * run as its own process. BENCH_TARGET is the upstream origin. Prints {"port":N} when
 * ready; exits when stdin closes.
 */
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';

function main(): void {
  const target = process.env.BENCH_TARGET;
  if (!target) throw new Error('BENCH_TARGET is required');
  const proxy = httpProxy.createProxyServer({
    target,
    xfwd: true,
    // Same pooling as bearer-proxy's undici Agent: without keep-alive every request would pay a connect.
    agent: new Agent({ keepAlive: true, keepAliveMsecs: 30_000 }),
    headers: { authorization: process.env.BENCH_AUTHORIZATION ?? 'Bearer static-bench-token' },
  });
  proxy.on('error', (_error, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  const server = createServer((req, res) => proxy.web(req, res));
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

main();
