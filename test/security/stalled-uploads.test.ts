import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { BODY_IDLE_TIMEOUT_MS, REPLAY_BODY_LIMIT, REPLAY_BUDGET_BYTES, ReplayBuffers } from '../../src/proxy/request-body.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { startStack } from '../helpers/stack.ts';
import { eventually } from '../helpers/wait.ts';

/*
 * Bodies read into memory so they can be replayed after an upstream 401 have a total
 * budget, and one that stalls is cut off. Before, each upload that announced up to 1 MB
 * and then stalled was held in memory until Node's 300 s request timeout: 150 connections
 * held 150 MB.
 */

const SECURITY = readFileSync(new URL('../../SECURITY.md', import.meta.url), 'utf8');
const MiB = 1024 * 1024;

function promised(pattern: RegExp): number {
  const found = pattern.exec(SECURITY)?.[1];
  if (found === undefined) throw new Error(`SECURITY.md no longer says ${pattern}: update this test with it`);
  return Number(found);
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

/** An upstream that takes whole bodies and counts the requests that reached it. */
async function countingUpstream(t: Test): Promise<{ url: string; arrived: string[] }> {
  const arrived: string[] = [];
  const upstream = createServer((req, res) => {
    arrived.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const url = await listen(upstream);
  t.teardown(() => closeServer(upstream));
  return { url, arrived };
}

const buffered = async (proxyUrl: string) => sampleValue(parsePrometheusText(await (await fetch(`${proxyUrl}/metrics`)).text()), 'bearer_proxy_replay_buffered_bytes', {});

t.test('past the replay budget, stalled uploads are not held: they stream to the upstream instead', async (t) => {
  const { url: upstreamUrl, arrived } = await countingUpstream(t);
  const budget = 2 * REPLAY_BODY_LIMIT + REPLAY_BODY_LIMIT / 2;
  const { proxy } = await startStack(t, { target: () => upstreamUrl, deps: { requestBodies: { replayBudgetBytes: budget, idleTimeoutMs: 20_000 } } });
  const uploads = Array.from({ length: 6 }, () => stalledUpload(proxy.url, REPLAY_BODY_LIMIT, 1000));
  t.teardown(() => uploads.forEach((upload) => upload.socket.destroy()));
  t.ok(await eventually(() => arrived.length === 4, 10_000), `the four that do not fit stream on to the upstream at once (${arrived.length} arrived)`);
  t.equal(await buffered(proxy.url), 2 * REPLAY_BODY_LIMIT, 'two are held for replay, within the budget');
  uploads.forEach((upload) => upload.socket.destroy());
  t.ok(await eventually(async () => (await buffered(proxy.url)) === 0, 10_000), 'when their clients leave, the budget is given back');
});

t.test('with no override, the budget is the default: 32 stalled 1 MiB uploads are held, the 33rd streams on', async (t) => {
  const { url: upstreamUrl, arrived } = await countingUpstream(t);
  const { proxy } = await startStack(t, { target: () => upstreamUrl });
  const held = REPLAY_BUDGET_BYTES / REPLAY_BODY_LIMIT;
  const uploads = Array.from({ length: held }, () => stalledUpload(proxy.url, REPLAY_BODY_LIMIT, 1000));
  t.teardown(() => uploads.forEach((upload) => upload.socket.destroy()));
  t.ok(await eventually(async () => (await buffered(proxy.url)) === REPLAY_BUDGET_BYTES, 10_000), `${held} stalled uploads are held for replay`);
  t.equal(arrived.length, 0, 'none reached the upstream: the budget had room for each');
  uploads.push(stalledUpload(proxy.url, REPLAY_BODY_LIMIT, 1000));
  t.ok(await eventually(() => arrived.length === 1, 10_000), 'the next one does not fit and streams on at once');
  t.equal(await buffered(proxy.url), REPLAY_BUDGET_BYTES, 'the budget stays full, not exceeded');
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

t.test('the default replay budget and body idle cut are the 32 MiB and 30 s SECURITY.md states', async (t) => {
  const budgetMiB = promised(/share\s+a\s+(\d+)\s+MiB\s+budget/);
  const idleSeconds = promised(/cut\s+off\s+after\s+(\d+)\s+s\s+without\s+data/);
  t.equal(REPLAY_BUDGET_BYTES, budgetMiB * MiB, `REPLAY_BUDGET_BYTES is ${budgetMiB} MiB`);
  t.equal(BODY_IDLE_TIMEOUT_MS, idleSeconds * 1000, `BODY_IDLE_TIMEOUT_MS is ${idleSeconds} s`);
  // createProxyServer builds `new ReplayBuffers(deps.requestBodies?.replayBudgetBytes, deps.requestBodies?.idleTimeoutMs)`
  // (src/proxy/server.ts): without an override both are undefined, so these defaults apply. The idle cut is a plain
  // setTimeout (no injectable clock), so it is not waited out through a server here; the budget is, below.
  const defaults = new ReplayBuffers();
  t.equal(defaults.totalBytes, budgetMiB * MiB, 'ReplayBuffers without arguments uses the budget');
  t.equal(defaults.idleTimeoutMs, idleSeconds * 1000, 'and the idle cut');
});
