import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { UsageError, type CliIo } from '../../src/cli/io.ts';
import { logOutput, parseLogFormat, parseLogLevel, parsePort, serve, serveConfigLoader, WORKER_ENV, WORKER_MESSAGES, WORKER_READY } from '../../src/cli/serve.ts';
import { systemClock } from '../../src/clock.ts';
import { configSchema } from '../../src/config/schema.ts';
import { createTransport } from '../../src/http/transport.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createTokenProvider } from '../../src/tokens/factory.ts';
import { answerTokenRequests } from '../../src/tokens/shared-tokens.ts';
import { postClientSource, startIdp, type TestIdp } from '../helpers/idp.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { testSignals } from '../helpers/cli-io.ts';
import { until } from '../helpers/wait.ts';

const LEVELS = 'fatal, error, warn, info, debug, trace, silent';

function cliIo(cwd: string, env: Record<string, string> = {}, extra: Partial<CliIo> = {}): CliIo {
  return { argv: [], env, cwd, stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), ...extra };
}

/** The UsageError a call throws; t.fail when it returns. */
function usageError(t: Test, call: () => unknown, what = 'the value'): UsageError | undefined {
  try {
    call();
  } catch (error) {
    t.type(error, UsageError);
    return error as UsageError;
  }
  t.fail(`${what} was accepted`);
  return undefined;
}

