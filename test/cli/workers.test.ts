import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import type { CliIo } from '../../src/cli/io.ts';
import { serve, WORKER_READY } from '../../src/cli/serve.ts';
import { servePrimary } from '../../src/cli/workers.ts';
import { builtCli } from '../helpers/cli.ts';
import { startIdp, type IdpClient, type TestIdp } from '../helpers/idp.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { testSignals } from '../helpers/cli-io.ts';
import { until } from '../helpers/wait.ts';

// servePrimary runs in this process; its workers are the built CLI, forked by node:cluster
// as `serve --workers` forks them. test/e2e/workers*.test.ts cover the shared port, the one
// IdP fetch, SIGHUP reaching both workers and a worker that fails to start; this file covers
// what they leave out: a worker dying while serving, a reload the primary refuses, the
// primary's own file watch with a changed token source, the second signal, and the checks
// made before any worker starts.

// The workers run as `node dist/cli.js` does, without this test process's loaders (tsx,
// tap's mock), and with their output piped here so the test can read their logs.
cluster.setupPrimary({ execArgv: [], silent: true });

const ENTRY = builtCli();

function cliIo(cwd: string, argv: string[], extra: Partial<CliIo> = {}): CliIo {
  return { argv, env: {}, cwd, entry: ENTRY, stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), ...extra };
}

interface WorkerLine {
  msg: string;
  worker?: number;
  level: number;
}

/** Every worker forked from now on: its log lines (JSON on a pipe) and its ready message. */
function watchWorkers(t: Test) {
  const output = new Map<Worker, string[]>();
  const ready: Array<{ worker: Worker; url: string; at: number }> = [];
  const forked: Array<{ worker: Worker; at: number }> = [];
  const exited: Array<{ worker: Worker; at: number }> = [];
  const onFork = (worker: Worker) => {
    forked.push({ worker, at: Date.now() });
    const chunks: string[] = [];
    output.set(worker, chunks);
    worker.process.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    worker.process.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  };
  const onMessage = (worker: Worker, message: unknown) => {
    const { type, url } = (message ?? {}) as { type?: unknown; url?: unknown };
    if (type === WORKER_READY) ready.push({ worker, url: String(url), at: Date.now() });
  };
  const onExit = (worker: Worker) => void exited.push({ worker, at: Date.now() });
  cluster.on('fork', onFork);
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  t.teardown(() => {
    cluster.off('fork', onFork);
    cluster.off('message', onMessage);
    cluster.off('exit', onExit);
    for (const { worker } of forked) if (worker.process.exitCode === null && worker.process.signalCode === null) worker.process.kill('SIGKILL');
  });
  const linesOf = (chunks: string[]): WorkerLine[] =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as WorkerLine);
  return {
    ready,
    forked,
    exited,
    text: () => [...output.values()].map((chunks) => chunks.join('')).join(''),
    lines: (worker?: Worker): WorkerLine[] => (worker ? linesOf(output.get(worker) ?? []) : [...output.values()].flatMap(linesOf)),
    alive: () => forked.filter(({ worker }) => worker.process.exitCode === null && worker.process.signalCode === null).length,
  };
}

/** Statuses of `count` requests, each on a new connection so node:cluster's round robin hands them to every worker. */
async function statuses(url: string, count: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    seen.push(response.status);
  }
  return seen;
}

