import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { REPLAY_BODY_LIMIT } from '../../src/proxy/request-body.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { startStack } from '../helpers/stack.ts';

/*
 * Bodies read into memory so they can be replayed after an upstream 401 have a total
 * budget, and one that stalls is cut off. Before, each upload that announced up to 1 MB
 * and then stalled was held in memory until Node's 300 s request timeout: 150 connections
 * held 150 MB.
 */

async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) return false;
    await sleep(20);
  }
  return true;
}

/** Starts an upload that announces `length` bytes, sends `sent` of them, and stalls; collects what comes back. */
function stalledUpload(url: string, length: number, sent: number): { socket: Socket; received: () => string; closed: () => boolean } {
  const { hostname, port } = new URL(url);
  let received = '';
  let closed = false;
  const socket = connect(Number(port), hostname, () => {
    socket.write(`POST /api/upload HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`);
    socket.write(Buffer.alloc(sent, 'u'));
  });
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  return { socket, received: () => received, closed: () => closed };
}

t.test('past the replay budget, stalled uploads are not held: they stream to the upstream instead', async (t) => {
  const arrived: string[] = [];
  const upstream = createServer((req, res) => {
    arrived.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const upstreamUrl = await listen(upstream);
  t.teardown(() => closeServer(upstream));
  const budget = 2 * REPLAY_BODY_LIMIT + REPLAY_BODY_LIMIT / 2;
  const { proxy } = await startStack(t, { target: () => upstreamUrl, deps: { requestBodies: { replayBudgetBytes: budget, idleTimeoutMs: 20_000 } } });
  const uploads = Array.from({ length: 6 }, () => stalledUpload(proxy.url, REPLAY_BODY_LIMIT, 1000));
  t.teardown(() => uploads.forEach((upload) => upload.socket.destroy()));
  t.ok(await eventually(() => arrived.length === 4), `the four that do not fit stream on to the upstream at once (${arrived.length} arrived)`);
  const buffered = async () => sampleValue(parsePrometheusText(await (await fetch(`${proxy.url}/metrics`)).text()), 'bearer_proxy_replay_buffered_bytes', {});
  t.equal(await buffered(), 2 * REPLAY_BODY_LIMIT, 'two are held for replay, within the budget');
  uploads.forEach((upload) => upload.socket.destroy());
  t.ok(await eventually(async () => (await buffered()) === 0), 'when their clients leave, the budget is given back');
});

t.test('a body held for replay that stalls is answered 408 and its connection closed; the budget is given back', async (t) => {
  const { proxy, upstream } = await startStack(t, { deps: { requestBodies: { idleTimeoutMs: 300 } }, upstream: { rejectTokens: (_claims, attempt) => attempt === 1 } });
  const upload = stalledUpload(proxy.url, 100_000, 5_000);
  t.ok(await eventually(() => upload.closed(), 10_000), 'the proxy closed the stalled connection');
  t.match(upload.received(), /^HTTP\/1\.1 408 /, 'after answering 408');
  t.match(upload.received(), /"code":"REQUEST_TIMEOUT"/);
  t.match(upload.received(), /\r\nconnection: close\r\n/i);
  t.equal(upstream.requests.length, 0, 'nothing was forwarded');
  const metrics = parsePrometheusText(await (await fetch(`${proxy.url}/metrics`)).text());
  t.equal(sampleValue(metrics, 'bearer_proxy_replay_buffered_bytes', {}), 0);
  // A body that keeps arriving is still held, and replayed after a 401.
  const body = Buffer.alloc(100_000, 'b');
  const response = await fetch(`${proxy.url}/api/upload`, { method: 'POST', body });
  t.equal(response.status, 200, 'a whole body is replayed after the upstream’s 401');
  t.same(
    upstream.requests.map((request) => request.body.length),
    [100_000, 100_000],
  );
});
