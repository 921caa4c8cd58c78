import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { externalIPv4, closeServer, listen } from '../helpers/listen.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startStack } from '../helpers/stack.ts';

/*
 * The proxy attacked the way a hostile caller on the network would: raw bytes on a socket,
 * forged headers, and upstreams that try to send it elsewhere. Each case checks the
 * defence's effect (status, and that no upstream saw the request), so removing the
 * defence fails the test.
 */

/** A server that must never be reached; it records anything that does. */
async function decoy(t: Test) {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} auth=${req.headers.authorization ?? ''}`);
    res.end('decoy');
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return { url, host: new URL(url).host, hits };
}

t.test('request smuggling and routing escapes are refused before any upstream is touched', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}/base/v1` });
  const evil = await decoy(t);
  const host = new URL(proxy.url).host;
  const send = (head: string, body = '') => rawRequest(proxy.url, `${head}\r\n\r\n${body}`);
  const cases: Array<[string, string, number | RegExp]> = [
    ['absolute-form target to another host', `GET ${evil.url}/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['absolute-form target to the proxy itself', `GET ${proxy.url}/api/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['CONNECT tunnel', `CONNECT ${evil.host} HTTP/1.1\r\nHost: ${evil.host}\r\nConnection: close`, 400],
    ['dot segments', `GET /api/../../admin HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['encoded dot segments', `GET /api/%2e%2e/%2E%2E/admin HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['double-encoded dot segments', `GET /api/%252e%252e/admin HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['encoded slash with dots', `GET /api/..%2f..%2fadmin HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['backslash dot segments', `GET /api/..\\..\\admin HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['encoded backslash dot segments', `GET /api/..%5c..%5cadmin HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['dot segments with a path parameter (Tomcat reads "..;" as "..")', `GET /api/..;/admin HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['encoded dots with a path parameter', `GET /api/%2e%2e;jsessionid=1/admin HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 400],
    ['TRACE, which the upstream would answer with the injected token', `TRACE /api/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, 405],
    ['TRACK (IIS; Node’s parser may refuse it first)', `TRACK /api/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close`, /^40[05]$/],
    ['TRACE through a method override header', `POST /api/x HTTP/1.1\r\nHost: ${host}\r\nX-HTTP-Method-Override: TRACE\r\nContent-Length: 4\r\nConnection: close`, 405],
    ['Content-Length with Transfer-Encoding', `POST /api/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close`, 400],
    ['two different Content-Lengths', `POST /api/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nContent-Length: 40\r\nConnection: close`, 400],
    ['Transfer-Encoding that is not chunked last', `POST /api/x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked, identity\r\nConnection: close`, 400],
    ['oversized headers', `GET /api/x HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close`, 431],
    ['garbage request line', `GET\u0000/api/x HTP/9\r\nHost: ${host}\r\nConnection: close`, 400],
    ['header injection attempt', `GET /api/x HTTP/1.1\r\nHost: ${host}\r\nX-A: b\rX-Injected: 1\r\nConnection: close`, 400],
  ];
  for (const [name, head, expected] of cases) {
    const response = await send(head, head.startsWith('POST') ? 'abcd' : '');
    if (typeof expected === 'number') t.equal(response.status, expected, name);
    else t.match(String(response.status), expected, name);
  }
  t.same(upstream.requests, [], 'the upstream never saw any of them');
  t.same(evil.hits, [], 'nor did the other host');
  t.equal((await fetch(`${proxy.url}/api/still-serving`)).status, 200, 'and the proxy keeps serving');
  t.equal(upstream.requests[0]?.url, '/base/v1/still-serving', 'inside the route’s base path');
});

t.test('SSRF: the upstream is always the configured target; redirects are passed on, never followed', async (t) => {
  const evil = await decoy(t);
  let redirectTo = '';
  const { upstream, proxy } = await startStack(t, {
    upstream: {
      handler: (req, res, ctx) => {
        if (req.url?.startsWith('/redirect')) {
          res.writeHead(302, { location: redirectTo.replace('UPSTREAM', ctx.baseUrl) });
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`served ${req.url} for host ${req.headers.host}`);
      },
    },
  });
  const claims = {
    forwarded: `for=6.6.6.6;host=${evil.host};proto=https`,
    'x-real-ip': '6.6.6.6',
    'x-original-url': '/admin/delete',
    'x-rewrite-url': '/admin',
    'x-forwarded-port': '443',
    'x-forwarded-prefix': '/admin',
    'x-forwarded-path': '/admin/delete',
  };
  // The proxy sends its own under these names (the route /api is the upstream's root).
  const proxySays = (host: string): Record<string, string> => ({ forwarded: `for=127.0.0.1;host="${host}";proto=http`, 'x-forwarded-prefix': '/api', 'x-forwarded-path': '/api/data' });
  const forged = { 'x-forwarded-host': evil.host, 'x-forwarded-proto': 'https', ...claims };
  const viaHeaders = await fetch(`${proxy.url}/api/data?url=${encodeURIComponent(`${evil.url}/steal`)}&target=${evil.host}`, { headers: forged });
  t.equal(viaHeaders.status, 200);
  t.match(await viaHeaders.text(), `served /data?url=`, 'headers and query parameters are only data');
  const received = upstream.requests.at(-1)!.headers;
  t.equal(received.host, new URL(upstream.url).host, 'the upstream Host is the target’s');
  t.equal(received['x-forwarded-for'], '127.0.0.1', 'the client address is the socket’s');
  t.equal(received['x-forwarded-host'], new URL(proxy.url).host, 'X-Forwarded-Host is the proxy’s');
  for (const name of Object.keys(claims)) t.equal(received[name], proxySays(new URL(proxy.url).host)[name], `the client’s ${name} does not reach the upstream (an address or path it would trust)`);
  const viaHost = await rawRequest(proxy.url, `GET /api/data HTTP/1.1\r\nHost: ${evil.host}\r\nConnection: close\r\n\r\n`);
  t.equal(viaHost.status, 200, 'a Host naming another server by address');
  t.equal(upstream.requests.at(-1)!.headers.host, new URL(upstream.url).host, 'still reaches only the target, with the target’s Host');

  redirectTo = `${evil.url}/collect`;
  const offsite = await fetch(`${proxy.url}/api/redirect`, { redirect: 'manual' });
  t.equal(offsite.status, 302, 'a redirect to another origin reaches the client');
  t.equal(offsite.headers.get('location'), `${evil.url}/collect`, 'unchanged: it is not the upstream’s');
  redirectTo = 'UPSTREAM/elsewhere?x=1';
  const onsite = await fetch(`${proxy.url}/api/redirect`, { redirect: 'manual' });
  t.equal(onsite.headers.get('location'), `${proxy.url}/api/elsewhere?x=1`, 'a redirect within the upstream is rewritten to the proxy');
  t.same(evil.hits, [], 'the proxy never followed a redirect or a forged header, so no token went elsewhere');
});

t.test('browsers: a web page cannot use anonymous access by DNS rebinding or from another site', async (t) => {
  const { upstream, proxy } = await startStack(t, { config: { inbound: { allowedHosts: ['powerbi-proxy.corp.example'] }, statusPage: 'loopback' } });
  const { port } = new URL(proxy.url);
  const send = (lines: string[], body = '') => rawRequest(proxy.url, `${lines.join('\r\n')}\r\nConnection: close\r\n\r\n${body}`);
  const codeOf = (response: { body: string }) => (JSON.parse(response.body) as { error: { code: string } }).error.code;
  // A page on attacker.example, whose name now resolves to 127.0.0.1, reads what the proxy returns.
  for (const path of ['/api/People', '/_status', '/metrics', '/']) {
    const rebound = await send([`GET ${path} HTTP/1.1`, `Host: attacker.example:${port}`]);
    t.equal(rebound.status, 403, `DNS rebinding, ${path}: 403`);
    t.equal(codeOf(rebound), 'HOST_NOT_ALLOWED');
  }
  // A page elsewhere sends requests with the token attached (it cannot read them, but they act).
  const csrf = await send([`POST /api/People HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Origin: https://attacker.example', 'Content-Type: text/plain', 'Content-Length: 2'], '{}');
  t.equal(csrf.status, 403, 'a cross-site POST (Origin of another site)');
  t.equal(codeOf(csrf), 'CROSS_SITE_REQUEST');
  const fetched = await send([`GET /api/People HTTP/1.1`, `Host: localhost:${port}`, 'Sec-Fetch-Site: cross-site', 'Sec-Fetch-Mode: no-cors']);
  t.equal(fetched.status, 403, 'a cross-site fetch (Sec-Fetch-Site)');
  t.same(upstream.requests, [], 'the upstream saw none of them');

  // What local tools send still works: Power Query, curl, a URL typed into the browser, a listed name.
  const allowed: Array<[string, string[]]> = [
    ['Power Query (Host localhost)', [`Host: localhost:${port}`, 'User-Agent: Microsoft.Data.Mashup', 'OData-MaxVersion: 4.0']],
    ['curl (Host 127.0.0.1)', [`Host: 127.0.0.1:${port}`, 'User-Agent: curl/8.5.0']],
    ['a URL typed into the browser', [`Host: localhost:${port}`, 'Sec-Fetch-Site: none', 'Sec-Fetch-Mode: navigate']],
    ['a name in inbound.allowedHosts', [`Host: POWERBI-PROXY.corp.example:${port}`]],
  ];
  for (const [name, headers] of allowed) t.equal((await send([`GET /api/People HTTP/1.1`, ...headers])).status, 200, name);
  t.equal(upstream.requests.length, allowed.length);
});

t.test('inbound: remote callers need credentials, X-Forwarded-For changes nothing, failures are logged and counted', async (t) => {
  const host = externalIPv4();
  const { upstream, proxy } = await startStack(t, { inbound: { anonymous: 'loopback', users: [{ name: 'gateway', password: 'right-password-7731' }] }, host: '0.0.0.0' });
  const remote = `http://${host}:${new URL(proxy.url).port}`;
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  const spoofed = await fetch(`${remote}/api/x`, { headers: { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1', forwarded: 'for=127.0.0.1' } });
  t.equal(spoofed.status, 401, 'a remote caller claiming to be loopback still needs credentials');
  t.match(spoofed.headers.get('www-authenticate'), /^Basic realm=/);
  const wrong = await fetch(`${remote}/api/x`, { headers: { authorization: basic('gateway', 'wrong-password-0042') } });
  t.equal(wrong.status, 401);
  const unknown = await fetch(`${remote}/api/x`, { headers: { authorization: basic('mallory', 'guess-0043') } });
  t.equal(unknown.status, 401);
  t.equal(upstream.requests.length, 0, 'nothing was forwarded');
  t.equal((await fetch(`${remote}/api/x`, { headers: { authorization: basic('gateway', 'right-password-7731') } })).status, 200, 'the right credentials work');
  t.equal((await fetch(`${proxy.url}/api/x`)).status, 200, 'a real loopback caller needs none');

  const failures = proxy.logs.filter((line) => (line.error as { code?: string } | undefined)?.code === 'AUTH_INVALID');
  t.same(
    failures.map((line) => (line.error as { attemptedUser?: string }).attemptedUser),
    ['gateway', 'mallory'],
    'failed logins are logged with the name tried',
  );
  t.notMatch(proxy.logText(), /wrong-password-0042|guess-0043|right-password-7731/, 'never with a password');
  const metrics = parsePrometheusText(await (await fetch(`${proxy.url}/metrics`)).text());
  t.equal(sampleValue(metrics, 'bearer_proxy_auth_failures_total', { code: 'AUTH_INVALID' }), 2, 'and counted');
  t.equal(sampleValue(metrics, 'bearer_proxy_auth_failures_total', { code: 'AUTH_REQUIRED' }), 1);
});