function refusesConnections(url: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

let idp: TestIdp;
let upstream: TestUpstream;
t.before(async () => {
  idp = await startIdp();
  upstream = await startUpstream({
    jwksUrl: idp.jwksUrl,
    issuer: idp.issuer,
    audience: idp.audience,
    handler: async (req, res) => {
      if (req.url?.startsWith('/slow')) await sleep(5_000, undefined, { ref: false });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    },
  });
});
t.teardown(async () => {
  await upstream.close();
  await idp.close();
});

/** Token requests the IdP had from this client (post sends its id in the form, basic form-encoded in the header). */
function fetchesBy(client: IdpClient): number {
  const basicId = (authorization: string | undefined) =>
    authorization?.startsWith('Basic ') ? decodeURIComponent(Buffer.from(authorization.slice(6), 'base64').toString().split(':')[0]!) : undefined;
  return idp.tokenRequests.filter((request) => request.params.client_id === client.clientId || basicId(request.authorization) === client.clientId).length;
}

/** proxy.yaml beside its secret files: ${file:…} keeps the secrets out of this process's environment, which every worker inherits. */
function configDir(t: Test) {
  const dir = t.testdir({ 'post.secret': idp.clients.post.clientSecret, 'basic.secret': idp.clients.basic.clientSecret });
  const file = join(dir, 'proxy.yaml');
  const write = ({ client = idp.clients.post, routes = ['/a'], token = 'idp', extra = '' } = {}) =>
    writeFileSync(
      file,
      [
        extra,
        'listen: { host: 127.0.0.1, port: 0 }',
        'tokens:',
        `  idp: { tokenUrl: "${idp.tokenUrl}", clientId: ${client.clientId}, clientSecret: "\${file:${client === idp.clients.post ? 'post' : 'basic'}.secret}", authMethod: ${client.authMethod}, allowInsecure: true }`,
        'routes:',
        ...routes.map((prefix) => `  ${prefix}: { target: "${upstream.url}", token: ${token} }`),
        '',
      ].join('\n'),
    );
  write();
  return { dir, file, write, argv: ['serve', '-c', file, '--workers', '2', '--log-level', 'info'] };
}

t.test('the primary checks the command line and the config before it starts a single worker', async (t) => {
  const workers = watchWorkers(t);
  const { dir, file, write, argv } = configDir(t);
  await t.rejects(serve(cliIo(dir, argv, { entry: undefined }), { config: file, workers: '2', logLevel: 'silent' }, testSignals().onSignal), {
    name: 'UsageError',
    exitCode: 1,
    message: '--workers needs the command to be started from its script (node dist/cli.js, or the installed bearer-proxy)',
  });
  write({ token: 'nope' });
  await t.rejects(servePrimary(cliIo(dir, argv), { config: file, logLevel: 'silent' }, 2, testSignals().onSignal), { name: 'ConfigError', message: /routes\["\/a"\]\.token/ });
  write({ extra: 'inbound: { anonymous: any }' });
  await t.rejects(servePrimary(cliIo(dir, argv), { config: file, host: '0.0.0.0', logLevel: 'silent' }, 2, testSignals().onSignal), {
    name: 'UsageError',
    exitCode: 1,
    message: /would listen on 0\.0\.0\.0: anyone who can reach it could use your tokens.*--allow-anonymous-remote/,
  });
  await t.rejects(servePrimary(cliIo(dir, argv), { config: join(dir, 'missing.yaml'), logLevel: 'silent' }, 2, testSignals().onSignal), {
    name: 'ConfigError',
    message: /bearer-proxy init -c .*missing\.yaml/,
  });
  t.equal(workers.forked.length, 0, 'no worker was forked for a start that is refused');
});

t.test('a worker that dies while serving is replaced after a pause; a reload the primary refuses reaches no worker; its own file watch reloads them all; SIGTERM exits 0', async (t) => {
  const workers = watchWorkers(t);
  const { dir, file, write, argv } = configDir(t);
  const signal = testSignals();
  const primary = servePrimary(cliIo(dir, argv), { config: file, logLevel: 'silent' }, 2, signal.onSignal);
  t.same(signal.subscribed, ['SIGINT', 'SIGTERM', 'SIGHUP']);
  await until(() => workers.ready.length === 2, 'two workers ready', 10_000);
  const { url } = workers.ready[0]!;
  t.same(new Set(await statuses(`${url}/a/x`, 8)), new Set([200]));
  const fetched = fetchesBy(idp.clients.post);

  const victim = workers.forked[0]!.worker;
  const victimNumber = workers.lines(victim).find((line) => line.worker !== undefined)?.worker;
  t.ok(victimNumber === 1 || victimNumber === 2, `the victim is worker ${String(victimNumber)}`);
  victim.process.kill('SIGKILL');
  await once(victim, 'exit');
  const diedAt = Date.now();
  t.same(new Set(await statuses(`${url}/a/x`, 6)), new Set([200]), 'the other worker serves every request while one is down');

  await until(() => workers.ready.length === 3, 'a replacement ready', 10_000);
  const replacement = workers.forked[2]!;
  t.ok(replacement.at - diedAt >= 900, `started again after a pause, not in a tight loop (${replacement.at - diedAt} ms)`);
  t.ok(
    workers.lines(replacement.worker).some((line) => line.worker === victimNumber && line.msg.startsWith('bearer-proxy listening')),
    'the replacement takes the dead worker’s number',
  );
  t.same(new Set(await statuses(`${url}/a/x`, 8)), new Set([200]));
  t.equal(fetchesBy(idp.clients.post), fetched, "the replacement was handed the primary's token: no new IdP request");

  // A file the primary refuses is not passed on: a worker told to reload would log its own failure.
  write({ token: 'nope' });
  signal.send('SIGHUP');
  await sleep(300);
  t.same(new Set(await statuses(`${url}/a/x`, 4)), new Set([200]), 'the previous config keeps serving');
  t.same(
    workers.lines().filter((line) => /reload/.test(line.msg)),
    [],
    'no worker heard of the refused reload',
  );

  // No SIGHUP now: the primary notices the file itself (a worker does not watch it), with another client for the source.
  const basicBefore = fetchesBy(idp.clients.basic);
  write({ client: idp.clients.basic, routes: ['/a', '/c'] });
  const reloaded = () => workers.lines().filter((line) => line.msg === 'config reloaded');
  await until(() => reloaded().length >= 2, 'both workers reloading', 8_000);
  t.same([...new Set(reloaded().map((line) => line.worker))].sort(), [1, 2], 'every worker reloaded');
  t.same(new Set(await statuses(`${url}/c/x`, 8)), new Set([200]), 'the new route, on both workers');
  t.equal(fetchesBy(idp.clients.basic) - basicBefore, 1, 'the changed source fetched once, by the primary, for both workers');

  signal.send('SIGTERM');
  t.equal(await primary, 0, 'exit code 0 once every worker has drained');
  t.equal(workers.alive(), 0, 'no worker is left');
  t.equal(await refusesConnections(url), 'ECONNREFUSED', 'the port is closed');
  for (const secret of [idp.clients.post.clientSecret, idp.clients.basic.clientSecret]) t.notMatch(workers.text(), secret, 'no secret in any worker’s output');
});

t.test('a second signal while the workers drain ends them at once and exits 1, as a single process does', async (t) => {
  const workers = watchWorkers(t);
  const { dir, file, argv } = configDir(t);
  const signal = testSignals();
  const primary = servePrimary(cliIo(dir, argv), { config: file, logLevel: 'silent' }, 2, signal.onSignal);
  await until(() => workers.ready.length === 2, 'two workers ready', 10_000);
  const { url } = workers.ready[0]!;
  const seen = upstream.requests.length;
  const slow = fetch(`${url}/a/slow`, { signal: AbortSignal.timeout(8_000) }).then(
    (response) => response.status,
    () => 'cut off',
  );
  await until(() => upstream.requests.length > seen, 'the slow request upstream', 10_000);

  signal.send('SIGTERM');
  await sleep(200);
  t.ok(workers.alive() >= 1, 'draining: the worker with the request in flight is still up');
  const secondAt = Date.now();
  signal.send('SIGINT');
  const code = await primary;
  t.ok(Date.now() - secondAt < 3_000, 'at once, not after the request');
  t.equal(await slow, 'cut off', 'the request in flight was cut short');
  t.equal(workers.alive(), 0);
  // serve without --workers exits 1 here (test/e2e/shutdown.test.ts): the drain did not finish.
  t.equal(code, 1, 'exit 1: the drain was cut short');
});
