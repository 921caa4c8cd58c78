import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { ProxyError, sendError } from '../../src/errors.ts';
import { hasNoBody, REPLAY_BODY_LIMIT, ReplayBuffers, type ReadBody } from '../../src/proxy/request-body.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { eventually } from '../helpers/wait.ts';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/**
 * A server that reads each body as forward.ts does and answers what it got: "none", "held N
 * <hash> inUse=M" (the budget in use while the body is held), or "streamed N"; a ProxyError
 * is sent as the proxy sends it. `reads` holds each read's promise, to see how it settled.
 */
async function bodyServer(t: Test, buffers: ReplayBuffers, options: { releaseTwice?: boolean } = {}): Promise<{ url: string; reads: Array<Promise<ReadBody>> }> {
  const reads: Array<Promise<ReadBody>> = [];
  const answer = async (req: IncomingMessage, res: ServerResponse, { body, release }: ReadBody): Promise<void> => {
    try {
      if (body === null) res.end(`none noBody=${hasNoBody(req)}`);
      else if (Buffer.isBuffer(body)) res.end(`held ${body.length} ${sha(body)} inUse=${buffers.inUse}`);
      else {
        t.equal(body, req, 'a body that is not held is the request stream itself');
        let length = 0;
        for await (const chunk of body) length += (chunk as Buffer).length;
        res.end(`streamed ${length} inUse=${buffers.inUse}`);
      }
    } finally {
      release();
      if (options.releaseTwice) release();
    }
  };
  const server = createServer((req, res) => {
    const read = buffers.read(req, res);
    reads.push(read);
    read.then(
      (got) => answer(req, res, got),
      (error: unknown) => (error instanceof ProxyError ? sendError(res, error, { requestId: 'req-1' }) : res.destroy()),
    );
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return { url, reads };
}

/** A raw connection that sends a request head and `sent` bytes of the body, then what the test writes; collects the answer. */
function upload(url: string, head: string, sent: Buffer | string = ''): { socket: Socket; received: () => string; closed: Promise<void> } {
  const { hostname, port } = new URL(url);
  let received = '';
  const socket = connect(Number(port), hostname, () => socket.write(Buffer.concat([Buffer.from(`${head}\r\n\r\n`), Buffer.from(sent)])));
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => received, closed };
}

const post = async (url: string, init: RequestInit = {}) => (await fetch(url, { method: 'POST', ...init })).text();

t.test('no framing header, or a Content-Length of 0, is no body: nothing is read or held', async (t) => {
  const buffers = new ReplayBuffers();
  const { url } = await bodyServer(t, buffers);
  t.equal(await (await fetch(url)).text(), 'none noBody=true', 'a GET');
  t.equal(await post(url), 'none noBody=false', 'a POST that says Content-Length: 0');
  t.equal(await post(url, { body: '' }), 'none noBody=false', 'an empty body');
  t.equal(buffers.inUse, 0);
});

t.test('a body of known length up to 1 MiB is held whole, counted against the budget until it is released', async (t) => {
  const buffers = new ReplayBuffers();
  const { url } = await bodyServer(t, buffers);
  // Every byte value, so nothing is decoded or changed on the way.
  const body = Buffer.alloc(
    REPLAY_BODY_LIMIT,
    Uint8Array.from({ length: 256 }, (_, i) => i),
  );
  t.equal(await post(url, { body }), `held ${REPLAY_BODY_LIMIT} ${sha(body)} inUse=${REPLAY_BODY_LIMIT}`, 'exactly 1 MiB, in many socket reads');
  t.equal(buffers.inUse, 0, 'given back once released');
  t.equal(await post(url, { body: '{"a":1}' }), `held 7 ${sha(Buffer.from('{"a":1}'))} inUse=7`);
});

t.test('releasing twice gives the bytes back once', async (t) => {
  const buffers = new ReplayBuffers();
  const { url } = await bodyServer(t, buffers, { releaseTwice: true });
  await post(url, { body: 'x'.repeat(1000) });
  await post(url, { body: 'y'.repeat(10) });
  t.equal(buffers.inUse, 0, 'not -1010: a second release does not free what others hold');
});

t.test('a body over 1 MiB, or one sent chunked, streams through without being held', async (t) => {
  const buffers = new ReplayBuffers();
  const { url } = await bodyServer(t, buffers);
  t.equal(await post(url, { body: Buffer.alloc(REPLAY_BODY_LIMIT + 1, 'o') }), `streamed ${REPLAY_BODY_LIMIT + 1} inUse=0`, 'one byte over 1 MiB');
  const chunked = upload(url, 'POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close', '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  await chunked.closed;
  t.match(chunked.received(), /\r\n\r\nstreamed 11 inUse=0$/, 'chunked: its length is not known ahead');
});

t.test('bodies that do not fit what is left of the budget stream through; the budget is never exceeded', async (t) => {
  const buffers = new ReplayBuffers(1000);
  const { url, reads } = await bodyServer(t, buffers);
  const slow = upload(url, 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 600\r\nConnection: close', 'a'.repeat(100));
  t.teardown(() => slow.socket.destroy());
  t.ok(await eventually(() => buffers.inUse === 600), 'the first 600 are reserved while they arrive');
  t.equal(await post(url, { body: 'b'.repeat(600) }), 'streamed 600 inUse=600', 'the next 600 do not fit');
  t.equal(await post(url, { body: 'c'.repeat(400) }), `held 400 ${sha(Buffer.from('c'.repeat(400)))} inUse=1000`, '400 still fit, exactly');
  slow.socket.write('a'.repeat(500));
  await slow.closed;
  t.match(slow.received(), /held 600 [0-9a-f]+ inUse=600$/);
  t.equal(reads.length, 3);
  t.equal(buffers.inUse, 0);
});

t.test('a held body that stops arriving is answered 408, its connection closed, and its bytes given back', async (t) => {
  const buffers = new ReplayBuffers(undefined, 150);
  const { url, reads } = await bodyServer(t, buffers);
  const started = performance.now();
  const stalled = upload(url, 'POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000', 'x'.repeat(100));
  t.teardown(() => stalled.socket.destroy());
  const closedInTime = await Promise.race([stalled.closed.then(() => true), sleep(5000, false, { ref: false })]);
  t.ok(closedInTime, 'the proxy closed the connection');
  t.ok(performance.now() - started >= 140, 'not before the idle time passed');
  const answer = stalled.received();
  t.match(answer, /^HTTP\/1\.1 408 /);
  t.match(answer, /\r\nconnection: close\r\n/i, 'the rest of the body is never read: the connection cannot be reused');
  t.match(answer, '{"error":{"code":"REQUEST_TIMEOUT","message":"The request body stopped arriving (nothing for 0.15s).","requestId":"req-1"}}');
  t.notMatch(answer, 'xxxx', 'the body is not echoed');
  await t.rejects(reads[0]!, { code: 'REQUEST_TIMEOUT', status: 408 });
  t.equal(buffers.inUse, 0);
});

t.test('a body that keeps arriving, however slowly, is not cut off: each piece restarts the idle time', async (t) => {
  const buffers = new ReplayBuffers(undefined, 200);
  const { url } = await bodyServer(t, buffers);
  const trickle = upload(url, 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8\r\nConnection: close');
  for (const piece of 'abcdefgh') {
    await sleep(60);
    trickle.socket.write(piece);
  }
  await trickle.closed;
  t.match(trickle.received(), new RegExp(`^HTTP/1\\.1 200 [\\s\\S]*held 8 ${sha(Buffer.from('abcdefgh'))} inUse=8$`), '480 ms in all, never 200 ms without data');
});

t.test('a client that leaves mid-body: the read fails as an abort, and its bytes are given back', async (t) => {
  const buffers = new ReplayBuffers();
  const { url, reads } = await bodyServer(t, buffers);
  const leaving = upload(url, 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000', 'x'.repeat(5000));
  t.ok(await eventually(() => buffers.inUse === 100_000), 'held while it arrives');
  leaving.socket.destroy();
  const outcome = await Promise.race([
    reads[0]!.then(
      () => 'read',
      (error: Error) => error,
    ),
    sleep(5000, 'still waiting', { ref: false }),
  ]);
  t.type(outcome, Error, 'the read failed at once');
  // Not a ProxyError: there is no one left to answer, and the handler answers only those once the response is gone.
  t.notOk(outcome instanceof ProxyError, 'nothing to send');
  // Node reports the abort as an "aborted" ECONNRESET error before the close; either way it is the client's leaving.
  t.ok((outcome as Error).name === 'AbortError' || (outcome as NodeJS.ErrnoException).code === 'ECONNRESET', `the client's leaving (${String(outcome)})`);
  t.equal(buffers.inUse, 0);
});
