import { createServer } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { readBody } from '../../src/demo/http-util.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { rawRequest } from '../helpers/raw-http.ts';

const LIMIT = 64;

/**
 * A server that reads each body with readBody and answers what it got: 200 and the text,
 * or 413 as the demo issuer does; `outcomes` settles with each read's result or error.
 */
async function bodyServer(t: Test, limit = LIMIT): Promise<{ url: string; outcomes: Array<Promise<string | undefined>> }> {
  const outcomes: Array<Promise<string | undefined>> = [];
  const server = createServer((req, res) => {
    const read = readBody(req, limit);
    outcomes.push(read);
    read.then(
      (body) => (body === undefined ? res.writeHead(413, { connection: 'close' }).end('too large') : res.end(`got ${Buffer.byteLength(body)} bytes: ${body}`)),
      () => res.destroy(),
    );
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return { url, outcomes };
}

const post = (url: string, body: string) => fetch(url, { method: 'POST', body }).then(async (response) => ({ status: response.status, text: await response.text() }));

t.test('a body under or at the limit is read whole; one byte over is refused, and the caller can still answer', async (t) => {
  const { url } = await bodyServer(t);
  t.same(await post(url, ''), { status: 200, text: 'got 0 bytes: ' }, 'an empty body is empty text');
  t.same(await post(url, 'grant_type=client_credentials'), { status: 200, text: 'got 29 bytes: grant_type=client_credentials' });
  t.same(await post(url, 'x'.repeat(LIMIT)), { status: 200, text: `got ${LIMIT} bytes: ${'x'.repeat(LIMIT)}` }, 'exactly at the limit');
  t.same(await post(url, 'x'.repeat(LIMIT + 1)), { status: 413, text: 'too large' }, 'one byte over: the 413 reaches the client');
  const answer = await rawRequest(url, `GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  t.equal(answer.body, 'got 0 bytes: ', 'a request without a body reads as empty');
});

t.test('the limit is in bytes: multi-byte characters count for what they weigh', async (t) => {
  const { url } = await bodyServer(t);
  const accented = '\u00e9'.repeat(LIMIT / 2);
  t.same(await post(url, accented), { status: 200, text: `got ${LIMIT} bytes: ${accented}` }, `${LIMIT / 2} two-byte characters fit`);
  t.equal((await post(url, `${accented}a`)).status, 413, 'one byte more does not, though it is far fewer characters');
});

t.test('a body sent in many pieces is put together, characters split between pieces included', async (t) => {
  const { url } = await bodyServer(t);
  const { hostname, port } = new URL(url);
  // Chunked, with a pause between pieces, so the server reads each on its own.
  const send = async (pieces: Buffer[]) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
    for (const piece of pieces) {
      socket.write(`${piece.length.toString(16)}\r\n`);
      socket.write(Buffer.concat([piece, Buffer.from('\r\n')]));
      await sleep(15);
    }
    socket.write('0\r\n\r\n');
    await closed;
    return received.slice(received.indexOf('\r\n\r\n') + 4);
  };
  const euro = Buffer.from('\u20ac'); // three bytes
  const pieces = [Buffer.from('price='), euro.subarray(0, 1), euro.subarray(1), Buffer.from('5&currency=EUR')];
  t.match(await send(pieces), /got 23 bytes: price=\u20ac5&currency=EUR/, 'the euro sign split across two pieces is whole');
  const over = await send(Array.from({ length: 5 }, () => Buffer.from('x'.repeat(16))));
  t.match(over, /too large/, 'five pieces of 16 bytes pass 64 in the last one');
  t.notMatch(over, /got/);
});

t.test('a client that goes away mid-body makes the read fail, rather than wait for the rest', async (t) => {
  const { url, outcomes } = await bodyServer(t, 1024);
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname, () => socket.write('POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nonly the start'));
  socket.on('error', () => undefined);
  while (outcomes.length === 0) await sleep(5);
  socket.destroy();
  const settled = await Promise.race([
    outcomes[0]!.then(
      (body) => `read ${String(body)}`,
      (error: Error) => `failed: ${error.message}`,
    ),
    sleep(5000, 'still waiting', { ref: false }),
  ]);
  t.match(settled, /^failed: /, 'the read failed at once');
});
