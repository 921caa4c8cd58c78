import { gzipSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { request } from 'undici';
import { startStack } from '../helpers/stack.ts';

// Links as upstreams really build them, through a route whose prefix differs from the
// upstream path (/api → …/odata/v4/sales), over real sockets.

/** What an upstream that reads X-Forwarded-Host/-Proto (as ASP.NET Core or CAP do) takes for its own base. */
function builtBase(req: IncomingMessage, upstreamUrl: string): string {
  const host = req.headers['x-forwarded-host'];
  return host ? `${req.headers['x-forwarded-proto']}://${host}/odata/v4/sales` : `${upstreamUrl}/odata/v4/sales`;
}

t.test('links built from the forwarded host, absolute paths, Location, Link: all on the route, with or without forwarded headers', async (t) => {
  for (const forwardedHeaders of [true, false]) {
    let upstreamUrl = '';
    const { proxy, upstream } = await startStack(t, {
      target: (url) => ((upstreamUrl = url), `${url}/odata/v4/sales`),
      route: { forwardedHeaders },
      upstream: {
        handler: (req, res) => {
          const base = builtBase(req, upstreamUrl);
          const body = JSON.stringify({ '@odata.context': '/odata/v4/sales/$metadata#Orders', value: [{ '@odata.id': `${base}/Orders(1)` }], '@odata.nextLink': `${base}/Orders?$skiptoken=1` });
          res.writeHead(201, { 'content-type': 'application/json', location: `${base}/Orders(1)`, 'content-location': '/odata/v4/sales/Orders(1)', link: `<${base}/Orders?$skiptoken=1>; rel="next"` });
          res.end(body);
        },
      },
    });
    const response = await request(`${proxy.url}/api/Orders`, { headers: { host: `localhost:${new URL(proxy.url).port}` } });
    const text = await response.body.text();
    const route = `http://localhost:${new URL(proxy.url).port}/api`;
    t.same(
      JSON.parse(text),
      { '@odata.context': '/api/$metadata#Orders', value: [{ '@odata.id': `${route}/Orders(1)` }], '@odata.nextLink': `${route}/Orders?$skiptoken=1` },
      `forwardedHeaders: ${forwardedHeaders}: the body`,
    );
    t.equal(response.headers.location, `${route}/Orders(1)`, 'Location');
    t.equal(response.headers['content-location'], '/api/Orders(1)', 'Content-Location, an absolute path');
    t.equal(response.headers.link, `<${route}/Orders?$skiptoken=1>; rel="next"`, 'Link');
    t.equal(upstream.requests[0]!.headers['x-forwarded-host'], forwardedHeaders ? `localhost:${new URL(proxy.url).port}` : undefined, 'X-Forwarded-Host sent only when asked');
    t.equal(upstream.requests[0]!.headers['x-forwarded-path'], forwardedHeaders ? '/api/Orders' : undefined);
  }
});

t.test('a multipart $batch answer: rewritten whole when small, streamed through gzip when large, each part’s length right', async (t) => {
  const part = (base: string, id: number) => {
    const json = JSON.stringify({ '@odata.id': `${base}/Orders(${id})`, '@odata.nextLink': `${base}/Orders?$skiptoken=${id}` });
    return `--batch_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}\r\n`;
  };
  let upstreamUrl = '';
  const { proxy } = await startStack(t, {
    target: (url) => ((upstreamUrl = url), `${url}/odata/v4/sales`),
    upstream: {
      handler: (req, res) => {
        const count = req.url?.includes('large') ? 3000 : 2;
        const body = Buffer.from(`${Array.from({ length: count }, (_, id) => part(`${upstreamUrl}/odata/v4/sales`, id)).join('')}--batch_1--\r\n`);
        const gzip = req.url?.includes('large');
        const sent = gzip ? gzipSync(body) : body;
        res.writeHead(200, { 'content-type': 'multipart/mixed; boundary=batch_1', 'content-length': sent.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
        res.end(sent);
      },
    },
  });
  const route = `${proxy.url}/api`;
  for (const [path, count] of [
    ['/api/$batch?small', 2],
    ['/api/$batch?large', 3000],
  ] as const) {
    const response = await request(`${proxy.url}${path}`, { method: 'POST', body: '--b--', headers: { 'content-type': 'multipart/mixed; boundary=b' } });
    const text = await response.body.text();
    t.equal(response.headers['content-type'], 'multipart/mixed; boundary=batch_1', `${path}: the boundary is the upstream's`);
    t.equal(text, `${Array.from({ length: count }, (_, id) => part(route, id)).join('')}--batch_1--\r\n`, `${path}: every part rewritten, its Content-Length the new one`);
    t.equal(response.headers['content-length'] !== undefined, count === 2, `${path}: ${count === 2 ? 'sent with its length' : 'streamed'}`);
  }
});

t.test('behind a reverse proxy: X-Forwarded-Host and -Proto make the links only when inbound.trustForwardedHeaders says so', async (t) => {
  for (const trustForwardedHeaders of [true, false]) {
    let upstreamUrl = '';
    const { proxy, upstream } = await startStack(t, {
      target: (url) => ((upstreamUrl = url), `${url}/odata/v4/sales`),
      inbound: { trustForwardedHeaders },
      upstream: {
        handler: (req, res) => {
          const body = JSON.stringify({ '@odata.nextLink': `${builtBase(req, upstreamUrl)}/Orders?$skiptoken=1` });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(body);
        },
      },
    });
    const own = `localhost:${new URL(proxy.url).port}`;
    const response = await request(`${proxy.url}/api/Orders`, { headers: { host: own, 'x-forwarded-host': 'bi.corp.example, inner.example', 'x-forwarded-proto': 'https' } });
    const route = trustForwardedHeaders ? 'https://bi.corp.example/api' : `http://${own}/api`;
    t.same(JSON.parse(await response.body.text()), { '@odata.nextLink': `${route}/Orders?$skiptoken=1` }, `trusted: ${trustForwardedHeaders}: the link points at ${route}`);
    const sent = upstream.requests[0]!.headers;
    t.same(
      [sent['x-forwarded-host'], sent['x-forwarded-proto']],
      trustForwardedHeaders ? ['bi.corp.example', 'https'] : [own, 'http'],
      'the upstream is told the same origin, never the list the caller sent',
    );
  }
});
