import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { systemClock } from '../src/clock.ts';
import { configSchema } from '../src/config/schema.ts';
import { createTransport } from '../src/http/transport.ts';
import { createTokenProvider } from '../src/tokens/factory.ts';
import { answerTokenRequests } from '../src/tokens/shared-tokens.ts';
import { builtCli, collect, runCli, waitForLine, type CliResult } from './helpers/cli.ts';
import { startScriptedIdp, tokenAnswer, type ScriptedIdp } from './helpers/scripted-idp.ts';
import { startUpstream } from './helpers/upstream.ts';

// The entry point as users run it (node dist/cli.js): how each kind of failure reaches the
// terminal, --version, the exit that does not wait for stray handles, and the link to a
// parent process. test/e2e/cli-usage.test.ts covers help and usage mistakes (exit 2),
// cli-commands.test.ts `check`'s report; this file covers what cli.ts itself decides.

const STACK_FRAME = /\n\s+at /;

const configFile = (tokenUrl: string, target: string, secret = '${SECRET}') =>
  [
    'listen: { host: 127.0.0.1, port: 0 }',
    'tokens:',
    `  lake: { tokenUrl: "${tokenUrl}", clientId: reporting, clientSecret: "${secret}", allowInsecure: true }`,
    'routes:',
    `  /lake: { target: "${target}", token: lake }`,
    '',
  ].join('\n');

/** An IdP that hands out one opaque token and counts who asked. */
function opaqueIdp(t: Test, value = 'opaque-token-from-the-idp'): Promise<ScriptedIdp> {
  return startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: value, token_type: 'Bearer', expires_in: 3600 }));
}

async function heldPort(t: Test): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

t.test('a UsageError from a command: its message after "bearer-proxy: ", its own exit code, no stack', async (t) => {
  const port = await heldPort(t);
  const dir = t.testdir({ 'proxy.yaml': configFile('https://idp.example/token', 'https://api.example') });
  const [taken, unnamed] = await Promise.all([
    runCli(['serve', '-c', join(dir, 'proxy.yaml'), '--port', String(port), '--log-level', 'warn'], { env: { SECRET: 'x' } }),
    // Thrown by the command after the config loaded, with UsageError's default code.
    runCli(['token', '-c', join(dir, 'proxy.yaml')], { env: { SECRET: 'x' } }),
  ]);
  t.equal(taken.code, 1, 'a port in use is exit 1, not the usage-mistake 2');
  t.equal(taken.stderr, `bearer-proxy: 127.0.0.1:${port} is already in use: stop the other program or pass --port\n`);
  t.equal(taken.stdout, '');

  t.equal(unnamed.code, 2);
  t.equal(unnamed.stderr, 'bearer-proxy: name a token source: bearer-proxy token <source>  (defined: lake)\n');
});

t.test("a ConfigError: the loader's report as it is (it starts with the file), exit 1, no stack, no secret", async (t) => {
  const secret = 'hunter2-from-the-environment';
  const dir = t.testdir({ 'proxy.yaml': configFile('not a url', 'https://api.example') });
  const result = await runCli(['serve', '-c', join(dir, 'proxy.yaml')], { env: { SECRET: secret } });
  t.equal(result.code, 1);
  t.equal(result.stderr, `${join(dir, 'proxy.yaml')}: 1 problem\n  ${join(dir, 'proxy.yaml')}:3:21 tokens.lake.tokenUrl: expected an absolute http:// or https:// URL\n`);
  t.notMatch(result.stderr, /^bearer-proxy: /, 'the report names the file, not the program');
  t.notMatch(result.stderr, STACK_FRAME);
  t.notMatch(result.stderr + result.stdout, secret);
});

