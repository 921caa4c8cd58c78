import { X509Certificate } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import t, { type Test } from 'tap';
import { Agent, request } from 'undici';
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import { spawnCli, waitForLine } from '../helpers/cli.ts';
import { postClientSource, startIdp } from '../helpers/idp.ts';
import { startForwardProxy } from '../helpers/forward-proxy.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startProxy } from '../helpers/proxy.ts';
import { createTestCa, issueCertificate, type TestCa } from '../helpers/tls.ts';

/** An HTTPS upstream with a certificate from `ca`; with requireClientCa, it demands a client certificate from that CA. */
async function httpsUpstream(t: Test, ca: TestCa, requireClientCa?: TestCa) {
  const leaf = issueCertificate(ca, 'upstream');
  const server = createHttpsServer(
    { cert: leaf.certPem, key: leaf.keyPem, ...(requireClientCa ? { ca: requireClientCa.certPem, requestCert: true, rejectUnauthorized: true } : {}) },
    (req: IncomingMessage, res: ServerResponse) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, clientCertificate: peer?.subject?.CN ?? null, authorization: req.headers.authorization?.slice(0, 7) }));
    },
  );
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return url;
}

async function getJson(url: string, ca?: string) {
  const dispatcher = new Agent({ connect: ca ? { ca } : {} });
  try {
    const response = await request(url, { dispatcher });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  } finally {
    await dispatcher.close();
  }
}

/** The certificate a TLS server presents to a new connection. */
function presentedCertificate(url: string, ca: string): Promise<X509Certificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca, servername: 'localhost' }, () => {
      resolve(new X509Certificate(socket.getPeerX509Certificate()!.raw));
      socket.end();
    });
    socket.on('error', reject);
  });
}

t.test('HTTPS listener: served with the configured certificate, links in https, a renewed certificate on reload', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const ca = createTestCa();
  const upstream = await httpsUpstream(t, ca);
  const first = issueCertificate(ca, 'proxy-1');
  const input = (cert: { certPem: string; keyPem: string }): ConfigInput => ({
    listen: { tls: { cert: cert.certPem, key: cert.keyPem } },
    tokens: { idp: postClientSource(idp) },
    routes: { '/api': { target: upstream, token: 'idp', ca: ca.certPem } },
  });
  const proxy = await startProxy(input(first));
  t.teardown(() => proxy.close());
  t.match(proxy.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const answer = await getJson(`${proxy.url}/api/x`, ca.certPem);
  t.equal(answer.status, 200, 'a client that trusts the CA gets through');
  t.same(answer.body, { path: '/x', clientCertificate: null, authorization: 'Bearer ' }, 'and the custom-CA upstream got the request with a token');
  await t.rejects(getJson(`${proxy.url}/healthz`), 'a client that does not trust the CA is refused by TLS');
  t.equal((await presentedCertificate(proxy.url, ca.certPem)).subject, 'CN=proxy-1');

  const renewed = issueCertificate(ca, 'proxy-2');
  proxy.proxy.reload(configSchema.parse(input(renewed)));
  t.equal((await presentedCertificate(proxy.url, ca.certPem)).subject, 'CN=proxy-2', 'new connections get the renewed certificate');
  t.match(proxy.logText(), 'new certificate in use');
});

t.test('upstream CA and mutual TLS per route', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const serverCa = createTestCa('server CA');
  const clientCa = createTestCa('client CA');
  const plain = await httpsUpstream(t, serverCa);
  const mutual = await httpsUpstream(t, serverCa, clientCa);
  const client = issueCertificate(clientCa, 'bearer-proxy-client', 'client');
  const proxy = await startProxy({
    tokens: { idp: postClientSource(idp) },
    routes: {
      '/trusted': { target: plain, token: 'idp', ca: serverCa.certPem },
      '/untrusted': { target: plain, token: 'idp' },
      '/mtls': { target: mutual, token: 'idp', ca: serverCa.certPem, clientCert: client.certPem, clientKey: client.keyPem },
      '/no-client-cert': { target: mutual, token: 'idp', ca: serverCa.certPem },
    },
  });
  t.teardown(() => proxy.close());
  t.equal((await getJson(`${proxy.url}/trusted/a`)).status, 200, 'the route’s ca is trusted');
  const untrusted = await getJson(`${proxy.url}/untrusted/a`);
  t.equal(untrusted.status, 502, 'without it, the private CA is not trusted');
  t.match(untrusted.body, { error: { code: 'UPSTREAM_UNREACHABLE' } });
  const mtls = await getJson(`${proxy.url}/mtls/a`);
  t.equal(mtls.status, 200);
  t.equal(mtls.body.clientCertificate, 'bearer-proxy-client', 'the upstream saw the configured client certificate');
  t.equal((await getJson(`${proxy.url}/no-client-cert/a`)).status, 502, 'an upstream that demands a client certificate refuses a route without one');
});

