/**
 * The bench's upstream, run as its own process so it never competes with the load
 * generator's event loop. Prints {"port":N,...} on stdout when ready and exits when its
 * stdin closes (the runner went away).
 *
 *   GET  /api/small          ~2.3 KB OData-style JSON
 *   GET  /odata/Big          one JSON page of BIG_PAGE_MB with absolute upstream URLs
 *   GET  /odata/BigGz        the same page, always gzip-encoded (as many OData services send it)
 *   GET  /stream?bytes=N     N bytes of octet-stream, from one reused buffer
 *
 * Every request must carry `Authorization: Bearer …`, so a proxy that forgot the token
 * shows up as non-2xx answers instead of fast numbers.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { JSON_TYPE, smallBody } from './payloads.ts';

export interface UpstreamReady {
  port: number;
  /** Absolute upstream URLs in the big page: the count a rewriting proxy must replace. */
  bigPageUrls: number;
  bigPageBytes: number;
  bigPageGzipBytes: number;
}

const BIG_PAGE_MB = Number(process.env.BENCH_BIG_PAGE_MB ?? 56);
const STREAM_CHUNK = Buffer.alloc(64 * 1024, 'x');

/** Built once: generating 50+ MB per request would measure the upstream, not the proxy. */
function bigPage(root: string): { body: Buffer; urls: number } {
  const target = BIG_PAGE_MB * 1024 * 1024;
  const parts: string[] = [`{"@odata.context":"${root}/$metadata#Items","value":[`];
  let size = parts[0]!.length;
  let urls = 1;
  for (let id = 1; size < target; id++) {
    const row =
      `${id === 1 ? '' : ','}{"@odata.id":"${root}/Items(${id})","@odata.editLink":"${root}/Items(${id})",` +
      `"Id":${id},"Name":"Item ${id}","Price":${(id % 997) + 0.99},"Category@odata.navigationLink":"${root}/Items(${id})/Category"}`;
    parts.push(row);
    size += row.length;
    urls += 3;
  }
  parts.push(`],"@odata.nextLink":"${root}/Items?$skiptoken=${parts.length}"}`);
  urls += 1;
  return { body: Buffer.from(parts.join(''), 'latin1'), urls };
}

function streamBytes(res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const chunk = left >= STREAM_CHUNK.length ? STREAM_CHUNK : STREAM_CHUNK.subarray(0, left);
      left -= chunk.length;
      if (left === 0) {
        res.end(chunk);
        return;
      }
      // Backpressure: never queue more than the socket accepts, so the upstream's memory stays flat too.
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

function main(): void {
  // Filled in once the port is known: the bodies carry the upstream's own absolute URLs.
  let small: Buffer = Buffer.alloc(0);
  let big: { body: Buffer; urls: number } = { body: Buffer.alloc(0), urls: 0 };
  let bigGzip: Buffer = Buffer.alloc(0);

  const server = createServer((req, res) => {
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) {
      res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'application/json' }).end('{"error":"no bearer token"}');
      return;
    }
    const url = req.url ?? '/';
    if (url === '/api/small') {
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': String(small.length) }).end(small);
    } else if (url === '/odata/Big') {
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': String(big.body.length) }).end(big.body);
    } else if (url === '/odata/BigGz') {
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-encoding': 'gzip', 'content-length': String(bigGzip.length) }).end(bigGzip);
    } else if (url.startsWith('/stream?bytes=')) {
      const bytes = Number(url.slice('/stream?bytes='.length));
      if (!Number.isSafeInteger(bytes) || bytes < 0) res.writeHead(400).end();
      else streamBytes(res, bytes);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  });
  // The proxies under test keep upstream connections alive for 30 s; the upstream must not close them first.
  server.keepAliveTimeout = 60_000;

  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    small = smallBody(base);
    big = bigPage(`${base}/odata`);
    bigGzip = gzipSync(big.body, { level: 6 });
    const ready: UpstreamReady = { port, bigPageUrls: big.urls, bigPageBytes: big.body.length, bigPageGzipBytes: bigGzip.length };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  });

  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

main();