t.test('a ConfigError never repeats the value of a secret it complains about', async (t) => {
  // YAML reads an unquoted all-digit secret or password as a number; the complaint must not print it.
  const dir = t.testdir({
    'proxy.yaml': `inbound:\n  users: [{ name: gateway, password: 987654321012 }]\n${configFile('https://idp.example/token', 'https://api.example').replace('"${SECRET}"', '80443217766151')}`,
  });
  const result = await runCli(['check', '-c', join(dir, 'proxy.yaml')]);
  t.equal(result.code, 1);
  t.match(result.stderr, /inbound\.users\[0\]\.password: expected text/);
  t.match(result.stderr, /tokens\.lake\.clientSecret: expected text/);
  t.notMatch(result.stderr, '987654321012', 'the password is not in the message');
  t.notMatch(result.stderr, '80443217766151', 'the client secret is not in the message');
});

t.test('a ProxyError: "bearer-proxy: CODE: message", exit 1, with what the IdP quoted of the secret redacted', async (t) => {
  const secret = 'client-secret-the-idp-quotes-back';
  const idp = await startScriptedIdp(t, (_req, res, body) =>
    tokenAnswer(res, { error: 'invalid_client', error_description: `secret ${body.get('client_secret') ?? ''} is not valid for ${body.get('client_id') ?? ''}` }, 401),
  );
  const dir = t.testdir({ 'proxy.yaml': configFile(idp.tokenUrl, 'https://api.example') });
  const result = await runCli(['token', 'lake', '-c', join(dir, 'proxy.yaml')], { env: { SECRET: secret } });
  t.equal(result.code, 1);
  t.match(result.stderr, /^bearer-proxy: TOKEN_FETCH_FAILED: The identity provider refused the token request for "lake" with invalid_client: .*is not valid for reporting\n$/);
  t.equal(idp.tokenRequests.length, 1, 'the IdP was asked');
  t.notMatch(result.stderr, secret);
  t.notMatch(result.stderr, STACK_FRAME);
  t.equal(result.stdout, '');
});

