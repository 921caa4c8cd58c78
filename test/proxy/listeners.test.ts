import { request } from 'node:http';
import t from 'tap';
import { startProxy } from '../helpers/proxy.ts';

const tokens = { idp: { tokenUrl: 'http://127.0.0.1:9/token', clientId: 'c', clientSecret: 's', allowInsecure: true } };
const routes = { '/api': { target: 'http://127.0.0.1:9', token: 'idp' } };

/**
 * GET over one loopback address, as a client that resolved localhost to it would
 * (this machine's /etc/hosts may name only one of them): the answer, and the address used.
 */
function getOver(family: 4 | 6, port: number, path: string): Promise<{ status: number; local: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: family === 4 ? '127.0.0.1' : '::1', port, path, headers: { host: `localhost:${port}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, local: req.socket?.remoteAddress }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('listen.host localhost (the default) answers on both 127.0.0.1 and ::1, on one port', async (t) => {
  const proxy = await startProxy({ tokens, routes }, {}, 'localhost');
  t.teardown(() => proxy.close());
  const port = Number(new URL(proxy.url).port);
  t.match(proxy.url, /^http:\/\/localhost:\d+$/, 'the URL says localhost');
  t.same(await getOver(4, port, '/healthz'), { status: 200, local: '127.0.0.1' }, 'over IPv4');
  t.same(await getOver(6, port, '/healthz'), { status: 200, local: '::1' }, 'over IPv6, as Windows tries localhost first');
  t.equal(proxy.proxy.servers.length, 2);
  // Both are loopback: the anonymous /_status page opens over either.
  t.equal((await getOver(6, port, '/_status')).status, 200, '::1 counts as loopback');
});

t.test('another host binds that address alone', async (t) => {
  const proxy = await startProxy({ tokens, routes }, {}, '127.0.0.1');
  t.teardown(() => proxy.close());
  t.equal(proxy.proxy.servers.length, 1);
  t.equal((await getOver(4, Number(new URL(proxy.url).port), '/healthz')).status, 200);
  await t.rejects(getOver(6, Number(new URL(proxy.url).port), '/healthz'), { code: 'ECONNREFUSED' }, 'nothing listens on ::1');
});

t.test('close stops every address', async (t) => {
  const proxy = await startProxy({ tokens, routes }, {}, 'localhost');
  const port = Number(new URL(proxy.url).port);
  await proxy.close();
  await t.rejects(getOver(4, port, '/healthz'), { code: 'ECONNREFUSED' });
  await t.rejects(getOver(6, port, '/healthz'), { code: 'ECONNREFUSED' });
});
