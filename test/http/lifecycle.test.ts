import { Agent, createServer, request } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import t from 'tap';
import { baseUrlOf, closeNow, listenOn } from '../../src/http/lifecycle.ts';
import { generateTestKey, selfSignedCertificate } from '../helpers/keys.ts';

t.test('listenOn resolves with the URL actually bound: port 0 becomes a real one, https for a TLS server', async (t) => {
  const plain = createServer((_req, res) => res.end('ok'));
  const url = await listenOn(plain, 0, '127.0.0.1');
  t.teardown(() => closeNow(plain));
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(new URL(url).port, '0');
  t.equal(baseUrlOf(plain), url);
  t.equal(await (await fetch(url)).text(), 'ok', 'and it answers there');

  const key = generateTestKey('ec');
  const tls = createHttpsServer({ key: key.privateKeyPem, cert: selfSignedCertificate(key) });
  t.teardown(() => closeNow(tls));
  t.match(await listenOn(tls, 0, '127.0.0.1'), /^https:\/\/127\.0\.0\.1:\d+$/);
});

t.test('a port in use rejects with the listen error, and a later error does not reach the settled promise', async (t) => {
  const first = createServer();
  const port = Number(new URL(await listenOn(first, 0, '127.0.0.1')).port);
  t.teardown(() => closeNow(first));
  const second = createServer();
  await t.rejects(listenOn(second, port, '127.0.0.1'), { code: 'EADDRINUSE' });

  const third = createServer();
  await listenOn(third, 0, '127.0.0.1');
  t.teardown(() => closeNow(third));
  t.equal(third.listenerCount('error'), 0, 'no listener of listenOn left on the server');
});

t.test('closeNow closes kept-alive and in-flight connections at once instead of waiting for them', async (t) => {
  let started = 0;
  const server = createServer((req, res) => {
    started++;
    if (req.url === '/hang') return; // never answered
    res.end('ok');
  });
  const url = await listenOn(server, 0, '127.0.0.1');
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const get = (path: string) =>
    new Promise<string>((resolve) => {
      const req = request(`${url}${path}`, { agent }, (res) => {
        res.resume();
        res.once('end', () => resolve('answered'));
      });
      req.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      req.end();
    });
  t.equal(await get('/'), 'answered', 'a kept-alive connection is open now');
  const hanging = get('/hang');
  while (started < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  // server.close() alone would wait for the request that never ends.
  const outcome = await Promise.race([closeNow(server).then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting').unref()).then(String)]);
  t.equal(outcome, 'closed', 'closeNow did not wait for the open connections');
  t.equal(await hanging, 'ECONNRESET', 'the request in flight was cut off');
  t.equal(server.listening, false);
});
