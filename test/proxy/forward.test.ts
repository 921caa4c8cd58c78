import { createServer, request as httpRequest } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { hashPassword } from '../../src/inbound/password.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startProxyTo, startStack } from '../helpers/stack.ts';

async function errorOf(response: Response) {
  return ((await response.json()) as { error: { code: string; message: string; route?: string; requestId: string } }).error;
}

t.test('the IdP refuses the client: 502 TOKEN_FETCH_FAILED naming its error, not the secret', async (t) => {
  const { upstream, proxy } = await startStack(t, { secret: 'the-wrong-client-secret-0042' });
  const response = await fetch(`${proxy.url}/api/People`);
  t.equal(response.status, 502);
  const error = await errorOf(response);
  t.equal(error.code, 'TOKEN_FETCH_FAILED');
  t.match(error.message, /invalid_client/);
  t.equal(upstream.requests.length, 0, 'nothing was sent upstream without a token');
  for (let i = 0; i < 10; i++) {
    const again = await fetch(`${proxy.url}/api/People`);
    t.equal((await errorOf(again)).code, 'TOKEN_FETCH_FAILED', `request ${i} refused the same way, at once`);
  }
  const failures = proxy.logs.filter((line) => line.msg === 'token fetch failed');
  t.equal(failures.length, 1, 'the refusal is logged once in its backoff step, not per request');
  t.match(failures[0], { tokenSource: 'idp', result: 'TOKEN_FETCH_FAILED', error: /invalid_client/ });
  t.notMatch(JSON.stringify(error) + proxy.logText(), 'the-wrong-client-secret-0042');
});

t.test('the IdP is unreachable: 503 TOKEN_UNAVAILABLE with Retry-After', async (t) => {
  const closed = createServer();
  const url = await listen(closed);
  await closeServer(closed);
  const proxy = await startProxy({
    tokens: { idp: { tokenUrl: `${url}/token`, clientId: 'c', clientSecret: 'unreachable-secret-77', allowInsecure: true } },
    routes: { '/api': { target: 'http://127.0.0.1:9', token: 'idp' } },
  });
  t.teardown(() => proxy.close());
  const response = await fetch(`${proxy.url}/api/x`);
  t.equal(response.status, 503);
  t.match(response.headers.get('retry-after'), /^\d+$/);
  t.equal((await errorOf(response)).code, 'TOKEN_UNAVAILABLE');
});

t.test('the upstream is unreachable: 502 UPSTREAM_UNREACHABLE', async (t) => {
  const closed = createServer();
  const url = await listen(closed);
  await closeServer(closed);
  const { proxy } = await startStack(t, { target: () => `${url}/base` });
  const response = await fetch(`${proxy.url}/api/x`);
  t.equal(response.status, 502);
  t.equal((await errorOf(response)).code, 'UPSTREAM_UNREACHABLE');
});

t.test('no response headers within the route timeout: 504 UPSTREAM_TIMEOUT', async (t) => {
  const { proxy } = await startStack(t, {
    route: { timeout: '300ms' },
    upstream: { handler: (_req, res) => void setTimeout(() => res.end('late'), 2_000).unref() },
  });
  const response = await fetch(`${proxy.url}/api/slow`);
  t.equal(response.status, 504);
  const error = await errorOf(response);
  t.equal(error.code, 'UPSTREAM_TIMEOUT');
  t.match(error.message, /0\.3s/);
});

t.test('a short route timeout is kept to the millisecond: 300 ms is not a second', async (t) => {
  // undici's own headers timeout ticks every half second: a 300 ms route timeout let this
  // answer through at 700 ms, and fired only at about 1 s for an upstream slower than that.
  const { proxy, upstream } = await startStack(t, {
    route: { timeout: '300ms' },
    upstream: { handler: (_req, res) => void setTimeout(() => res.end('late'), 700).unref() },
  });
  const response = await fetch(`${proxy.url}/api/slow`);
  t.equal(response.status, 504);
  t.equal((await errorOf(response)).code, 'UPSTREAM_TIMEOUT');
  t.equal(upstream.requests.length, 1, 'sent once: a timeout is not a reason to send again');
});

t.test('a client that disconnects aborts the upstream request', async (t) => {
  let upstreamClosed!: () => void;
  const closedUpstream = new Promise<void>((resolve) => (upstreamClosed = resolve));
  const { proxy } = await startStack(t, {
    upstream: {
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first part of a long answer');
        res.on('close', () => upstreamClosed());
      },
    },
  });
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(`${proxy.url}/api/stream`, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => undefined);
    req.on('timeout', reject);
    req.end();
  });
  await closedUpstream;
  t.pass('the upstream saw its connection close after the client left');
  const healthy = await fetch(`${proxy.url}/healthz`);
  t.equal(healthy.status, 200, 'and the proxy keeps serving');
});