t.test('anything else is a bug: "unexpected failure" with the stack, exit 70', async (t) => {
  // An incomplete install (a file of the package missing) fails where no command expects it.
  const dir = t.testdir({});
  cpSync(dirname(builtCli()), join(dir, 'dist'), { recursive: true });
  copyFileSync(join(dirname(builtCli()), '..', 'package.json'), join(dir, 'package.json'));
  rmSync(join(dir, 'dist', 'cli', 'check.js'));
  const broken = join(dir, 'dist', 'cli.js');
  const run = (args: string[]) => collect(spawn(process.execPath, [broken, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const [check, version] = await Promise.all([run(['check']), run(['--version'])]);
  t.equal(check.code, 70);
  t.match(check.stderr, /^bearer-proxy: unexpected failure: Error \[ERR_MODULE_NOT_FOUND\]: Cannot find module '.*check\.js'/);
  t.match(check.stderr, STACK_FRAME, 'with the stack, for the bug report');
  t.equal(version.code, 0, 'commands that need nothing of what is missing still work');
});

t.test('--version prints the version and runs no command, whatever else is on the line', async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const results = await Promise.all([
    runCli(['--version']),
    runCli(['-v']),
    // A command that would fail (no such file, a port in use) is never started.
    runCli(['serve', '-c', '/nonexistent/proxy.yaml', '--version']),
    runCli(['demo', '--port', '1', '-v']),
  ]);
  for (const result of results) t.same(result, { code: 0, stdout: `${version}\n`, stderr: '' });
});

/** The CLI with a module preloaded that keeps the event loop busy forever, as some APM agents and --require hooks do. */
function withLoopHeld(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult & { ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'data:text/javascript,setInterval(() => {}, 60_000)', builtCli(), ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Without the exit cli.ts forces, this child would never end: stop it where the test can say why.
  const guard = setTimeout(() => child.kill('SIGKILL'), 8_000);
  return collect(child).then((result) => (clearTimeout(guard), { ...result, ms: performance.now() - started }));
}

t.test('the process exits with its code once the command is done, even when something else holds the event loop', async (t) => {
  const dir = t.testdir({});
  const [version, missing, demo] = await Promise.all([withLoopHeld(['--version']), withLoopHeld(['check', '-c', join(dir, 'nope.yaml')]), withLoopHeld(['demo', '--once', '--port', '0'])]);
  t.equal(version.code, 0);
  t.equal(missing.code, 1, 'a failure keeps its exit code');
  t.match(missing.stderr, /nope\.yaml: 1 problem/);
  t.equal(demo.code, 0, 'after servers ran and closed');
  t.match(demo.stdout, /✓ followed every page/);
  for (const [name, result] of [
    ['--version', version],
    ['check', missing],
    ['demo', demo],
  ] as const)
    t.ok(result.ms < 6_000, `${name} ended in ${Math.round(result.ms)} ms`);
});

/** The built CLI with an IPC channel to this process, as child_process.fork, pm2 (fork mode) or node:cluster start it. */
function forkCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [builtCli(), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
}

t.test('started with an IPC channel but not as a worker (pm2, child_process.fork): an ordinary serve that fetches its own tokens', async (t) => {
  const idp = await opaqueIdp(t);
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = t.testdir({ 'proxy.yaml': configFile(idp.tokenUrl, upstream.url) });
  const child = forkCli(['serve', '-c', join(dir, 'proxy.yaml')], { SECRET: 'x' });
  t.teardown(() => void child.kill('SIGKILL'));
  const messages: unknown[] = [];
  child.on('message', (message) => messages.push(message));
  const exited = collect(child);
  const { url } = JSON.parse(await waitForLine(child, /listening on/)) as { url: string };
  const response = await fetch(`${url}/lake/x`, { signal: AbortSignal.timeout(5_000) });
  t.equal(response.status, 200);
  await response.arrayBuffer();
  t.equal(upstream.requests.at(-1)?.authorization, 'Bearer opaque-token-from-the-idp');
  t.equal(idp.tokenRequests.length, 1, 'it asked the IdP itself');
  t.same(messages, [], 'and asked nothing of its parent');
  child.kill('SIGTERM');
  t.equal((await exited).code, 0);
});

t.test('started as a worker: the link to the parent carries its ready message, its token requests and the stop', async (t) => {
  const idp = await opaqueIdp(t, 'token-from-the-primary');
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  // The worker's own config points at an IdP that is not there: every token must come over the link.
  const dir = t.testdir({ 'proxy.yaml': configFile('http://127.0.0.1:9/token', upstream.url) });
  const child = forkCli(['serve', '-c', join(dir, 'proxy.yaml')], { SECRET: 'x', BEARER_PROXY_WORKER: '1' });
  t.teardown(() => void child.kill('SIGKILL'));
  const exited = collect(child);
  const listening = waitForLine(child, /listening on/);
  const ready = new Promise<{ url: string }>((resolve) =>
    child.on('message', (message) => {
      if ((message as { type?: unknown }).type === 'bearer-proxy:ready') resolve(message as { url: string });
    }),
  );
  const transport = createTransport({ env: {} });
  t.teardown(() => transport.close());
  const source = configSchema.parse({
    tokens: { lake: { tokenUrl: idp.tokenUrl, clientId: 'reporting', clientSecret: 'x', allowInsecure: true } },
    routes: { '/lake': { target: upstream.url, token: 'lake' } },
  }).tokens.lake!;
  const provider = createTokenProvider('lake', source, { transport, clock: systemClock });
  answerTokenRequests(child, (name) => (name === 'lake' ? provider : undefined));

  const { url } = await ready;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.match(await listening, /"worker":1/, 'its log lines say which worker wrote them');
  const response = await fetch(`${url}/lake/x`, { signal: AbortSignal.timeout(5_000) });
  t.equal(response.status, 200);
  await response.arrayBuffer();
  t.equal(upstream.requests.at(-1)?.authorization, 'Bearer token-from-the-primary', "the parent's token");
  t.equal(idp.tokenRequests.length, 1);

  child.send({ type: 'bearer-proxy:stop' });
  const result = await exited;
  t.equal(result.code, 0, 'the stop message drains it and it exits 0');
  t.match(result.stdout, /"msg":"stopped"/);
});
