import t from 'tap';
import { Agent } from 'undici';
import { createLogger } from '../../src/log/logger.ts';
import { createTransport } from '../../src/http/transport.ts';
import { Writable } from 'node:stream';

t.test('IdP requests use the runtime’s fetch unless a CA or an outbound proxy needs undici’s', async (t) => {
  const plain = createTransport({ env: {} });
  t.teardown(() => plain.close());
  t.equal(plain.idpFetch({}), undefined, 'no CA, no proxy: the runtime’s own fetch');
  t.type(plain.idpFetch({ ca: '-----BEGIN CERTIFICATE-----' }), 'function', 'a CA needs a dispatcher of its own');

  const proxied = createTransport({ env: { https_proxy: 'http://proxy.corp:3128' } });
  t.teardown(() => proxied.close());
  t.type(proxied.idpFetch({}), 'function', 'an outbound proxy carries IdP requests too');

  const injected: typeof fetch = async () => new Response('{}');
  const testing = createTransport({ env: { HTTPS_PROXY: 'http://proxy.corp:3128' }, fetch: injected });
  t.teardown(() => testing.close());
  t.equal(testing.idpFetch({ ca: 'ca' }), injected, 'an injected fetch serves every source');
});

t.test('upstream pools: one per distinct TLS setting and bound; an injected dispatcher serves routes without TLS settings', async (t) => {
  const transport = createTransport({ env: {} });
  t.teardown(() => transport.close());
  const pool = (tls: { ca?: string }, maxConnections = 64, origin = 'https://a.test') => transport.connectionsFor(tls, maxConnections, origin);
  t.equal(pool({}).dispatcher, pool({}, 64, 'https://b.test').dispatcher, 'routes without TLS settings share one pool');
  t.not(pool({ ca: 'a' }).dispatcher, pool({}).dispatcher);
  t.equal(pool({ ca: 'a' }).dispatcher, pool({ ca: 'a' }).dispatcher);
  t.not(pool({}, 2).dispatcher, pool({}).dispatcher, 'a route with another bound gets a pool of its own');
  t.equal(pool({}).limit, pool({}).limit, 'routes to one origin through one pool share its count');
  t.not(pool({}).limit, pool({}, 64, 'https://b.test').limit, 'each origin has its own bound');
  t.same([pool({}, 2).limit.maxConnections, pool({}, 2).limit.origin], [2, 'https://a.test']);

  const agent = new Agent();
  t.teardown(() => agent.close());
  const injected = createTransport({ env: {}, dispatcher: agent });
  t.teardown(() => injected.close());
  t.equal(injected.connectionsFor({}, 64, 'https://a.test').dispatcher, agent);
  t.not(injected.connectionsFor({ ca: 'a' }, 64, 'https://a.test').dispatcher, agent, 'a route with its own CA still gets its own pool');
});

t.test('the first request that finds every connection busy is logged as a warning', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(chunk.toString())) }) });
  const transport = createTransport({ env: {}, logger });
  t.teardown(() => transport.close());
  const { limit } = transport.connectionsFor({}, 1, 'https://a.test');
  t.equal(limit.enter(), false);
  t.equal(lines.length, 0, 'a free connection is not worth a line');
  t.equal(limit.enter(), true);
  t.equal(limit.enter(), true);
  t.equal(lines.length, 1, 'once, not per waiting request');
  t.match(JSON.parse(lines[0]!), { level: 40, upstream: 'https://a.test', maxConnections: 1, msg: /maxConnections/ });
});

t.test('an unreadable NODE_EXTRA_CA_CERTS is a warning naming the path, not a failure', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(chunk.toString())) }) });
  const transport = createTransport({ env: { NODE_EXTRA_CA_CERTS: '/nonexistent/extra.pem' }, logger });
  t.teardown(() => transport.close());
  t.match(JSON.parse(lines[0]!), { level: 40, path: '/nonexistent/extra.pem', code: 'ENOENT' });
});

t.test('a direct IdP connection skips the outbound proxy; the others go through it', async (t) => {
  const { createServer } = await import('node:http');
  const server = createServer((_req, res) => res.end('here'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metadata/identity/oauth2/token`;
  // A proxy address where nothing listens: whatever goes through it fails.
  const transport = createTransport({ env: { HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9' } });
  t.teardown(() => transport.close());
  t.equal(await (await transport.idpFetch({ direct: true })!(url)).text(), 'here', 'direct: straight to the endpoint');
  await t.rejects(transport.idpFetch({})!(url), 'otherwise through the (unreachable) proxy');
});