/** A port that was free a moment ago: serve's logs go to standard output, so the test chooses where it listens. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function refusesConnections(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

function capturingLogger() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(chunk.toString())) }) });
  return { logger, text: () => lines.join(''), logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const fileConfig = (idp: TestIdp, upstream: TestUpstream, { host = '127.0.0.1', extra = '', routes = ['/api'] } = {}) =>
  [
    `listen: { host: "${host}", port: 0 }`,
    extra,
    'tokens:',
    `  idp: { tokenUrl: "${idp.tokenUrl}", clientId: ${idp.clients.post.clientId}, clientSecret: "\${SECRET}", allowInsecure: true }`,
    'routes:',
    ...routes.map((prefix) => `  ${prefix}: { target: "${upstream.url}", token: idp }`),
    '',
  ].join('\n');

let idp: TestIdp;
let upstream: TestUpstream;
t.before(async () => {
  idp = await startIdp();
  upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
});
t.teardown(async () => {
  await upstream.close();
  await idp.close();
});

t.test('the log level: --log-level, else LOG_LEVEL, else info; an empty LOG_LEVEL counts as unset', async (t) => {
  t.equal(parseLogLevel(undefined, undefined), 'info');
  t.equal(parseLogLevel(undefined, ''), 'info', 'a compose file that leaves LOG_LEVEL= empty');
  t.equal(parseLogLevel(undefined, 'debug'), 'debug');
  t.equal(parseLogLevel('warn', 'debug'), 'warn', 'the flag wins');
  t.equal(parseLogLevel('silent', undefined), 'silent');
});

t.test('a log level pino does not know is a usage error (exit 2) naming where it came from', async (t) => {
  for (const bad of ['verbose', 'INFO', ' info', '__proto__', 'constructor', 'toString', 'ïnfo', 'x'.repeat(10_000)]) {
    const flag = usageError(t, () => parseLogLevel(bad, 'info'));
    t.equal(flag?.message, `--log-level must be one of ${LEVELS}, not "${bad}"`, `flag ${bad.slice(0, 20)}`);
    t.equal(flag?.exitCode, 2);
    t.equal(usageError(t, () => parseLogLevel(undefined, bad))?.message, `LOG_LEVEL must be one of ${LEVELS}, not "${bad}"`, `env ${bad.slice(0, 20)}`);
  }
  // `--log-level=` is a flag given empty: unlike an empty LOG_LEVEL it is a mistake, not "unset".
  t.equal(usageError(t, () => parseLogLevel('', 'debug'))?.message, `--log-level must be one of ${LEVELS}, not ""`);
});

t.test('the log format: --log-format, else LOG_FORMAT, else chosen by the terminal; wrong values named', async (t) => {
  t.equal(parseLogFormat(undefined, undefined), undefined);
  t.equal(parseLogFormat(undefined, ''), undefined, 'an empty LOG_FORMAT counts as unset');
  t.equal(parseLogFormat(undefined, 'pretty'), 'pretty');
  t.equal(parseLogFormat('json', 'pretty'), 'json', 'the flag wins');
  for (const bad of ['text', 'JSON', '__proto__', 'constructor', '']) {
    t.equal(usageError(t, () => parseLogFormat(bad, undefined))?.message, `--log-format must be one of json, pretty, not "${bad}"`);
  }
  t.equal(usageError(t, () => parseLogFormat(undefined, 'hasOwnProperty'))?.message, 'LOG_FORMAT must be one of json, pretty, not "hasOwnProperty"');
});

t.test('log output: readable on a terminal or when asked, coloured only on a terminal without NO_COLOR', async (t) => {
  const io = (isTTY: boolean, env: Record<string, string> = {}) => cliIo('/', env, { stdout: Object.assign(new PassThrough(), { isTTY }) });
  t.same(logOutput(io(true), undefined), { pretty: true, color: true }, 'a terminal');
  t.same(logOutput(io(false), undefined), { pretty: false, color: false }, 'a pipe or file: JSON lines');
  t.same(logOutput(io(false), 'pretty'), { pretty: true, color: false }, 'pretty through a pipe, without escape codes');
  t.same(logOutput(io(true), 'json'), { pretty: false, color: true }, 'JSON on a terminal when asked');
  t.same(logOutput(io(true, { NO_COLOR: '1' }), undefined), { pretty: true, color: false }, 'NO_COLOR');
  // no-color.org: only a NO_COLOR that is present and not empty turns colour off.
  t.same(logOutput(io(true, { NO_COLOR: '' }), undefined), { pretty: true, color: true }, 'an empty NO_COLOR');
});

t.test('a port is a whole number from 0 to 65535', async (t) => {
  t.equal(parsePort('0'), 0, '0 takes a free port');
  t.equal(parsePort('8080'), 8080);
  t.equal(parsePort('65535'), 65535);
  for (const bad of ['65536', '-1', 'eighty', '８０', '80.5', 'NaN', 'Infinity', '__proto__', '9'.repeat(400)]) {
    const error = usageError(t, () => parsePort(bad));
    t.equal(error?.message, `--port must be a whole number from 0 to 65535, not "${bad}"`, bad.slice(0, 20));
    t.equal(error?.exitCode, 2);
  }
});

t.test('parsePort refuses what the command line refuses: empty, padded, hex and exponent forms are not ports', async (t) => {
  // args.ts checks --port with /^\d+$/; Number() reads '' as 0 (a random port), ' 80' and '0x50' as 80, '1e3' as 1000.
  for (const bad of ['', ' 80', '80 ', '0x50', '1e3', '+80', '0b1010000', '\t8080\n']) {
    t.equal(usageError(t, () => parsePort(bad), JSON.stringify(bad))?.message, `--port must be a whole number from 0 to 65535, not "${bad}"`, JSON.stringify(bad));
  }
});

t.test('the config loader applies --host and --port on every load, so a reload cannot undo them', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream).replace('port: 0', 'port: 9999') });
  const { logger } = capturingLogger();
  const loader = serveConfigLoader(cliIo(dir, { SECRET: 'x' }), { port: '7001', host: 'localhost' }, logger);
  t.match(loader.load().config.listen, { host: 'localhost', port: 7001 });
  writeFileSync(join(dir, 'proxy.yaml'), fileConfig(idp, upstream).replace('port: 0', 'port: 9998'));
  t.match(loader.load().config.listen, { host: 'localhost', port: 7001 }, 'after the file changed');
  t.match(serveConfigLoader(cliIo(dir, { SECRET: 'x' }), {}, logger).load().config.listen, { host: '127.0.0.1', port: 9998 }, 'without flags, the file');
  t.equal(
    usageError(t, () => serveConfigLoader(cliIo(dir, { SECRET: 'x' }), { port: 'eighty' }, logger).load())?.message,
    '--port must be a whole number from 0 to 65535, not "eighty"',
    'a bad --port reaches the user as a usage message',
  );
});

t.test('anonymous access beyond loopback: refused unless --allow-anonymous-remote, and then a warning', async (t) => {
  const secret = `secret-${'z'.repeat(32)}`;
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream, { extra: 'inbound: { anonymous: any }' }) });
  const io = cliIo(dir, { SECRET: secret });
  const refused = usageError(t, () => serveConfigLoader(io, { host: '0.0.0.0' }, capturingLogger().logger).load());
  t.match(refused?.message, /^inbound\.anonymous is "any" and the proxy would listen on 0\.0\.0\.0: anyone who can reach it could use your tokens\. .*--allow-anonymous-remote/);
  t.equal(refused?.exitCode, 1);
  t.notMatch(refused?.message, secret);

  const allowed = capturingLogger();
  t.equal(serveConfigLoader(io, { host: '0.0.0.0', allowAnonymousRemote: true }, allowed.logger).load().config.inbound.anonymous, 'any');
  t.match(allowed.logs(), [{ level: 40, host: '0.0.0.0', msg: /^anonymous access from any address is on \(--allow-anonymous-remote\)/ }]);
  t.notMatch(allowed.text(), secret, 'no secret in the warnings');

  const loopbackOnly = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  const noUsers = capturingLogger();
  serveConfigLoader(cliIo(loopbackOnly, { SECRET: secret }), { host: '0.0.0.0' }, noUsers.logger).load();
  t.match(noUsers.logs(), [{ level: 40, host: '0.0.0.0', msg: 'listening beyond loopback but inbound.users is empty: only loopback callers can use the proxy' }]);
  const onLoopback = capturingLogger();
  serveConfigLoader(cliIo(loopbackOnly, { SECRET: secret }), {}, onLoopback.logger).load();
  t.equal(onLoopback.text(), '', 'nothing to warn about on loopback');
});

t.test('once listening, the exposure check is made where the proxy really listens, not where the file now says', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  const io = cliIo(dir, { SECRET: 'x' });
  const loader = serveConfigLoader(io, {}, capturingLogger().logger);
  loader.listening = loader.load().config.listen;
  // A reload cannot move the listener: still on loopback, anonymous "any" exposes nothing more.
  writeFileSync(join(dir, 'proxy.yaml'), fileConfig(idp, upstream, { host: '0.0.0.0', extra: 'inbound: { anonymous: any }' }));
  t.equal(loader.load().config.inbound.anonymous, 'any');

  const exposed = serveConfigLoader(io, { host: '0.0.0.0' }, capturingLogger().logger);
  writeFileSync(join(dir, 'proxy.yaml'), fileConfig(idp, upstream));
  exposed.listening = exposed.load().config.listen;
  writeFileSync(join(dir, 'proxy.yaml'), fileConfig(idp, upstream, { host: '127.0.0.1', extra: 'inbound: { anonymous: any }' }));
  t.match(usageError(t, () => exposed.load())?.message, /would listen on 0\.0\.0\.0/, 'listening on every interface: the file saying 127.0.0.1 does not make it safe');
});

t.test('serve listens, injects the bearer token, and on SIGTERM drains and resolves 0 with the port closed', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  const port = await freePort();
  const io = cliIo(dir, { SECRET: idp.clients.post.clientSecret });
  const signal = testSignals();
  const fetchedBefore = idp.tokenRequests.length;
  const served = serve(io, { port: String(port), logLevel: 'silent' }, signal.onSignal);
  await until(signal.subscribedYet, 'serve to listen');
  t.same(signal.subscribed, ['SIGINT', 'SIGTERM', 'SIGHUP']);

  const response = await fetch(`http://127.0.0.1:${port}/api/orders?top=1`);
  t.equal(response.status, 200);
  const echoed = (await response.json()) as { url: string; claims?: { aud?: unknown; client_id?: unknown } };
  t.equal(echoed.url, '/orders?top=1');
  t.match(echoed.claims, { aud: idp.audience, client_id: idp.clients.post.clientId }, 'the upstream verified the injected token');
  t.match(upstream.requests.at(-1)?.authorization, /^Bearer ey/);
  t.ok(idp.tokenRequests.length > fetchedBefore, 'this process fetched the token itself');

  signal.send('SIGTERM');
  t.equal(await served, 0, 'exit code 0');
  t.equal(await refusesConnections(port), 'ECONNREFUSED', 'the port is closed');
});

t.test('SIGHUP reloads the file in place: a new route answers on the same port', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  const port = await freePort();
  const signal = testSignals();
  const served = serve(cliIo(dir, { SECRET: idp.clients.post.clientSecret }), { port: String(port), logLevel: 'silent' }, signal.onSignal);
  await until(signal.subscribedYet, 'serve to listen');
  t.equal((await fetch(`http://127.0.0.1:${port}/new/x`)).status, 404);
  writeFileSync(join(dir, 'proxy.yaml'), fileConfig(idp, upstream, { routes: ['/api', '/new'] }));
  signal.send('SIGHUP');
  t.equal((await fetch(`http://127.0.0.1:${port}/new/x`)).status, 200);
  signal.send('SIGINT');
  t.equal(await served, 0);
});

t.test('BEARER_PROXY_WORKER in the environment without a link to a primary is an ordinary serve', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  const port = await freePort();
  const signal = testSignals();
  const fetchedBefore = idp.tokenRequests.length;
  const served = serve(cliIo(dir, { SECRET: idp.clients.post.clientSecret, [WORKER_ENV]: '1' }), { port: String(port), logLevel: 'silent' }, signal.onSignal);
  await until(signal.subscribedYet, 'serve to listen');
  // A worker would wait for a primary that is not there: the request would never get a token.
  t.equal((await fetch(`http://127.0.0.1:${port}/api/x`, { signal: AbortSignal.timeout(5_000) })).status, 200);
  t.ok(idp.tokenRequests.length > fetchedBefore);
  signal.send('SIGTERM');
  t.equal(await served, 0);
});

t.test('a port in use, or a host name that does not resolve, is a usage message with exit 1, not a stack trace', async (t) => {
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void squatter.close());
  const { port } = squatter.address() as AddressInfo;
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  await t.rejects(serve(cliIo(dir, { SECRET: 'x' }), { port: String(port), logLevel: 'silent' }, testSignals().onSignal), {
    name: 'UsageError',
    exitCode: 1,
    message: `127.0.0.1:${port} is already in use: stop the other program or pass --port`,
  });
  await t.rejects(serve(cliIo(dir, { SECRET: 'x' }), { host: 'no-such-host.invalid', port: '0', logLevel: 'silent' }, testSignals().onSignal), {
    name: 'UsageError',
    exitCode: 1,
    message: 'cannot listen on no-such-host.invalid: no such address on this machine',
  });
});

t.test('an address the machine cannot listen on (IPv6 link-local without a zone) is a usage message, not an unexpected failure', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  // Linux answers EINVAL here, which serve does not map: the CLI then prints "unexpected failure" with a stack and exits 70.
  await t.rejects(serve(cliIo(dir, { SECRET: 'x' }), { host: 'fe80::1', port: '0', logLevel: 'silent' }, testSignals().onSignal), {
    name: 'UsageError',
    exitCode: 1,
    message: /fe80::1/,
  });
});

/**
 * Both ends of a primary–worker link in one process, as node:cluster's IPC carries
 * messages: serialised, and delivered on a later tick.
 */
