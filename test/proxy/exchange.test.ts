import { createServer, type RequestListener } from 'node:http';
import t, { type Test } from 'tap';
import { Agent } from 'undici';
import { exchange, type BodySink, type ExchangeControl } from '../../src/proxy/exchange.ts';
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
