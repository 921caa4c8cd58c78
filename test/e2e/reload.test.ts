import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { collect, spawnCli, waitForLine } from '../helpers/cli.ts';
import { startIdp } from '../helpers/idp.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { startUpstream } from '../helpers/upstream.ts';

t.test('hot reload: a valid change under load drops nothing; an invalid one keeps serving; SIGHUP reloads', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
  t.teardown(() => upstream.close());
  const config = (routes: string[], extra = '') =>
    [
      'listen: { port: 0 }',
      'tokens:',
      `  idp: { tokenUrl: "${idp.tokenUrl}", clientId: ${idp.clients.post.clientId}, clientSecret: "\${SECRET}", allowInsecure: true }`,
      'routes:',
      ...routes.map((prefix) => `  ${prefix}: { target: "${upstream.url}${prefix}", token: idp }`),
      extra,
    ].join('\n');
  const dir = t.testdir({ 'proxy.yaml': config(['/a']) });
  const file = `${dir}/proxy.yaml`;
  const child = spawnCli(['serve', '-c', file], { env: { SECRET: idp.clients.post.clientSecret } });
  t.teardown(() => void child.kill('SIGKILL'));
  const exited = collect(child);
  const { url } = JSON.parse(await waitForLine(child, /listening on/)) as { url: string };

  // Steady traffic on /a across the reload.
  const statuses: number[] = [];
  let running = true;
  const traffic = (async () => {
    while (running) {
      const response = await fetch(`${url}/a/items`);
      await response.arrayBuffer();
      statuses.push(response.status);
    }
  })();
  // Counted in answers, not milliseconds: a loaded CI machine answers far fewer per second.
  const answered = async (count: number): Promise<number> => {
    for (const deadline = Date.now() + 10_000; statuses.length < count && Date.now() < deadline;) await sleep(10);
    return statuses.length;
  };
  const beforeReload = await answered(10);
  t.equal((await fetch(`${url}/b/items`)).status, 404, '/b is not a route yet');
  writeFileSync(file, config(['/a', '/b']));
  const reloaded = JSON.parse(await waitForLine(child, /config reloaded/)) as { reason: string; routes: string[]; keptTokenSources: string[] };
  t.same([reloaded.reason, [...reloaded.routes].sort(), reloaded.keptTokenSources], ['file changed', ['/a', '/b'], ['idp']]);
  t.equal((await fetch(`${url}/b/items`)).status, 200, 'the new route serves');
  const atReload = statuses.length;
  const afterReload = (await answered(atReload + 10)) - atReload;
  running = false;
  await traffic;
  t.ok(beforeReload >= 10 && afterReload >= 10, `steady traffic across the reload: ${beforeReload} answers before it, ${afterReload} after`);
  t.same([...new Set(statuses)], [200], 'none failed');
  t.equal(idp.tokenRequests.length, 1, 'the unchanged token source kept its token');

  writeFileSync(file, config(['/a', '/b'], 'routes2: {}\nshutdownTimeout: soon\n'));
  const failed = JSON.parse(await waitForLine(child, /config reload failed/)) as { problems: string[] };
  t.match(failed.problems.join('\n'), /proxy\.yaml:7:\d+ routes2: unknown key/, 'every problem, with its line');
  t.match(failed.problems.join('\n'), /proxy\.yaml:8:\d+ shutdownTimeout: "soon" is not a duration/);
  t.equal((await fetch(`${url}/b/items`)).status, 200, 'the previous config keeps serving');

  writeFileSync(file, config(['/a']));
  await sleep(100);
  child.kill('SIGHUP');
  const viaSignal = JSON.parse(await waitForLine(child, /"reason":"SIGHUP"/)) as { msg: string; routes: string[] };
  t.equal(viaSignal.msg, 'config reloaded');
  await sleep(1_500); // the file watch may reload the same content once more; both are fine
  t.equal((await fetch(`${url}/b/items`)).status, 404, '/b is gone again');

  const metrics = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
  t.ok((sampleValue(metrics, 'bearer_proxy_config_reloads_total', { result: 'ok' }) ?? 0) >= 2, 'reloads counted');
  t.equal(sampleValue(metrics, 'bearer_proxy_config_reloads_total', { result: 'failed' }), 1);

  child.kill('SIGTERM');
  t.equal((await exited).code, 0);
});

t.test('a reload cannot open anonymous access beyond loopback that a start would refuse', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
  t.teardown(() => upstream.close());
  const config = (anonymous: string) =>
    [
      'listen: { port: 0 }',
      `inbound: { anonymous: ${anonymous}, users: [{ name: gateway, password: "\${PASSWORD}" }] }`,
      'tokens:',
      `  idp: { tokenUrl: "${idp.tokenUrl}", clientId: ${idp.clients.post.clientId}, clientSecret: "\${SECRET}", allowInsecure: true }`,
      'routes:',
      `  /a: { target: "${upstream.url}", token: idp }`,
      '',
    ].join('\n');
  const dir = t.testdir({ 'proxy.yaml': config('loopback') });
  const child = spawnCli(['serve', '-c', `${dir}/proxy.yaml`, '--host', '0.0.0.0'], { env: { SECRET: idp.clients.post.clientSecret, PASSWORD: 'pw-1234' } });
  t.teardown(() => void child.kill('SIGKILL'));
  const exited = collect(child);
  await waitForLine(child, /listening on/);
  writeFileSync(`${dir}/proxy.yaml`, config('any'));
  child.kill('SIGHUP');
  const failed = JSON.parse(await waitForLine(child, /config reload failed/)) as { problems: string[] };
  t.match(failed.problems.join('\n'), /--allow-anonymous-remote/, 'refused, as a start with this file would be');
  child.kill('SIGTERM');
  t.equal((await exited).code, 0);
});
