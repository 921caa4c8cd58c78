import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { reloadInto } from '../../src/cli/reload.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { launchChromium } from '../helpers/browser.ts';
import { externalIPv4 } from '../helpers/listen.ts';
import { startStack } from '../helpers/stack.ts';

t.test('/_status in a real browser: what an operator sees, and never a secret', async (t) => {
  const dir = t.testdir({});
  const configFile = join(dir, 'proxy.yaml');
  const { idp, upstream, proxy } = await startStack(t, {
    deps: { version: '9.9.9-test', configFile },
    // The upstream's own 503 for /api/broken, to be counted beside the proxy's errors.
    upstream: {
      handler: (req, res) => {
        if (req.url?.startsWith('/broken')) res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":[]}');
      },
    },
  });
  for (let i = 0; i < 3; i++) await (await fetch(`${proxy.url}/api/rows`)).arrayBuffer();
  await (await fetch(`${proxy.url}/api/broken`)).arrayBuffer();
  await (await fetch(`${proxy.url}/nowhere`)).arrayBuffer();
  const tokens = upstream.requests.map((request) => request.authorization!.slice('Bearer '.length));

  // A reload of a file with a typo, as a change on disk or SIGHUP makes serve do.
  writeFileSync(configFile, 'tokens:\n  idp: { tokenUrl: "https://idp.example/token", clientId: c, clientSecret: s, scopes: x }\nroutes:\n  /api: { target: "https://api.example", token: idp }\n');
  const logs: string[] = [];
  const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _encoding, done) => done(void logs.push(chunk.toString())) }) });
  t.equal(
    reloadInto(proxy.proxy, () => loadConfigFile(configFile, { env: {} }), logger, 'file changed'),
    false,
    'the reload fails',
  );

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const asked: string[] = [];
  page.on('request', (request) => void asked.push(new URL(request.url()).pathname));
  const response = await page.goto(`${proxy.url}/_status`);
  t.equal(response?.status(), 200);
  t.equal(await page.title(), 'bearer-proxy status');
  t.equal(await page.locator('h1').innerText(), 'bearer-proxy 9.9.9-test', 'the version');
  t.match(await page.locator('#summary').innerText(), /All token sources are healthy\. The last config reload failed; the previous config keeps serving\.\s+Up \d+s\./);

  const links = await page.locator('#links a').evaluateAll((anchors) => anchors.map((a) => [a.textContent, a.getAttribute('href')]));
  t.same(
    links,
    ['/metrics', '/healthz', '/readyz'].map((path) => [path, path]),
    'links to the other endpoints',
  );
  for (const [, href] of links) t.equal((await fetch(new URL(href, proxy.url))).status, 200, `${href} answers`);
  t.match(await page.locator('#traffic thead').innerText(), /Route\s+Requests\s+Proxy errors\s+Upstream 5xx\s+Error rate\s+p50\s+p95/);
  t.match(await page.locator('#traffic tbody tr').first().innerText(), /^\/api\s+4\s+0\s+1\s+25%\s+~[\d.]+ m?s\s+~[\d.]+ m?s$/, 'requests, the upstream 503, error rate and latency of the route');
  const routeRow = await page.locator('#routes tbody tr').first().innerText();
  t.match(routeRow, new RegExp(`/api\\s+${upstream.url.replace(/[.]/g, '\\.')}\\s+idp\\s+on`), 'the route, its target and token source');
  const tokenRow = await page.locator('#tokens tbody tr').first().innerText();
  t.match(
    tokenRow,
    /^idp\s+client credentials \(client_secret_post\)\s+valid\s+\d+s ago\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(in \d+m \d+s\)\s+refresh in \d+m \d+s \(\d{4}-[\d-]+T[\d:.]+Z\)\s+1 \(0\)\s+none$/,
    'fetched, expires, and when it is refreshed',
  );
  const configText = await page.locator('#config').innerText();
  t.match(configText, `File\t${configFile}`);
  t.match(configText, /Serving since\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(\d+s ago\)/);
  t.match(configText, /Last reload\s+failed \d+s ago \(file changed\): 1 problem; the previous config keeps serving/);
  t.match(configText, /proxy\.yaml:2:\d+ tokens\.idp\.scopes: unknown key "scopes" \(did you mean "scope"\?\)/, 'with the problem, line and all');
  const errors = await page.locator('#errors tbody tr').allInnerTexts();
  t.same(
    errors.map((row) => row.split('\t')),
    [
      ['NO_ROUTE', 'proxy', '1', '1'],
      ['503', 'upstream', '1', '1'],
    ],
    "the proxy's errors and the upstream's 5xx side by side",
  );
  const visible = await page.locator('body').innerText();
  for (const secret of [idp.clients.post.clientSecret, ...tokens]) t.notOk(visible.includes(secret) || (await page.content()).includes(secret), `no ${secret.slice(0, 8)}… on the page`);
  t.notOk(asked.includes('/favicon.ico'), 'the page asks for no favicon');

  const screenshot = await page.screenshot({ fullPage: true });
  t.ok(screenshot.length > 5_000 && screenshot.subarray(1, 4).toString() === 'PNG', `a ${screenshot.length}-byte PNG screenshot`);
  if (process.env.STATUS_SCREENSHOT) writeFileSync(process.env.STATUS_SCREENSHOT, screenshot);

  // A browser that opens another URL asks for the icon: answered, and no error for it.
  await page.goto(`${proxy.url}/healthz`);
  const icon = await fetch(`${proxy.url}/favicon.ico`);
  t.equal(icon.status, 204);
  await page.goto(`${proxy.url}/_status`);
  t.same(
    (await page.locator('#errors tbody tr').allInnerTexts()).map((row) => row.split('\t')[0]),
    ['NO_ROUTE', '503'],
    'still only the 404 and the 503',
  );
});

t.test('/_status is for loopback callers unless configured otherwise', async (t) => {
  const host = externalIPv4();
  for (const [statusPage, loopbackStatus, remoteStatus] of [
    ['loopback', 200, 404],
    ['authenticated', 200, 200],
    ['off', 404, 404],
  ] as const) {
    const { proxy } = await startStack(t, { inbound: { anonymous: 'any' }, deps: {}, config: { statusPage }, host: '0.0.0.0' });
    const port = new URL(proxy.url).port;
    t.equal((await fetch(`http://127.0.0.1:${port}/_status`)).status, loopbackStatus, `${statusPage}: from loopback`);
    t.equal((await fetch(`http://${host}:${port}/_status`)).status, remoteStatus, `${statusPage}: from ${host}`);
  }
});
