import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import t from 'tap';
import { Agent, request } from 'undici';
import { DispatcherPool, hasOwnSettings, outboundProxyFromEnv } from '../../src/http/dispatchers.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { generateTestKey, selfSignedCertificate } from '../helpers/keys.ts';

t.test('outboundProxyFromEnv: lower case before upper (as curl reads them), empty values ignored, nothing without a proxy', async (t) => {
  t.same(outboundProxyFromEnv({ HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128', NO_PROXY: 'localhost' }), { httpsProxy: 'http://lower:3128', noProxy: 'localhost' });
  t.same(outboundProxyFromEnv({ http_proxy: '', HTTP_PROXY: 'http://proxy:8080' }), { httpProxy: 'http://proxy:8080' }, 'an empty lower-case variable does not hide the upper-case one');
  t.equal(outboundProxyFromEnv({ NO_PROXY: '*' }), undefined, 'NO_PROXY alone is no proxy');
  t.equal(outboundProxyFromEnv({}), undefined);
});

t.test('hasOwnSettings: a CA, a client certificate or a direct route keeps a pool of its own', async (t) => {
  t.equal(hasOwnSettings({}), false);
  t.equal(hasOwnSettings({ ca: 'pem' }), true);
  t.equal(hasOwnSettings({ cert: 'pem', key: 'pem' }), true);
  t.equal(hasOwnSettings({ direct: true }), true);
  t.equal(hasOwnSettings({ direct: false }), false);
});

t.test('one pool per distinct setting; the injected default serves every setting without TLS options', async (t) => {
  const pool = new DispatcherPool();
  t.teardown(() => pool.close());
  const ca = selfSignedCertificate(generateTestKey('ec'));
  t.equal(pool.get({}), pool.get({}), 'the default settings share one pool');
  t.equal(pool.get({ ca }), pool.get({ ca }), 'the same CA shares one');
  t.not(pool.get({ ca }), pool.get({}), 'a CA has its own');
  t.not(pool.get({}, 4), pool.get({}, 8), 'so does each connection bound');

  const injected = new Agent();
  const withDefault = new DispatcherPool({ injectedDefault: injected });
  t.teardown(() => withDefault.close().then(() => injected.close()));
  t.equal(withDefault.get({}), injected, 'tests inject one for the plain settings');
  t.not(withDefault.get({ ca }), injected, 'but not for a CA of its own');
});

t.test('connectionsFor: routes to the same origin with the same bound share one count, and the pool keeps to the bound', async (t) => {
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  let mostAtOnce = 0;
  let open = 0;
  const server = createServer((_req: IncomingMessage, res) => {
    open++;
    mostAtOnce = Math.max(mostAtOnce, open);
    held.push(() => {
      open--;
      res.end('ok');
    });
  });
  server.on('connection', (socket) => sockets.add(socket));
  const origin = await listen(server);
  t.teardown(() => closeServer(server));

  const pool = new DispatcherPool();
  t.teardown(() => pool.close());
  const first = pool.connectionsFor({}, 2, origin);
  const second = pool.connectionsFor({}, 2, origin);
  t.equal(first.limit, second.limit, 'one count for the origin');
  t.equal(first.dispatcher, second.dispatcher, 'one pool');
  t.not(pool.connectionsFor({}, 2, 'http://other.example').limit, first.limit, 'another origin counts apart');
  t.equal(first.limit.maxConnections, 2);

  const answers = Array.from({ length: 5 }, () => request(`${origin}/x`, { dispatcher: first.dispatcher }).then((r) => r.body.text()));
  // Answered one at a time: the server never sees more than two at once.
  let done = false;
  void Promise.all(answers).then(() => (done = true));
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    held.shift()?.();
  }
  t.same(await Promise.all(answers), ['ok', 'ok', 'ok', 'ok', 'ok'], 'every request answered');
  t.equal(mostAtOnce, 2, 'at most maxConnections requests reached the upstream at once');
  t.equal(sockets.size, 2, 'over two connections, kept alive and reused');
});

t.test('fetchFor: a fetch through the pool for these settings', async (t) => {
  const server = createServer((req, res) => res.end(JSON.stringify({ path: req.url })));
  const origin = await listen(server);
  t.teardown(() => closeServer(server));
  const pool = new DispatcherPool();
  t.teardown(() => pool.close());
  const answer = await pool.fetchFor({})(`${origin}/token`, { method: 'POST', body: 'grant_type=client_credentials' });
  t.equal(answer.status, 200);
  t.same(await answer.json(), { path: '/token' });
});
