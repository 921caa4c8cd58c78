import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { collect, spawnCli, waitForLine } from '../helpers/cli.ts';

// localhost is two listeners in each worker (127.0.0.1 and ::1); node:cluster's 'listening'
// event comes with the first, so the primary waits for each worker's own word instead.
const config = (port: number) =>
  `listen: { host: localhost, port: ${port} }\ntokens:\n  t: { tokenUrl: "https://idp.test/token", clientId: c, clientSecret: "\${S}" }\nroutes:\n  /a: { target: "https://up.test", token: t }\n`;

t.test('serve --workers 2 on localhost: "serving" comes after every worker is listening on both addresses', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': config(0) });
  const child = spawnCli(['serve', '-c', `${dir}/proxy.yaml`, '--workers', '2'], { env: { S: 'x' } });
  t.teardown(() => void child.kill('SIGKILL'));
  const exited = collect(child);
  const serving = JSON.parse(await waitForLine(child, /serving on .* with 2 workers/)) as { url: string };
  t.match(serving.url, /^http:\/\/localhost:\d+$/, 'the URL the workers listen on, as they name it');
  child.kill('SIGTERM');
  const lines = (await exited).stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg: string; worker?: number });
  const servingAt = lines.findIndex((line) => line.msg.includes('with 2 workers'));
  const listeningAt = lines.flatMap((line, index) => (line.msg.startsWith('bearer-proxy listening') ? [[line.worker, index] as const] : []));
  t.same(listeningAt.map(([worker]) => worker).sort(), [1, 2], 'each worker said it is listening');
  t.ok(
    listeningAt.every(([, index]) => index < servingAt),
    'before the primary said the host is serving',
  );
});

t.test('a worker that gets one of the two localhost addresses but not the other fails the start (exit 1), not a restart loop', async (t) => {
  // ::1 taken by another program at a port free on 127.0.0.1.
  const squatter = createServer();
  const listened = await new Promise<boolean>((resolve) => {
    squatter.once('error', () => resolve(false));
    squatter.listen({ host: '::1', port: 0, ipv6Only: true }, () => resolve(true));
  });
  if (!listened) {
    t.pass('this machine has no ::1: localhost is one listener here');
    return;
  }
  t.teardown(() => void squatter.close());
  const { port } = squatter.address() as AddressInfo;
  const dir = t.testdir({ 'proxy.yaml': config(port) });
  const result = await collect(spawnCli(['serve', '-c', `${dir}/proxy.yaml`, '--workers', '2'], { env: { S: 'x' } }));
  t.equal(result.code, 1);
  t.match(result.stderr + result.stdout, /already in use/);
  t.match(result.stdout, /a worker failed to start/);
  t.notMatch(result.stdout, /starting another in/, 'no worker was restarted');
});
