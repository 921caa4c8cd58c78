import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startStack } from '../helpers/stack.ts';
import { eventually } from '../helpers/wait.ts';

t.test('a client that aborts mid-upload or mid-download: the upstream request is cut too, others are served', async (t) => {
  let downloadClosed = false;
  const { proxy, upstream } = await startStack(t, {
    upstream: {
      handler: (req, res) => {
        if (req.url === '/download') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 5);
          res.on('close', () => {
            clearInterval(timer);
            downloadClosed = true;
          });
          return;
        }
        res.end('ok');
      },
    },
  });
  // The upstream helper reads the whole body before calling a handler, so an upload is
  // watched at the socket: a client that stops mid-upload must not leave it open.
  const upload = httpRequest(`${proxy.url}/api/upload`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
  upload.on('error', () => undefined);
  upload.write(Buffer.alloc(256 * 1024));
  await sleep(100);
  upload.destroy();

  const download = httpRequest(`${proxy.url}/api/download`);
  download.on('error', () => undefined);
  download.on('response', (response) => response.once('data', () => download.destroy()));
  download.end();
  t.ok(await eventually(() => downloadClosed), 'the upstream download was aborted when the client left');
  t.equal((await fetch(`${proxy.url}/api/next`)).status, 200, 'the proxy serves the next request');
  t.ok(await eventually(() => proxy.logs.filter((line) => line.msg === 'request').length >= 3), 'each exchange was logged');
  const logged = (path: string) => proxy.logs.find((line) => line.msg === 'request' && line.path === path);
  t.match(logged('/api/upload'), { aborted: true }, 'the upload as aborted');
  t.match(logged('/api/download'), { aborted: true, status: 200 }, 'the download as aborted after its headers');
  t.notOk(
    upstream.requests.some((request) => request.url === '/upload'),
    'the upstream never received a complete upload',
  );
});

t.test('an upstream that closes its keep-alive sockets between requests: every request still succeeds', async (t) => {
  const { proxy, upstream } = await startStack(t, {
    upstream: {
      handler: (req, res) => {
        res.end(`served ${req.url}`);
        // Close the socket after answering, without saying so in the response.
        res.on('finish', () => setTimeout(() => req.socket.destroy(), 1));
      },
    },
  });
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    statuses.push((await fetch(`${proxy.url}/api/${i}`)).status);
    await sleep(5);
  }
  t.same([...new Set(statuses)], [200], 'no request failed on a socket the upstream had closed');
  t.equal(upstream.requests.length, 30);
});

t.test('1000 slow clients holding connections open do not stop the proxy serving others, and are let go', async (t) => {
  const { proxy } = await startStack(t);
  const { port } = new URL(proxy.url);
  const sockets: Socket[] = await Promise.all(
    Array.from(
      { length: 1000 },
      () =>
        new Promise<Socket>((resolve, reject) => {
          // Slowloris: a request head that never finishes.
          const socket = connect(Number(port), '127.0.0.1', () => {
            socket.write('GET /api/slow HTTP/1.1\r\nHost: x\r\nX-Slow: ');
            resolve(socket);
          });
          socket.on('error', reject);
        }),
    ),
  );
  const connections = () => new Promise<number>((resolve) => proxy.proxy.server.getConnections((_error, count) => resolve(count)));
  let open = await connections();
  // The kernel completes a handshake before the server accepts it: wait for all to arrive.
  for (let i = 0; i < 200 && open < 1000; i++) {
    await sleep(10);
    open = await connections();
  }
  t.ok(open >= 1000, `the slow connections are open (${open})`);
  const started = performance.now();
  const response = await fetch(`${proxy.url}/api/fast`);
  t.equal(response.status, 200, 'another client is served');
  t.ok(performance.now() - started < 2_000, 'promptly');
  for (const socket of sockets) socket.destroy();
  let remaining = await connections();
  for (let i = 0; i < 100 && remaining > 1; i++) {
    await sleep(20);
    remaining = await connections();
  }
  t.ok(remaining <= 1, `their connections are released (${remaining} left)`);
});
