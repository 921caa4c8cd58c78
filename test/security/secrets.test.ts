import { createServer } from 'node:http';
import t from 'tap';
import { postClientSource, startIdp } from '../helpers/idp.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startUpstream } from '../helpers/upstream.ts';

t.test('heavy traffic and every error path: no secret, token or password in logs, bodies, /_status or /metrics', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  let attempt = 0;
  const upstream = await startUpstream({
    jwksUrl: idp.jwksUrl,
    issuer: idp.issuer,
    audience: idp.audience,
    // Every 7th valid token is refused once, so the 401 → refetch → replay path runs too.
    rejectTokens: () => ++attempt % 7 === 0,
    // Not the default echo handler: that one returns the request headers, token included.
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"value":[]}');
    },
  });
  t.teardown(() => upstream.close());
  const silent = createServer(() => undefined); // never answers: UPSTREAM_TIMEOUT
  const silentUrl = await listen(silent);
  t.teardown(() => closeServer(silent));
  const closed = createServer();
  const closedUrl = await listen(closed);
  await closeServer(closed); // connection refused: UPSTREAM_UNREACHABLE, TOKEN_UNAVAILABLE

  const password = 'inbound-password-5f2c9d';
  const wrongSecret = 'not-the-secret-9c1e77a3';
  const keyed = idp.keyClient.keys.ec;
  const proxy = await startProxy({
    inbound: { anonymous: 'none', users: [{ name: 'gateway', password }] },
    statusPage: 'authenticated',
    tokens: {
      good: postClientSource(idp),
      basic: { tokenUrl: idp.tokenUrl, clientId: idp.clients.basic.clientId, clientSecret: idp.clients.basic.clientSecret, authMethod: 'client_secret_basic', allowInsecure: true },
      keyed: { tokenUrl: idp.tokenUrl, clientId: idp.keyClient.clientId, authMethod: 'private_key_jwt', privateKey: keyed.privateKeyPem, keyId: keyed.kid, allowInsecure: true },
      refused: postClientSource(idp, wrongSecret),
      down: { tokenUrl: `${closedUrl}/token`, clientId: 'c', clientSecret: wrongSecret, allowInsecure: true },
    },
    routes: {
      '/api': { target: upstream.url, token: 'good' },
      '/basic': { target: upstream.url, token: 'basic' },
      '/keyed': { target: upstream.url, token: 'keyed' },
      '/refused': { target: upstream.url, token: 'refused' },
      '/down': { target: upstream.url, token: 'down' },
      '/slow': { target: silentUrl, token: 'good', timeout: '200ms' },
      '/gone': { target: closedUrl, token: 'good' },
    },
  });
  t.teardown(() => proxy.close());

  const authorization = `Basic ${Buffer.from(`gateway:${password}`).toString('base64')}`;
  const seen: string[] = [];
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${proxy.url}${path}`, { ...init, headers: { authorization, ...(init.headers as Record<string, string>) } });
    seen.push(JSON.stringify([...response.headers]), await response.text());
    return response.status;
  };

  const statuses = new Set<number>();
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; i < 40; i++) statuses.add(await call(`/${['api', 'basic', 'keyed'][i % 3]}/rows?key=query-secret-${worker}`));
    }),
  );
  for (const path of ['/refused/x', '/down/x', '/slow/x', '/gone/x', '/nowhere', '/api/..%5c..%5cx']) statuses.add(await call(path));
  statuses.add(await call('/api/x', { headers: { authorization: `Basic ${Buffer.from(`gateway:${wrongSecret}`).toString('base64')}` } }));
  statuses.add(await call('/api/x', { headers: { authorization: `Bearer ${wrongSecret}` } }));
  statuses.add(await call('/api/upload', { method: 'POST', body: 'x'.repeat(2_000_000) }));
  await call('/_status');
  await call('/metrics');
  t.same([...statuses].sort(), [200, 400, 401, 404, 502, 503, 504], 'every kind of answer happened');

  const tokens = new Set(upstream.requests.map((request) => request.authorization?.slice('Bearer '.length)).filter(Boolean));
  t.ok(tokens.size >= 3, `${tokens.size} distinct tokens were issued and used`);
  const keyLines = keyed.privateKeyPem.split('\n').filter((line) => line && !line.startsWith('-----'));
  const secrets = [
    idp.clients.post.clientSecret,
    idp.clients.basic.clientSecret,
    wrongSecret,
    password,
    authorization.slice('Basic '.length),
    Buffer.from(`${idp.clients.basic.clientId}:${idp.clients.basic.clientSecret}`).toString('base64'),
    ...tokens,
    ...keyLines,
    'query-secret-',
  ] as string[];
  const logs = proxy.logText();
  t.ok(proxy.logs.length > 300, `${proxy.logs.length} log lines at debug level to search`);
  t.ok(
    proxy.logs.some((line) => line.msg === 'token fetch failed'),
    'including IdP failures',
  );
  const everything = `${logs}\n${seen.join('\n')}`;
  const leaks = secrets.filter((secret) => everything.includes(secret));
  t.same(
    leaks.map((secret) => `${secret.slice(0, 10)}…`),
    [],
    'nothing secret in any log line, response header or body, /_status or /metrics',
  );
});