t.test('a client that leaves before any answer is logged as 499, and the upstream request is aborted', async (t) => {
  let upstreamClosed!: () => void;
  const closedUpstream = new Promise<void>((resolve) => (upstreamClosed = resolve));
  const { proxy } = await startStack(t, { upstream: { handler: (_req, res) => void res.on('close', () => upstreamClosed()) } });
  const controller = new AbortController();
  const pending = fetch(`${proxy.url}/api/never`, { signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 300));
  controller.abort();
  await t.rejects(pending);
  await closedUpstream;
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.match(
    proxy.logs.find((line) => line.msg === 'request'),
    { status: 499, aborted: true, route: '/api' },
  );
});

t.test('a client that leaves while its password is checked is not forwarded: the upstream does no work nobody will read', async (t) => {
  // Slower than the default cost, so the client is surely gone before the check ends.
  const passwordHash = await hashPassword('gateway-pass', { N: 2 ** 16, r: 8, p: 1 });
  const { upstream, proxy } = await startStack(t, { inbound: { anonymous: 'none', users: [{ name: 'gw', passwordHash }] } });
  const { port } = new URL(proxy.url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.end(`GET /api/People HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic ${Buffer.from('gw:gateway-pass').toString('base64')}\r\n\r\n`);
  socket.destroy();
  let line: Record<string, unknown> | undefined;
  while (!(line = proxy.logs.find((entry) => entry.msg === 'request'))) await new Promise((resolve) => setTimeout(resolve, 20));
  t.match(line, { status: 499, aborted: true, route: '/api', user: 'gw' }, 'the credentials were good, and the client had left');
  t.notOk('upstreamStatus' in line, 'no upstream answer was waited for');
  t.equal(upstream.requests.length, 0, 'nothing was sent upstream');
  const again = await fetch(`${proxy.url}/api/People`, { headers: { authorization: `Basic ${Buffer.from('gw:gateway-pass').toString('base64')}` } });
  t.equal(again.status, 200, 'a client that stays is forwarded as before');
  t.equal(upstream.requests.length, 1);
});

t.test('an upstream that breaks off mid-body cuts the response, logged as UPSTREAM_UNREACHABLE', async (t) => {
  const { proxy } = await startStack(t, {
    upstream: {
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
        res.write('only part of it');
        setTimeout(() => res.socket?.destroy(), 20);
      },
    },
  });
  const response = await fetch(`${proxy.url}/api/broken`);
  t.equal(response.status, 200, 'headers were already on their way');
  await t.rejects(response.text(), 'the client sees the body cut off, not a clean end');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const access = proxy.logs.find((line) => line.msg === 'request');
  t.match(access?.error, { code: 'UPSTREAM_UNREACHABLE' });
  t.notOk(
    proxy.logs.some((line) => line.msg === 'unexpected failure'),
    'not reported as a bug',
  );
});

