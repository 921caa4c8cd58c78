import { createServer, type RequestListener } from 'node:http';
import t, { type Test } from 'tap';
import { Agent } from 'undici';
import { ConnectionLimit, ConnectionWaitTimeout } from '../../src/http/connection-limit.ts';
import { exchange, HeadersTimeout, type BodySink, type ExchangeControl, type SinkFactory } from '../../src/proxy/exchange.ts';
import { closeServer, listen } from '../helpers/listen.ts';

/** A sink that records what it was given; `paused` makes it refuse chunks until the test resumes. */
class RecordingSink implements BodySink {
  chunks: Buffer[] = [];
  ended = false;
  failed: Error | undefined;
  constructor(
    readonly statusCode: number,
    readonly control: ExchangeControl,
    private readonly paused = false,
  ) {}
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return !this.paused;
  }
  end(): void {
    this.ended = true;
  }
  fail(error: Error): void {
    this.failed = error;
  }
}

async function upstream(t: Test, handler: RequestListener) {
  const server = createServer(handler);
  const url = new URL(await listen(server));
  const agent = new Agent();
  t.teardown(() => Promise.all([agent.close(), closeServer(server)]));
  return { agent, origin: url.origin };
}

t.test('the head picks the sink, the body flows into it, and the exchange settles at its end', async (t) => {
  const { agent, origin } = await upstream(t, (_req, res) => {
    res.writeHead(200, { 'x-one': '1', 'content-type': 'text/plain' });
    res.end('hello');
  });
  let seenHeaders: string[] = [];
  const done = await exchange(agent, { origin, path: '/', method: 'GET' }, (statusCode, rawHeaders, control) => {
    seenHeaders = rawHeaders.map((buffer) => buffer.toString('latin1'));
    return new RecordingSink(statusCode, control);
  }).done;
  t.equal(done.statusCode, 200);
  t.ok(done.headersSeconds >= 0);
  t.match(seenHeaders, ['x-one', '1', 'content-type', 'text/plain'], 'raw headers, as sent');
  t.equal(Buffer.concat(done.sink.chunks).toString(), 'hello');
  t.same([done.sink.ended, done.sink.failed, done.bodyError], [true, undefined, undefined]);
});

t.test('a sink that refuses a chunk pauses the upstream until it resumes it', async (t) => {
  const { agent, origin } = await upstream(t, (_req, res) => {
    res.writeHead(200);
    res.write('first');
    setTimeout(() => res.end('second'), 50);
  });
  let sink: RecordingSink | undefined;
  const running = exchange(agent, { origin, path: '/', method: 'GET' }, (statusCode, _raw, control) => (sink = new RecordingSink(statusCode, control, true)));
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(Buffer.concat(sink!.chunks).toString(), 'first', 'nothing more while paused');
  t.notOk(sink!.ended);
  (sink as unknown as { paused: boolean }).paused = false;
  sink!.control.resume();
  const done = await running.done;
  t.equal(Buffer.concat(done.sink.chunks).toString(), 'firstsecond');
});

t.test('a sink that pauses on every chunk and drains at once gets the body, and never an empty chunk', async (t) => {
  // The multipart rewriter's object-mode Duplex does this: every write is "full", its drain comes on the next tick.
  const { agent, origin } = await upstream(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 11 });
    res.write('first');
    setTimeout(() => res.end('second'), 50);
  });
  const done = await exchange(agent, { origin, path: '/', method: 'GET' }, (statusCode, _raw, control) => {
    const sink = new RecordingSink(statusCode, control, true);
    const write = sink.write.bind(sink);
    sink.write = (chunk) => (setImmediate(() => control.resume()), write(chunk));
    return sink;
  }).done;
  t.equal(Buffer.concat(done.sink.chunks).toString(), 'firstsecond');
  // undici flushes its parser with an empty chunk on each resume; passed on, it paused the upstream again, forever.
  t.same(
    done.sink.chunks.map((chunk) => chunk.length),
    [5, 6],
    'two chunks, none empty',
  );
});