function ipcLink() {
  const worker = new EventEmitter() as EventEmitter & { send(message: unknown): boolean };
  const primary = new EventEmitter() as EventEmitter & { send(message: unknown): boolean };
  const fromWorker: unknown[] = [];
  worker.send = (message) => {
    fromWorker.push(JSON.parse(JSON.stringify(message)));
    setImmediate(() => primary.emit('message', JSON.parse(JSON.stringify(message))));
    return true;
  };
  primary.send = (message) => {
    setImmediate(() => worker.emit('message', JSON.parse(JSON.stringify(message))));
    return true;
  };
  return { worker, primary, fromWorker };
}

/** The primary's side: one real provider per source, answering the worker's token requests. */
function primaryAnswering(t: Test, primary: Parameters<typeof answerTokenRequests>[0]) {
  const transport = createTransport({ env: {} });
  t.teardown(() => transport.close());
  const source = configSchema.parse({
    tokens: { idp: postClientSource(idp) },
    routes: { '/api': { target: upstream.url, token: 'idp' } },
  }).tokens.idp!;
  const provider = createTokenProvider('idp', source, { transport, clock: systemClock });
  answerTokenRequests(primary, (name) => (name === 'idp' ? provider : undefined));
}

t.test('as a worker: says it is ready with its URL, asks the primary for tokens, reloads and stops when the primary says so', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  const link = ipcLink();
  primaryAnswering(t, link.primary);
  const signal = testSignals();
  // No secret in this process's env: a worker's tokens come from the primary, never from its own IdP call.
  const served = serve(cliIo(dir, { SECRET: 'not-the-real-secret', [WORKER_ENV]: '2' }, { ipc: link.worker }), { logLevel: 'silent' }, signal.onSignal);
  await until(() => link.fromWorker.some((message) => (message as { type?: string }).type === WORKER_READY), 'the ready message');
  const ready = link.fromWorker.find((message) => (message as { type?: string }).type === WORKER_READY) as { url: string };
  t.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the URL it listens on');

  const response = await fetch(`${ready.url}/api/x`, { signal: AbortSignal.timeout(5_000) });
  t.equal(response.status, 200, 'served with the token the primary handed over');
  t.match(link.fromWorker, [{ type: WORKER_READY }, { type: 'bearer-proxy:token', source: 'idp' }]);
  t.notOk(
    idp.tokenRequests.some((request) => request.params.client_secret === 'not-the-real-secret'),
    'the worker never asked the IdP with its own copy of the config',
  );

  writeFileSync(join(dir, 'proxy.yaml'), fileConfig(idp, upstream, { routes: ['/api', '/new'] }));
  signal.send('SIGHUP');
  t.equal((await fetch(`${ready.url}/new/x`)).status, 404, 'a SIGHUP to the whole process group reloads through the primary only, once');
  link.primary.send({ type: WORKER_MESSAGES.reload, reason: 'SIGHUP' });
  // Delivered on the next turn of the loop, as IPC is; the reload itself is synchronous.
  await new Promise((resolve) => setImmediate(resolve));
  t.equal((await fetch(`${ready.url}/new/x`, { signal: AbortSignal.timeout(5_000) })).status, 200, "the primary's reload message applies the file");

  link.primary.send({ type: WORKER_MESSAGES.stop });
  t.equal(await served, 0);
  t.equal(await refusesConnections(Number(new URL(ready.url).port)), 'ECONNREFUSED');
});

t.test('as a worker: when the primary goes away, it drains and resolves 0', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': fileConfig(idp, upstream) });
  const link = ipcLink();
  const served = serve(cliIo(dir, { SECRET: 'x', [WORKER_ENV]: '1' }, { ipc: link.worker }), { logLevel: 'silent' }, testSignals().onSignal);
  await until(() => link.fromWorker.length > 0, 'the ready message');
  const { url } = link.fromWorker[0] as { url: string };
  link.worker.emit('disconnect');
  t.equal(await served, 0);
  t.equal(await refusesConnections(Number(new URL(url).port)), 'ECONNREFUSED');
});
