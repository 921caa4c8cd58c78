import { writeFileSync } from 'node:fs';
import t from 'tap';
import { launchChromium } from '../helpers/browser.ts';
import { externalIPv4 } from '../helpers/listen.ts';
import { startStack } from '../helpers/stack.ts';

t.test('/_status in a real browser: what an operator sees, and never a secret', async (t) => {
  const { idp, upstream, proxy } = await startStack(t, { deps: { version: '9.9.9-test' } });
  for (let i = 0; i < 3; i++) await (await fetch(`${proxy.url}/api/rows`)).arrayBuffer();
  await (await fetch(`${proxy.url}/nowhere`)).arrayBuffer();
  const tokens = upstream.requests.map((request) => request.authorization!.slice('Bearer '.length));

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const response = await page.goto(`${proxy.url}/_status`);
  t.equal(response?.status(), 200);
  t.equal(await page.title(), 'bearer-proxy status');
  t.equal(await page.locator('h1').innerText(), 'bearer-proxy 9.9.9-test', 'the version');
  t.match(await page.locator('#summary').innerText(), /All token sources are healthy\.\s+Up \d+s\./);
  const routeRow = await page.locator('#routes tbody tr').first().innerText();
  t.match(routeRow, new RegExp(`/api\\s+${upstream.url.replace(/[.]/g, '\\.')}\\s+idp\\s+on`), 'the route, its target and token source');
  const tokenRow = await page.locator('#tokens tbody tr').first().innerText();
  t.match(tokenRow, /idp\s+client credentials \(client_secret_post\)\s+valid\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(in \d+m \d+s\)\s+1 \(0\)\s+none/, 'the token is valid, with its expiry');
  t.match(await page.locator('#errors').innerText(), /NO_ROUTE\s+1\s+1/, 'the 404 is counted');
  const visible = await page.locator('body').innerText();
  for (const secret of [idp.clients.post.clientSecret, ...tokens]) t.notOk(visible.includes(secret) || (await page.content()).includes(secret), `no ${secret.slice(0, 8)}… on the page`);

  const screenshot = await page.screenshot({ fullPage: true });
  t.ok(screenshot.length > 5_000 && screenshot.subarray(1, 4).toString() === 'PNG', `a ${screenshot.length}-byte PNG screenshot`);
  if (process.env.STATUS_SCREENSHOT) writeFileSync(process.env.STATUS_SCREENSHOT, screenshot);
});

t.test('/_status is for loopback callers unless configured otherwise', async (t) => {
  const host = externalIPv4();
  for (const [statusPage, loopbackStatus, remoteStatus] of [['loopback', 200, 404], ['authenticated', 200, 200], ['off', 404, 404]] as const) {
    const { proxy } = await startStack(t, { inbound: { anonymous: 'any' }, deps: {}, config: { statusPage }, host: '0.0.0.0' });
    const port = new URL(proxy.url).port;
    t.equal((await fetch(`http://127.0.0.1:${port}/_status`)).status, loopbackStatus, `${statusPage}: from loopback`);
    t.equal((await fetch(`http://${host}:${port}/_status`)).status, remoteStatus, `${statusPage}: from ${host}`);
  }
});
