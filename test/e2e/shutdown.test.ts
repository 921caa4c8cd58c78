import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { collect, spawnCli, waitForLine } from '../helpers/cli.ts';
import { startIdp } from '../helpers/idp.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** The real CLI serving one route to an upstream that takes `delayMs` to answer. */
async function slowServe(t: Test, delayMs: number, shutdownTimeout: string) {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({
    jwksUrl: idp.jwksUrl,
    issuer: idp.issuer,
    audience: idp.audience,
    handler: async (_req, res) => {
      await sleep(delayMs, undefined, { ref: false }); // unref: a cut request must not hold the test process open
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('finished');
    },
  });
  t.teardown(() => upstream.close());
  const dir = t.testdir({
    'proxy.yaml': [
      'listen: { port: 0 }',
      `shutdownTimeout: ${shutdownTimeout}`,
      'tokens:',
      `  idp: { tokenUrl: "${idp.tokenUrl}", clientId: ${idp.clients.post.clientId}, clientSecret: "\${SECRET}", allowInsecure: true }`,
      'routes:',
      `  /slow: { target: "${upstream.url}", token: idp }`,
      '',
    ].join('\n'),
  });
  const child = spawnCli(['serve', '-c', `${dir}/proxy.yaml`], { env: { SECRET: idp.clients.post.clientSecret } });
  const exited = collect(child);
  const { url } = JSON.parse(await waitForLine(child, /listening on/)) as { url: string };
  t.teardown(() => void child.kill('SIGKILL'));
  return { child, exited, url, upstream };
}

t.test('SIGTERM during a slow request: the request finishes, new connections are refused, exit 0', async (t) => {
  const { child, exited, url, upstream } = await slowServe(t, 1_500, '10s');
  const slow = fetch(`${url}/slow/report`).then(async (response) => ({ status: response.status, body: await response.text() }));
  while (upstream.requests.length === 0) await sleep(10); // the request is in flight upstream
  child.kill('SIGTERM');
  await waitForLine(child, /shutting down/);
  await t.rejects(fetch(`${url}/healthz`), 'no new connections once shutting down');
  t.same(await slow, { status: 200, body: 'finished' }, 'the request in flight completed');
  const result = await exited;
  t.equal(result.code, 0, 'exit 0');
  t.match(result.stdout, /"msg":"stopped"/);
});

t.test('shutdownTimeout cuts a request that takes longer, and the process still exits 0', async (t) => {
  const { child, exited, url, upstream } = await slowServe(t, 10_000, '300ms');
  const slow = fetch(`${url}/slow/report`).then((response) => response.text());
  while (upstream.requests.length === 0) await sleep(10);
  const started = performance.now();
  child.kill('SIGTERM');
  await t.rejects(slow, 'the request still running at the timeout is cut off');
  const result = await exited;
  t.equal(result.code, 0);
  t.ok(performance.now() - started < 5_000, 'well before the upstream would have answered');
  t.match(result.stdout, /shutdownTimeout passed/);
});

t.test('a second signal exits at once', async (t) => {
  const { child, exited, url, upstream } = await slowServe(t, 10_000, '30s');
  void fetch(`${url}/slow/report`).catch(() => undefined);
  while (upstream.requests.length === 0) await sleep(10);
  child.kill('SIGTERM');
  await waitForLine(child, /shutting down/);
  child.kill('SIGINT');
  const result = await exited;
  t.equal(result.code, 1, 'exit 1: the drain was cut short');
  t.match(result.stdout, /second signal: exiting at once/);
});
