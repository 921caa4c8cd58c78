import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { BODY_IDLE_TIMEOUT_MS, REPLAY_BODY_LIMIT, REPLAY_BUDGET_BYTES, ReplayBuffers } from '../../src/proxy/request-body.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { startStack } from '../helpers/stack.ts';

/*
 * SECURITY.md: "bodies held for a replay after a `401` share a 32 MiB budget and are cut off
 * after 30 s without data". stalled-uploads.test.ts shows both defences work, but always with
 * small overrides; these tests hold the defaults to the numbers SECURITY.md states (read from
 * it, so a change to either side fails here) and show a proxy given no override uses them.
 */

const SECURITY = readFileSync(new URL('../../SECURITY.md', import.meta.url), 'utf8');
const MiB = 1024 * 1024;

function promised(pattern: RegExp): number {
  const found = pattern.exec(SECURITY)?.[1];
  if (found === undefined) throw new Error(`SECURITY.md no longer says ${pattern}: update this test with it`);
  return Number(found);
}

async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) return false;
    await sleep(20);
  }
  return true;
}

/** Starts an upload that announces `length` bytes, sends a few of them, and stalls. */
function stalledUpload(url: string, length: number): Socket {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname, () => {
    socket.write(`POST /api/upload HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`);
    socket.write(Buffer.alloc(1000, 'u'));
  });
  socket.on('error', () => undefined);
  return socket;
}

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

t.test('a proxy given no override holds stalled uploads up to 32 MiB, then streams the next one on', async (t) => {
  const arrived: string[] = [];
  const upstream = createServer((req, res) => {
    arrived.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const upstreamUrl = await listen(upstream);
  t.teardown(() => closeServer(upstream));
  // No requestBodies in deps: the budget is the default one.
  const { proxy } = await startStack(t, { target: () => upstreamUrl });
  const budget = promised(/share\s+a\s+(\d+)\s+MiB\s+budget/) * MiB;
  const held = budget / REPLAY_BODY_LIMIT;
  const uploads: Socket[] = [];
  t.teardown(() => uploads.forEach((socket) => socket.destroy()));
  const buffered = async () => sampleValue(parsePrometheusText(await (await fetch(`${proxy.url}/metrics`)).text()), 'bearer_proxy_replay_buffered_bytes', {});

  // Each announces the largest replayable body (1 MiB) and stalls; well within 30 s, none is cut off.
  for (let i = 0; i < held; i++) uploads.push(stalledUpload(proxy.url, REPLAY_BODY_LIMIT));
  t.ok(await eventually(async () => (await buffered()) === budget), `${held} stalled 1 MiB uploads are all held for replay (${budget / MiB} MiB)`);
  t.equal(arrived.length, 0, 'none of them reached the upstream: the budget had room for every one');

  uploads.push(stalledUpload(proxy.url, REPLAY_BODY_LIMIT));
  t.ok(await eventually(() => arrived.length === 1), 'the next one does not fit and streams on to the upstream at once');
  t.equal(await buffered(), budget, 'the budget stays full, not exceeded');
});
