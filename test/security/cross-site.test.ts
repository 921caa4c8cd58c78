import t from 'tap';
import { externalIPv4 } from '../helpers/listen.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startStack } from '../helpers/stack.ts';

/*
 * A browser attaches Basic credentials it has cached for the proxy to requests another
 * site's page makes (CSRF), and older browsers send no Fetch Metadata, only Referer. The
 * cross-site checks now apply to every caller, Basic-authenticated ones included, and a
 * foreign Referer counts as a foreign Origin when Fetch Metadata is absent. Before, both
 * passed. Power Query and curl send none of these headers and are unaffected.
 */

const PASSWORD = 'gateway-password-7120';
const basic = `Basic ${Buffer.from(`gateway:${PASSWORD}`).toString('base64')}`;

t.test('another site’s page is refused, with or without credentials, by Origin, Sec-Fetch-Site or Referer', async (t) => {
  const { upstream, proxy } = await startStack(t, { host: '0.0.0.0', inbound: { anonymous: 'loopback', users: [{ name: 'gateway', password: PASSWORD }] } });
  const { port } = new URL(proxy.url);
  const local = `http://127.0.0.1:${port}`;
  const remote = `http://${externalIPv4()}:${port}`;
  const send = (base: string, method: string, lines: string[], body = '') =>
    rawRequest(
      base,
      `${method} /api/People HTTP/1.1\r\nHost: ${new URL(base).host}\r\n${lines.map((line) => `${line}\r\n`).join('')}${body ? `Content-Length: ${body.length}\r\n` : ''}Connection: close\r\n\r\n${body}`,
    );
  const codeOf = (response: { body: string }) => (JSON.parse(response.body) as { error: { code: string } }).error.code;

  const foreign: Array<[string, string[]]> = [
    ['a foreign Origin', ['Origin: https://attacker.example']],
    ['Origin null (sandboxed frame)', ['Origin: null']],
    ['Sec-Fetch-Site: cross-site', ['Sec-Fetch-Site: cross-site', 'Sec-Fetch-Mode: no-cors']],
    ['Sec-Fetch-Site: same-site', ['Sec-Fetch-Site: same-site']],
    ['a foreign Referer, no Fetch Metadata (older browser)', ['Referer: https://attacker.example/page.html']],
    ['a foreign Referer on another port of an IP', [`Referer: http://203.0.113.9:${port}/x`]],
  ];
  for (const [base, where] of [
    [local, 'loopback'],
    [remote, 'remote'],
  ] as const) {
    for (const [name, lines] of foreign) {
      for (const credentials of where === 'remote' ? [true] : [false, true]) {
        const label = `${where}, ${credentials ? 'Basic' : 'anonymous'}: ${name}`;
        const response = await send(base, 'GET', [...lines, ...(credentials ? [`Authorization: ${basic}`] : [])]);
        t.equal(response.status, 403, label);
        t.equal(response.status === 403 ? codeOf(response) : response.status, 'CROSS_SITE_REQUEST', label);
      }
    }
    const csrf = await send(base, 'POST', ['Origin: https://attacker.example', 'Content-Type: text/plain', `Authorization: ${basic}`], '{}');
    t.equal(csrf.status, 403, `${where}: a cross-site form POST with cached Basic credentials`);
  }
  t.same(upstream.requests, [], 'the upstream saw none of them');

  const allowed: Array<[string, string, string[]]> = [
    ['Power Query, anonymous', local, ['User-Agent: Microsoft.Data.Mashup', 'OData-MaxVersion: 4.0']],
    ['Power Query, Basic', local, ['User-Agent: Microsoft.Data.Mashup', 'OData-MaxVersion: 4.0', `Authorization: ${basic}`]],
    ['the gateway, Basic, remote', remote, ['User-Agent: Microsoft.Data.Mashup', `Authorization: ${basic}`]],
    ['curl, remote', remote, ['User-Agent: curl/8.5.0', `Authorization: ${basic}`]],
    ['a URL typed into the browser', local, ['Sec-Fetch-Site: none', 'Sec-Fetch-Mode: navigate']],
    ['a link on the proxy’s own page, older browser', local, [`Referer: ${local}/_status`]],
    ['a link from a local page', local, [`Referer: http://localhost:${port}/`]],
    ['Fetch Metadata present: Referer is not needed', local, ['Sec-Fetch-Site: same-origin', `Referer: ${local}/`]],
    ['the remote proxy’s own page, Basic', remote, [`Origin: ${remote}`, `Authorization: ${basic}`]],
  ];
  for (const [name, base, lines] of allowed) t.equal((await send(base, 'GET', lines)).status, 200, name);
  t.equal(upstream.requests.length, allowed.length);
});
