import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import t, { type Test } from 'tap';
import { demo } from '../../src/cli/demo.ts';
import { testIo, testSignals } from '../helpers/cli-io.ts';
import { until } from '../helpers/wait.ts';

// demo() in this process with signals the test delivers. test/e2e/cli-demo.test.ts runs the
// built CLI for the --once self-check and /_status; this file covers serving until a signal,
// what is left running afterwards, and the port choices.

/** A CliIo on this process's working directory (the demo reads no file), its output read back. */
function cliIo() {
  const run = testIo({ cwd: process.cwd() });
  return { io: run.io, stdout: () => run.stdout.text, stderr: () => run.stderr.text };
}

/** Listening servers in this process: what the demo leaves behind shows up here. */
const listeningServers = () => process.getActiveResourcesInfo().filter((name) => name === 'TCPServerWrap').length;

/** The count once closed servers have let go of their handles (a few ticks after their close callbacks). */
async function serversSettle(expected: number): Promise<number> {
  const deadline = Date.now() + 2_000;
  while (listeningServers() !== expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return listeningServers();
}

function connectionTo(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname === 'localhost' ? '127.0.0.1' : hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

async function hold(t: Test, port: number): Promise<Server | undefined> {
  const server = createServer();
  const held = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!held) return undefined;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

t.test('demo serves until SIGINT or SIGTERM: a request through the proxy gets data, then the issuer, service and proxy are all closed', async (t) => {
  const { io, stdout } = cliIo();
  const signal = testSignals();
  const running = demo(io, { port: '0' }, signal.onSignal);
  await until(() => stdout().includes('Press Ctrl+C to stop.'), 'the demo to serve', 8_000);
  t.same(signal.subscribed, ['SIGINT', 'SIGTERM'], 'Ctrl+C and a service manager stop it');

  const issuer = /token issuer {3}(http:\/\/\S+)/.exec(stdout())![1]!;
  const service = /OData service {2}(http:\/\/\S+)/.exec(stdout())![1]!;
  const proxy = /proxy {10}(http:\/\/localhost:\d+)\/demo/.exec(stdout())![1]!;
  t.not(new URL(proxy).port, '0', 'the free port it took is the one printed');
  t.match(stdout(), `curl '${proxy}/demo/People?$top=3'`);
  t.match(stdout(), `= OData.Feed("${proxy}/demo/")`);

  const response = await fetch(`${proxy}/demo/People?$top=2`);
  t.equal(response.status, 200);
  const page = (await response.json()) as { value: unknown[]; '@odata.nextLink'?: string };
  t.equal(page.value.length, 2, '$top reached the service');
  t.equal((await fetch(`${service}/People?$top=2`)).status, 401, 'the service itself still refuses a caller without the token');

  // The demo's client secret and tokens are its own: none is shown (a JWT starts with eyJ).
  t.notMatch(stdout(), /eyJ[\w-]+\./, 'no token in the output');
  t.notMatch(stdout(), /secret/i);

  signal.send('SIGTERM');
  t.equal(await running, 0, 'exit code 0');
  for (const url of [issuer, service, proxy]) t.equal(await connectionTo(url), 'ECONNREFUSED', `${url} is closed`);
  t.equal(await serversSettle(0), 0, 'nothing left listening');
});

t.test('8080 taken: the demo says so on stderr and takes a free port; --once then leaves nothing running', async (t) => {
  // Held here, or by another program: either way 8080 cannot be had.
  const held = (await hold(t, 8080)) ? 1 : 0;
  const { io, stdout, stderr } = cliIo();
  t.equal(await demo(io, { once: true }, testSignals().onSignal), 0);
  t.equal(stderr(), 'port 8080 is in use; the demo takes a free port instead\n');
  const proxy = /proxy {10}(http:\/\/localhost:(\d+))\/demo/.exec(stdout());
  t.ok(proxy && proxy[2] !== '8080' && proxy[2] !== '0', `listening on ${proxy?.[1]}`);
  t.match(stdout(), /✓ followed every page/);
  t.notMatch(stdout(), 'Press Ctrl+C', '--once does not serve on');
  t.equal(await serversSettle(held), held, 'issuer, service and proxy all closed');
});

t.test('a port given with --port that is taken is a usage error (exit 1), and what the demo started is closed again', async (t) => {
  const squatter = await hold(t, 0);
  const { port } = squatter!.address() as AddressInfo;
  const { io, stdout } = cliIo();
  await t.rejects(demo(io, { port: String(port) }, testSignals().onSignal), {
    name: 'UsageError',
    exitCode: 1,
    message: `port ${port} is already in use: pass another with --port`,
  });
  t.equal(stdout(), '', 'nothing claimed to be running');
  t.equal(await serversSettle(1), 1, 'only the squatter listens: the issuer and the OData service are closed');
});

t.test('a port that is not a number is a usage error (exit 2) naming it, with nothing left running', async (t) => {
  for (const bad of ['８０８０', '65536', 'http', '-1']) {
    const { io } = cliIo();
    await t.rejects(demo(io, { port: bad }, testSignals().onSignal), { name: 'UsageError', exitCode: 2, message: `--port must be a whole number from 0 to 65535, not "${bad}"` });
    t.equal(await serversSettle(0), 0, `${bad}: nothing left listening`);
  }
});
