import { once } from 'node:events';
import { connect } from 'node:net';
import t from 'tap';
import { rawRequest } from '../helpers/raw-http.ts';
import { startStack } from '../helpers/stack.ts';

// Requests Node's HTTP parser refuses never reach the proxy's handler; they still get the
// proxy's JSON error, with a stable code, and the upstream never sees them.

t.test('requests the HTTP parser refuses get a JSON error with a code, not a bare status line', async (t) => {
  const { upstream, proxy } = await startStack(t);
  const host = new URL(proxy.url).host;
  const cases: Array<[string, string, number, string]> = [
    ['garbage request line', `GET\u0000/api/x HTP/9\r\nHost: ${host}\r\n\r\n`, 400, 'BAD_REQUEST'],
    ['Content-Length with Transfer-Encoding', `POST /api/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\nabcd`, 400, 'BAD_REQUEST'],
    ['a bare CR in a header', `GET /api/x HTTP/1.1\r\nHost: ${host}\r\nX-A: b\rX-B: 1\r\n\r\n`, 400, 'BAD_REQUEST'],
    ['oversized headers', `GET /api/x HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['CONNECT', `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`, 400, 'BAD_REQUEST'],
  ];
  for (const [name, bytes, status, code] of cases) {
    const response = await rawRequest(proxy.url, bytes);
    t.equal(response.status, status, `${name}: ${status}`);
    t.match(response.headers['content-type'], /^application\/json/, `${name}: JSON`);
    t.equal(response.headers.connection, 'close', `${name}: the connection closes`);
    const body = JSON.parse(response.body) as { error: { code: string; message: string; requestId: string } };
    t.equal(body.error.code, code, `${name}: ${code}`);
    t.equal(body.error.requestId, response.headers['x-request-id'], `${name}: the request id in body and header`);
    // eslint-disable-next-line no-control-regex -- the NUL the request carried must not come back
    t.notMatch(body.error.message, /aaaa|\u0000/, `${name}: the message does not echo the request`);
  }
  const head = await rawRequest(proxy.url, `HEAD /api/x HTTP/1.1\u0000\r\nHost: ${host}\r\n\r\n`);
  t.equal(head.status, 400, 'a malformed HEAD request');
  t.equal(head.body, '', 'gets no body, which its client would take for another response');
  t.same(upstream.requests, [], 'the upstream saw none of them');
  t.equal(proxy.logs.filter((line) => line.msg === 'request refused before it was parsed').length, cases.length + 1, 'each is logged once');
  t.equal((await fetch(`${proxy.url}/api/x`)).status, 200, 'the proxy keeps serving');
});

t.test('on a keep-alive connection, garbage after a complete response gets its own error', async (t) => {
  const { proxy } = await startStack(t);
  const { hostname, port, host } = new URL(proxy.url);
  const socket = connect(Number(port), hostname);
  t.teardown(() => socket.destroy());
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  while (!/\r\n\r\n[\s\S]*\}$/.test(received)) await once(socket, 'data');
  t.match(received, /^HTTP\/1\.1 200 /, 'the first request was answered');
  const first = received.length;
  socket.write('GET\u0000 nonsense\r\n\r\n');
  await once(socket, 'close');
  t.match(received.slice(first), /^HTTP\/1\.1 400 Bad Request[\s\S]*"code":"BAD_REQUEST"/, 'then a 400 for the garbage, and the connection closes');
});