t.test('IdP down: the cached token keeps serving; once it expires, 503 with Retry-After and no hammering; IdP back: recovery', async (t) => {
  let now = Date.now();
  const clock = { now: () => now };
  let failedFast = 0;
  const { idp, proxy } = await startStack(t, { deps: { clock, onTokenDemand: (outcome) => void (outcome === 'failedFast' && failedFast++) } });
  t.equal((await fetch(`${proxy.url}/api/a`)).status, 200);
  await idp.stop();

  now += 250_000; // past the refresh-ahead point of a 300 s token, before its expiry
  for (let i = 0; i < 20; i++) t.equal((await fetch(`${proxy.url}/api/a`)).status, 200, `request ${i} served from the cache`);
  const refreshFailure = proxy.logs.filter((line) => line.msg === 'token refresh failed; the cached token stays in use');
  t.equal(refreshFailure.length, 1, 'the failed background refresh is logged once, not per request');
  t.match(refreshFailure[0], { level: 40, tokenSource: 'idp', result: 'TOKEN_UNAVAILABLE', ahead: true, failures: 1, error: /refused the connection/ });

  now += 60_000; // past its expiry
  const started = performance.now();
  const statuses = [];
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${proxy.url}/api/a`);
    statuses.push(response.status);
    t.match(response.headers.get('retry-after'), /^\d+$/);
    t.equal((await errorOf(response)).code, 'TOKEN_UNAVAILABLE');
  }
  t.ok(performance.now() - started < 5_000, 'answered without hanging');
  t.same(new Set(statuses), new Set([503]));
  const provider = proxy.proxy.tokenProviders.get('idp')!;
  t.ok(provider.stats.fetches <= 3, `the IdP was tried ${provider.stats.fetches} times for 40 requests, not once each`);
  t.ok(failedFast >= 18, 'the rest failed fast inside the backoff step');
  const failureLines = proxy.logs.filter((line) => typeof line.msg === 'string' && /^token (fetch|refresh) failed/.test(line.msg));
  t.equal(failureLines.length, provider.stats.fetchFailures, 'one log line per attempt, none per refused request');

  await idp.restart();
  now += 120_000; // past the longest backoff step so far
  t.equal((await fetch(`${proxy.url}/api/a`)).status, 200, 'recovered without a restart of the proxy');
  t.equal(provider.state().status, 'valid');
  t.match(proxy.logs.at(-2), { msg: 'token fetched', tokenSource: 'idp', result: 'ok', ahead: false });
});

t.test('tokens, secrets and passwords never appear in logs', async (t) => {
  const { idp, upstream, proxy } = await startStack(t, { upstream: { rejectTokens: (_claims, attempt) => attempt === 2 } });
  const basic = `Basic ${Buffer.from('someone:a-password-9911').toString('base64')}`;
  for (let i = 0; i < 5; i++) await (await fetch(`${proxy.url}/api/x?key=query-secret-55`, { headers: { authorization: basic } })).arrayBuffer();
  await (await fetch(`${proxy.url}/nope`)).arrayBuffer();
  const tokens = upstream.requests.map((request) => request.headers.authorization!.slice('Bearer '.length));
  const logs = proxy.logText();
  t.ok(proxy.logs.length >= 6, 'there are log lines to search');
  for (const secret of [idp.clients.post.clientSecret, ...tokens, 'a-password-9911', basic, 'query-secret-55']) {
    t.notOk(logs.includes(secret), `log free of ${secret.slice(0, 12)}…`);
  }
});

t.test('a route to the upstream’s root, asked for at its bare prefix, sends "/"', async (t) => {
  const { upstream, proxy } = await startStack(t); // the target is the upstream's root
  t.equal((await fetch(`${proxy.url}/api`)).status, 200);
  t.equal((await fetch(`${proxy.url}/api?x=1`)).status, 200);
  t.same(
    upstream.requests.map((request) => request.url),
    ['/', '/?x=1'],
  );
});

t.test('the route timeout bounds the wait for headers, not a pause inside the body', async (t) => {
  const { proxy } = await startStack(t, {
    route: { timeout: '300ms' },
    upstream: {
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first part, ');
        setTimeout(() => res.end('then the rest after a pause longer than the route timeout'), 700);
      },
    },
  });
  const response = await fetch(`${proxy.url}/api/export`);
  t.equal(response.status, 200);
  t.equal(await response.text(), 'first part, then the rest after a pause longer than the route timeout');
});

/**
 * A raw upstream that answers the first request on each connection and keeps it open, then
 * closes that connection, unanswered, when the next request arrives on it: what an upstream
 * that lets go of idle connections without saying when does to a request sent as it does.
 */
async function staleConnectionUpstream(t: Test, onEveryRequest: 'answer-first' | 'close-all' = 'answer-first') {
  const requests: Array<{ connection: number; line: string }> = [];
  let connections = 0;
  const server = createNetServer((socket) => {
    const connection = ++connections;
    let answered = 0;
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => {
      requests.push({ connection, line: data.toString('latin1').split('\r\n')[0]! });
      if (onEveryRequest === 'close-all' || answered++ > 0) return void socket.destroy();
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const { proxy } = await startProxyTo(t, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return { proxy, requests };
}

const accessLines = (proxy: { logs: Array<Record<string, unknown>> }) => proxy.logs.filter((line) => line.msg === 'request');

t.test('a GET on a kept-alive connection the upstream closes unanswered goes once more, on a new one', async (t) => {
  const { proxy, requests } = await staleConnectionUpstream(t);
  t.equal((await fetch(`${proxy.url}/api/first`)).status, 200);
  const second = await fetch(`${proxy.url}/api/second`);
  t.equal(second.status, 200, 'answered, not 502');
  t.equal(await second.text(), 'ok');
  t.same(
    requests.map((request) => [request.connection, request.line]),
    [
      [1, 'GET /first HTTP/1.1'],
      [1, 'GET /second HTTP/1.1'],
      [2, 'GET /second HTTP/1.1'],
    ],
    'the second request went again on a connection of its own',
  );
  t.match(accessLines(proxy).at(-1), { path: '/api/second', status: 200, resentAfterConnectionClosed: true }, 'and the access line says so');
  t.notOk(accessLines(proxy)[0]!.resentAfterConnectionClosed, 'the first did not go twice');
});

t.test('a POST is never sent twice: a connection closed before its answer is 502 UPSTREAM_UNREACHABLE', async (t) => {
  const { proxy, requests } = await staleConnectionUpstream(t);
  t.equal((await fetch(`${proxy.url}/api/first`)).status, 200);
  const post = await fetch(`${proxy.url}/api/orders`, { method: 'POST', body: '{"order":1}', headers: { 'content-type': 'application/json' } });
  t.equal(post.status, 502);
  t.equal((await errorOf(post)).code, 'UPSTREAM_UNREACHABLE');
  t.equal(requests.filter((request) => request.line.startsWith('POST')).length, 1, 'the upstream saw the POST once');
});

t.test('an upstream that closes every connection unanswered gets a GET twice, not more, then the client a 502', async (t) => {
  const { proxy, requests } = await staleConnectionUpstream(t, 'close-all');
  const response = await fetch(`${proxy.url}/api/x`);
  t.equal(response.status, 502);
  t.equal((await errorOf(response)).code, 'UPSTREAM_UNREACHABLE');
  t.equal(requests.length, 2, 'one resend');
});