t.test('1xx heads are skipped; the final head picks the sink', async (t) => {
  const { agent, origin } = await upstream(t, (_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload' });
    res.writeHead(204).end();
  });
  const statuses: number[] = [];
  const done = await exchange(agent, { origin, path: '/', method: 'GET' }, (statusCode, _raw, control) => (statuses.push(statusCode), new RecordingSink(statusCode, control))).done;
  t.same(statuses, [204]);
  t.equal(done.statusCode, 204);
});

t.test('no head: the exchange rejects with undici’s error; the sink is never made', async (t) => {
  const agent = new Agent();
  t.teardown(() => agent.close());
  let made = false;
  const failing = exchange(agent, { origin: 'http://127.0.0.1:9', path: '/', method: 'GET' }, (statusCode, _raw, control) => ((made = true), new RecordingSink(statusCode, control)));
  await t.rejects(failing.done, { code: 'ECONNREFUSED' });
  t.notOk(made);
});

t.test('describeFailure: a request that got no head rejects with what it makes of the error, aborted or unreachable', async (t) => {
  const agent = new Agent();
  t.teardown(() => agent.close());
  const describe = (error: Error) => Object.assign(new Error(`described: ${error.message}`), { original: error });
  const sinkFor: SinkFactory<RecordingSink> = (statusCode, _raw, control) => new RecordingSink(statusCode, control);
  const refused = exchange(agent, { origin: 'http://127.0.0.1:9', path: '/', method: 'GET' }, sinkFor, undefined, describe);
  await t.rejects(refused.done, { message: /^described: /, original: { code: 'ECONNREFUSED' } }, 'a connect failure');
  const aborted = exchange(agent, { origin: 'http://127.0.0.1:9', path: '/', method: 'GET' }, sinkFor, undefined, describe);
  aborted.abort(new Error('client left'));
  await t.rejects(aborted.done, { message: 'described: client left' }, 'an abort before any connection');
});

