import t from 'tap';
import { readFileSync } from 'node:fs';
import { runCli, spawnCli, waitForLine } from '../helpers/cli.ts';

t.test('demo serves data through the proxy with a token the service verified', async (t) => {
  const result = await runCli(['demo', '--once', '--port', '0']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /✓ GET http:\/\/127\.0\.0\.1:\d+\/odata\/People without the proxy → 401/);
  t.match(result.stdout, /✓ GET http:\/\/localhost:\d+\/demo\/People → 200/);
  t.match(result.stdout, /✓ @odata\.nextLink → http:\/\/localhost:\d+\/demo\/People\?/);
  t.match(result.stdout, /✓ followed every page: \d+ people in \d+ pages, 1 token request at the issuer/);
});

t.test("the running demo's /_status names its version", async (t) => {
  const child = spawnCli(['demo', '--port', '0']);
  t.teardown(() => void child.kill('SIGTERM'));
  const line = await waitForLine(child, /OData\.Feed\("http:\/\/localhost:\d+\/demo\/"\)/);
  const base = /http:\/\/localhost:\d+/.exec(line)![0];
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const page = await (await fetch(`${base}/_status`)).text();
  t.match(page, `<h1>bearer-proxy <span class="muted">${version}</span></h1>`, 'not "unknown"');
  child.kill('SIGTERM');
  t.equal(await new Promise((resolve) => child.on('close', resolve)), 0);
});
