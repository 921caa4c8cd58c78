import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { collect, spawnCli, waitForLine } from '../helpers/cli.ts';
import { startIdp } from '../helpers/idp.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** A new connection per request, so node:cluster's round robin hands them to every worker. */
async function get(url: string): Promise<number> {
  const response = await fetch(url, { headers: { connection: 'close' } });
  await response.arrayBuffer();
  return response.status;
}

t.test('serve --workers 2: both workers serve one port, one IdP fetch for the host, reload reaches both, SIGTERM drains all', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
  t.teardown(() => upstream.close());
  const config = (routes: string[]) =>
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      'tokens:',
      `  idp: { tokenUrl: "${idp.tokenUrl}", clientId: ${idp.clients.post.clientId}, clientSecret: "\${SECRET}", allowInsecure: true }`,
      'routes:',
      ...routes.map((prefix) => `  ${prefix}: { target: "${upstream.url}${prefix}", token: idp }`),
      '',
    ].join('\n');
  const dir = t.testdir({ 'proxy.yaml': config(['/a']) });
  const child = spawnCli(['serve', '-c', `${dir}/proxy.yaml`, '--workers', '2'], { env: { SECRET: idp.clients.post.clientSecret } });
  t.teardown(() => void child.kill('SIGKILL'));
  const exited = collect(child);
  const { url } = JSON.parse(await waitForLine(child, /serving on .* with 2 workers/)) as { url: string };

  const statuses = [];
  for (let i = 0; i < 40; i++) statuses.push(await get(`${url}/a/items?i=${i}`));
  t.same(new Set(statuses), new Set([200]), '40 requests, all 200');
  t.equal(idp.tokenRequests.length, 1, 'one token request at the IdP for both workers');
  t.equal(new Set(upstream.requests.map((request) => request.authorization)).size, 1, 'and both injected that one token');
  const workers = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
    .trim()
    .split('\n');
  t.equal(workers.length, 2, 'two worker processes');

  writeFileSync(`${dir}/proxy.yaml`, config(['/a', '/b']));
  child.kill('SIGHUP');
  await sleep(1_500);
  const after = [];
  for (let i = 0; i < 20; i++) after.push(await get(`${url}/b/items`));
  t.same(new Set(after), new Set([200]), 'the new route answers on every worker');
  t.equal(idp.tokenRequests.length, 1, 'an unchanged token source keeps its token across the reload');

  child.kill('SIGTERM');
  const result = await exited;
  t.equal(result.code, 0, 'exits 0 once every worker has drained');
  const lines = result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg?: string; worker?: number; route?: string });
  const served = new Set(lines.filter((line) => line.msg === 'request').map((line) => line.worker));
  t.same([...served].sort(), [1, 2], 'access lines from both workers');
  // The primary saw the file change and the SIGHUP: each is passed to every worker.
  t.same([...new Set(lines.filter((line) => line.msg === 'config reloaded').map((line) => line.worker))].sort(), [1, 2], 'each worker reloaded');
  t.equal(lines.filter((line) => line.msg === 'token fetched').length, 1, 'one fetch logged, by the primary');
  t.equal(lines.filter((line) => line.msg === 'stopped').length, 2);
});

t.test('a worker that cannot start stops the whole serve with exit 1', async (t) => {
  const dir = t.testdir({
    'proxy.yaml':
      'listen: { host: 192.0.2.1, port: 0 }\ntokens:\n  t: { tokenUrl: "https://idp.test/token", clientId: c, clientSecret: "${S}" }\nroutes:\n  /a: { target: "https://up.test", token: t }\n',
  });
  const result = await collect(spawnCli(['serve', '-c', `${dir}/proxy.yaml`, '--workers', '2'], { env: { S: 'x' } }));
  t.equal(result.code, 1);
  t.match(result.stderr + result.stdout, /cannot listen on 192\.0\.2\.1/);
  t.match(result.stdout, /a worker failed to start/);
});
