/**
 * The soak's upstream (bench/soak.ts), its own process so the load generator's event loop
 * does not carry it. Prints {"port":N} when ready, exits when stdin closes.
 *
 *   GET  /api/small    ~2.3 KB of OData JSON with the upstream's own links (rewritten whole)
 *   GET  /api/page     ~200 KB of the same kind (rewritten as it streams)
 *   GET  /api/gz       the small page gzip-encoded (decoded, rewritten, sent as identity to loopback)
 *   POST /api/$batch   a multipart answer of two parts with links (rewritten part by part)
 *   POST /api/echo     the request body back as JSON
 *   GET  /api/slow     the head and a first chunk, the rest 200 ms later (the client leaves before it)
 *   GET  /api/reset    the connection destroyed unanswered (502 after one resend)
 *   GET  /api/reject   401 invalid_token (a new token, a replay, then 502)
 *   GET  /api/late     the answer after 500 ms, past the soak route's 200 ms timeout (504)
 *   GET  /generation   the last x-soak-generation header seen: which config a request came through
 *
 * Everything except /generation needs a bearer token.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { readBody } from '../src/demo/http-util.ts';
import { JSON_TYPE, smallBody } from './payloads.ts';

const BOUNDARY = 'batchresponse_soak';
/** Far above the soak's request bodies (1 KB); a larger one is answered empty. */
const BODY_LIMIT = 1024 * 1024;

function page(base: string, rows: number): Buffer {
  const value = Array.from({ length: rows }, (_, index) => ({ '@odata.id': `${base}/api/Customers(${index + 1})`, Id: index + 1, Name: `Customer ${index + 1}`, City: 'Utrecht' }));
  return Buffer.from(JSON.stringify({ '@odata.context': `${base}/api/$metadata#Customers`, value, '@odata.nextLink': `${base}/api/Customers?$skiptoken=${rows}` }));
}

function batchAnswer(base: string): Buffer {
  const part = (body: string) =>
    ['Content-Type: application/http', 'Content-Transfer-Encoding: binary', '', 'HTTP/1.1 200 OK', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, '', body].join(
      '\r\n',
    );
  const first = JSON.stringify({ '@odata.context': `${base}/api/$metadata#Customers/$entity`, Id: 1 });
  const second = JSON.stringify({ value: [{ '@odata.id': `${base}/api/Customers(2)` }], '@odata.nextLink': `${base}/api/Customers?$skiptoken=2` });
  return Buffer.from(`--${BOUNDARY}\r\n${part(first)}\r\n--${BOUNDARY}\r\n${part(second)}\r\n--${BOUNDARY}--\r\n`);
}

function main(): void {
  let bodies: Record<'small' | 'page' | 'gz' | 'batch', Buffer> | undefined;
  let generation = '';

  const send = (res: ServerResponse, type: string, body: Buffer, headers: Record<string, string> = {}) =>
    res.writeHead(200, { 'content-type': type, 'content-length': String(body.length), ...headers }).end(body);

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/generation') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(generation);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) return void res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
    const sentGeneration = req.headers['x-soak-generation'];
    if (typeof sentGeneration === 'string') generation = sentGeneration;
    const { small, page: big, gz, batch } = bodies!;
    switch (url) {
      case '/api/small':
        return void send(res, JSON_TYPE, small);
      case '/api/page':
        return void send(res, JSON_TYPE, big);
      case '/api/gz':
        return void send(res, JSON_TYPE, gz, { 'content-encoding': 'gzip' });
      case '/api/$batch':
        return void readBody(req, BODY_LIMIT).then(() => send(res, `multipart/mixed; boundary=${BOUNDARY}`, batch));
      case '/api/echo':
        return void readBody(req, BODY_LIMIT).then((body) => send(res, 'application/json', Buffer.from(body ?? '')));
      case '/api/slow': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(16 * 1024, 's'));
        const timer = setTimeout(() => res.end(Buffer.alloc(16 * 1024, 's')), 200);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      case '/api/reset':
        return void req.socket.destroy();
      case '/api/reject':
        return void res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token", error_description="revoked for the soak"' }).end();
      case '/api/late': {
        const timer = setTimeout(() => send(res, JSON_TYPE, small), 500);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  });
  // Said in Keep-Alive: timeout=10, which undici heeds: the proxy lets idle connections go
  // after ~8 s, so connections come and go during the soak and are gone soon after it.
  server.keepAliveTimeout = 10_000;
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    const small = smallBody(base);
    bodies = { small, page: page(base, 2000), gz: gzipSync(small), batch: batchAnswer(base) };
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

main();
