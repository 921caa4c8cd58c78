import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { publicOrigin } from '../../src/proxy/public-origin.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { rawRequest } from '../helpers/raw-http.ts';

/** A real server answering with publicOrigin of each request; the requests go out as raw bytes, so Host can be anything. */
async function originServer(t: Test, trustForwardedHeaders: boolean): Promise<{ port: string; originOf: (headerLines: string[]) => Promise<unknown> }> {
  const server = createServer((req, res) => res.end(JSON.stringify(publicOrigin(req, trustForwardedHeaders))));
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return {
    port: new URL(url).port,
    originOf: async (headerLines) => JSON.parse((await rawRequest(url, ['GET /sales/ HTTP/1.1', ...headerLines, 'Connection: close', '', ''].join('\r\n'))).body),
  };
}

t.test('the Host header as the client wrote it, when it is a plain host[:port]', async (t) => {
  const { originOf } = await originServer(t, false);
  for (const host of ['localhost:8080', 'gateway.corp.example', '10.0.0.5:80', '[::1]:8080', '[fe80::1]']) {
    t.same(await originOf([`Host: ${host}`]), { proto: 'http', host }, host);
  }
});

t.test('a Host that could not go into a URL as it is falls back to the address the request came in on', async (t) => {
  const { port, originOf } = await originServer(t, false);
  for (const host of ['evil.example/path', 'a b', 'user@evil.example', 'host:port', '::1', 'example.com:123456']) {
    t.same(await originOf([`Host: ${host}`]), { proto: 'http', host: `127.0.0.1:${port}` }, JSON.stringify(host));
  }
});

t.test('X-Forwarded-Host and -Proto are ignored unless the operator trusts them', async (t) => {
  const { originOf } = await originServer(t, false);
  t.same(await originOf(['Host: localhost:8080', 'X-Forwarded-Host: evil.example', 'X-Forwarded-Proto: https']), { proto: 'http', host: 'localhost:8080' });
});

t.test('trusted forwarded headers: the outermost proxy (first entry) wins, and bad values fall back', async (t) => {
  const { originOf } = await originServer(t, true);
  t.same(
    await originOf(['Host: 10.0.0.5:8080', 'X-Forwarded-Host: bi.corp.example, inner.example', 'X-Forwarded-Proto: HTTPS, http']),
    { proto: 'https', host: 'bi.corp.example' },
    'first listed, proto case-insensitive',
  );
  t.same(
    await originOf(['Host: 10.0.0.5:8080', 'X-Forwarded-Host: evil.example/x', 'X-Forwarded-Proto: ftp']),
    { proto: 'http', host: '10.0.0.5:8080' },
    'an unusable host and an unknown proto are not taken',
  );
  t.same(await originOf(['Host: 10.0.0.5:8080']), { proto: 'http', host: '10.0.0.5:8080' }, 'without them, the Host header');
});