t.test('a body that breaks off after the head: the sink is told, and the exchange settles with the error', async (t) => {
  const { agent, origin } = await upstream(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('part');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const done = await exchange(agent, { origin, path: '/', method: 'GET' }, (statusCode, _raw, control) => new RecordingSink(statusCode, control)).done;
  t.ok(done.bodyError, 'the body error is reported');
  t.equal(done.sink.failed, done.bodyError, 'and the sink was given it');
  t.notOk(done.sink.ended);
});

t.test('abort: before the request is connected, it never reaches the upstream; mid-body, it stops it', async (t) => {
  let arrived = 0;
  const { agent, origin } = await upstream(t, (_req, res) => {
    arrived++;
    res.writeHead(200);
    res.write('start');
  });
  const early = exchange(agent, { origin, path: '/', method: 'GET' }, (statusCode, _raw, control) => new RecordingSink(statusCode, control));
  early.abort(new Error('client left'));
  await t.rejects(early.done, { message: 'client left' });

  const late = exchange(agent, { origin, path: '/', method: 'GET' }, (statusCode, _raw, control) => {
    const sink = new RecordingSink(statusCode, control);
    setTimeout(() => control.abort(new Error('enough')), 20);
    return sink;
  });
  const done = await late.done;
  t.match(done.bodyError, { message: 'enough' });
  t.equal(arrived, 1, 'only the second request reached the upstream');
});

t.test('every connection busy: a request waits at most its timeout, is then never sent, and its place is given back', async (t) => {
  const arrived: string[] = [];
  let answerFirst!: () => void;
  const firstHeld = new Promise<void>((resolve) => (answerFirst = resolve));
  const { origin } = await upstream(t, (req, res) => {
    arrived.push(req.url!);
    void firstHeld.then(() => res.end('done'));
  });
  const agent = new Agent({ connections: 1 });
  t.teardown(() => agent.close());
  const limit = new ConnectionLimit(origin, 1);
  let waits = 0;
  const wait = (timeoutMs: number) => ({ limit, timeoutMs, keepsHeadersTimeout: false, waited: () => void waits++ });
  const sinkFor = (statusCode: number, _raw: Buffer[], control: ExchangeControl) => new RecordingSink(statusCode, control);
  const first = exchange(agent, { origin, path: '/first', method: 'GET' }, sinkFor, wait(5_000));
  const second = exchange(agent, { origin, path: '/second', method: 'GET' }, sinkFor, wait(100));
  const third = exchange(agent, { origin, path: '/third', method: 'GET' }, sinkFor, wait(5_000));
  t.equal(limit.inFlight, 3);
  t.equal(waits, 2, 'the two behind the first were told they wait');
  const waited = await t.rejects(second.done, ConnectionWaitTimeout);
  t.match(waited, { maxConnections: 1, waitedMs: 100 });
  third.abort(new Error('client left'));
  await t.rejects(third.done, { message: 'client left' }, 'a waiting request whose client left settles at once, not when a connection frees');
  t.same(arrived, ['/first'], 'neither reached the upstream while the first held the connection');
  answerFirst();
  t.equal((await first.done).statusCode, 200);
  // The pool hands its connection to the given-up requests in turn, and each stops before it is written.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(arrived, ['/first'], 'nor after the connection was free');
  t.equal(limit.inFlight, 0, 'every request gave its place back');
});

t.test('a free connection: no wait, whatever the timeout', async (t) => {
  const { agent, origin } = await upstream(t, (_req, res) => void setTimeout(() => res.end('slow but sent'), 150));
  const limit = new ConnectionLimit(origin, 2);
  let waits = 0;
  const done = await exchange(agent, { origin, path: '/', method: 'GET' }, (statusCode, _raw, control) => new RecordingSink(statusCode, control), {
    limit,
    timeoutMs: 50,
    keepsHeadersTimeout: false,
    waited: () => void waits++,
  }).done;
  t.equal(Buffer.concat(done.sink.chunks).toString(), 'slow but sent', 'the wait timeout covers only waiting for a connection, not the answer');
  t.equal(limit.inFlight, 0);
  t.equal(waits, 0, 'nor is it counted as a wait');
});

t.test('a headers timeout the exchange keeps: from the moment the request is sent, to the head, not through the body', async (t) => {
  let answered = 0;
  const { agent, origin } = await upstream(t, (req, res) => {
    answered++;
    if (req.url === '/late') return void setTimeout(() => res.end('late'), 600).unref();
    // The head at once, the rest of the body after a pause longer than the timeout.
    res.writeHead(200);
    res.write('head now, ');
    setTimeout(() => res.end('body later'), 300);
  });
  const limit = new ConnectionLimit(origin, 4);
  const kept = { limit, timeoutMs: 150, keepsHeadersTimeout: true, waited: () => undefined };
  const sinkFor = (statusCode: number, _raw: Buffer[], control: ExchangeControl) => new RecordingSink(statusCode, control);
  const late = await t.rejects(exchange(agent, { origin, path: '/late', method: 'GET' }, sinkFor, kept).done, HeadersTimeout);
  t.match(late, { code: 'UND_ERR_HEADERS_TIMEOUT', timeoutMs: 150 }, 'read as undici’s own headers timeout');
  const done = await exchange(agent, { origin, path: '/export', method: 'GET' }, sinkFor, kept).done;
  t.equal(Buffer.concat(done.sink.chunks).toString(), 'head now, body later', 'the timer stopped at the head');
  t.equal(limit.inFlight, 0);
  t.equal(answered, 2);
});

t.test('a kept headers timeout starts once a connection is free, not while the request waits for one', async (t) => {
  const { origin } = await upstream(t, (req, res) => void setTimeout(() => res.end(req.url), 120));
  const agent = new Agent({ connections: 1 });
  t.teardown(() => agent.close());
  const limit = new ConnectionLimit(origin, 1);
  const kept = { limit, timeoutMs: 200, keepsHeadersTimeout: true, waited: () => undefined };
  const sinkFor = (statusCode: number, _raw: Buffer[], control: ExchangeControl) => new RecordingSink(statusCode, control);
  // Each answer takes 120 ms; the second waits 120 ms for the connection, then 120 more for its answer.
  const [first, second] = await Promise.all([
    exchange(agent, { origin, path: '/first', method: 'GET' }, sinkFor, kept).done,
    exchange(agent, { origin, path: '/second', method: 'GET' }, sinkFor, kept).done,
  ]);
  t.same([first.statusCode, second.statusCode, Buffer.concat(second.sink.chunks).toString()], [200, 200, '/second']);
});