t.test('an IdP behind a private CA is trusted through the token source’s ca', async (t) => {
  const ca = createTestCa();
  const leaf = issueCertificate(ca, 'idp');
  const idpServer = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: 'from-private-idp', token_type: 'Bearer', expires_in: 300 }));
  });
  const idpUrl = await listen(idpServer);
  t.teardown(() => closeServer(idpServer));
  const upstream = createHttpServer((req, res) => res.end(req.headers.authorization));
  const upstreamUrl = await listen(upstream);
  t.teardown(() => closeServer(upstream));
  const source = { tokenUrl: `${idpUrl}/token`, clientId: 'c', clientSecret: 's' };
  const proxy = await startProxy({
    tokens: { trusted: { ...source, ca: ca.certPem }, untrusted: source },
    routes: { '/a': { target: upstreamUrl, token: 'trusted' }, '/b': { target: upstreamUrl, token: 'untrusted' } },
  });
  t.teardown(() => proxy.close());
  t.equal(await (await fetch(`${proxy.url}/a/x`)).text(), 'Bearer from-private-idp');
  const refused = await fetch(`${proxy.url}/b/x`);
  t.equal(refused.status, 503, 'without the CA the IdP cannot be reached');
  t.match(await refused.json(), { error: { code: 'TOKEN_UNAVAILABLE' } });
});

t.test('HTTP_PROXY/HTTPS_PROXY carry IdP and upstream traffic; NO_PROXY exempts hosts', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = createHttpServer((req, res) => res.end(`upstream saw ${req.url}`));
  const upstreamUrl = await listen(upstream);
  t.teardown(() => closeServer(upstream));
  const forwardProxy = await startForwardProxy();
  t.teardown(() => forwardProxy.close());
  const { url: forwardProxyUrl, tunnels } = forwardProxy;
  const config: ConfigInput = { tokens: { idp: postClientSource(idp) }, routes: { '/api': { target: upstreamUrl, token: 'idp' } } };

  const proxied = await startProxy(config, { env: { HTTP_PROXY: forwardProxyUrl, NO_PROXY: '' } });
  t.teardown(() => proxied.close());
  t.equal(await (await fetch(`${proxied.url}/api/x`)).text(), 'upstream saw /x');
  const idpHost = new URL(idp.issuer).host;
  const upstreamHost = new URL(upstreamUrl).host;
  t.ok(tunnels.includes(idpHost), 'the token request went through the outbound proxy');
  t.ok(tunnels.includes(upstreamHost), 'so did the upstream request');

  tunnels.length = 0;
  const exempt = await startProxy(config, { env: { http_proxy: forwardProxyUrl, no_proxy: '127.0.0.1' } });
  t.teardown(() => exempt.close());
  t.equal(await (await fetch(`${exempt.url}/api/y`)).text(), 'upstream saw /y');
  t.same(tunnels, [], 'no_proxy (lower case, as curl reads it) exempted the hosts');
});

t.test('NODE_EXTRA_CA_CERTS is trusted by the CLI, also next to a route’s own ca', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const extraCa = createTestCa('extra CA');
  const routeCa = createTestCa('route CA');
  const viaExtra = await httpsUpstream(t, extraCa);
  const viaRoute = await httpsUpstream(t, routeCa);
  const dir = t.testdir({
    'extra-ca.pem': extraCa.certPem,
    'route-ca.pem': routeCa.certPem,
    'proxy.yaml': [
      'listen: { port: 0 }',
      'tokens:',
      `  idp: { tokenUrl: "${idp.tokenUrl}", clientId: ${idp.clients.post.clientId}, clientSecret: "\${SECRET}", allowInsecure: true }`,
      'routes:',
      `  /extra: { target: "${viaExtra}", token: idp }`,
      `  /both: { target: "${viaExtra}", token: idp, ca: "\${file:route-ca.pem}" }`,
      `  /route: { target: "${viaRoute}", token: idp, ca: "\${file:route-ca.pem}" }`,
      '',
    ].join('\n'),
  });
  const child = spawnCli(['serve', '-c', `${dir}/proxy.yaml`], { env: { SECRET: idp.clients.post.clientSecret, NODE_EXTRA_CA_CERTS: `${dir}/extra-ca.pem` } });
  t.teardown(() => void child.kill('SIGKILL'));
  const { url } = JSON.parse(await waitForLine(child, /listening on/)) as { url: string };
  t.equal((await fetch(`${url}/extra/a`)).status, 200, 'an upstream signed by the NODE_EXTRA_CA_CERTS CA');
  t.equal((await fetch(`${url}/both/a`)).status, 200, 'still trusted on a route that adds its own ca');
  t.equal((await fetch(`${url}/route/a`)).status, 200, 'and the route’s own ca');
});
