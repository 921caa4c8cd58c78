import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { runCli, spawnCli, waitForLine } from '../helpers/cli.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startScriptedIdp, tokenAnswer } from '../helpers/scripted-idp.ts';
import { onTerminal, plainText } from '../helpers/terminal.ts';

// serve's log as a person sees it on a terminal (a pty made by util-linux `script`), and
// what --log-format and LOG_FORMAT change.

const TIME = '\\d\\d:\\d\\d:\\d\\d\\.\\d{3}';

async function setup(t: Test) {
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'terminal-test-token', token_type: 'Bearer', expires_in: 3600 }));
  const body = JSON.stringify({ value: Array.from({ length: 200 }, (_, id) => ({ id, name: `row ${id}` })) });
  const upstream = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  const upstreamUrl = await listen(upstream);
  t.teardown(() => closeServer(upstream));
  const dir = t.testdir({
    'proxy.yaml': [
      'listen: { port: 0 }',
      'tokens:',
      `  lake: { tokenUrl: "${idp.tokenUrl}", clientId: c, clientSecret: "\${LAKE_SECRET}", allowInsecure: true }`,
      'routes:',
      `  /sales: { target: "${upstreamUrl}/odata", token: lake }`,
      // Port 1: nothing listens there, so the connection is refused.
      '  /dead: { target: "http://127.0.0.1:1/odata", token: lake }',
      '',
    ].join('\n'),
  });
  return { config: `${dir}/proxy.yaml`, bytes: Buffer.byteLength(body) };
}

t.test('on a terminal: one line per request, coloured by status; the dead upstream is a warning', async (t) => {
  const { config, bytes } = await setup(t);
  const session = onTerminal(['serve', '-c', config], { LAKE_SECRET: 'terminal-test-secret' });
  t.teardown(() => session.type('\u0003'));
  const url = /bearer-proxy listening on (http:\/\/\S+)/.exec(plainText(await session.waitFor(/listening on http:[^\n]*\n/)))![1]!;
  t.equal((await fetch(`${url}/sales/Orders?$top=5`)).status, 200);
  t.equal((await fetch(`${url}/dead/Orders`)).status, 502);
  await session.waitFor('/dead/Orders');
  session.type('\u0003');
  const { code, output } = await session.exited;
  t.equal(code, 0, 'Ctrl+C drains and exits 0');
  const lines = plainText(output).split('\n');
  const kB = (bytes / 1000).toFixed(1);
  t.match(lines, [new RegExp(`^${TIME} INFO  bearer-proxy listening on http://\\S+ `)], 'the start line');
  t.ok(
    lines.some((line) => new RegExp(`^${TIME} INFO  token lake fetched: valid 60 min; IdP answered in \\S+ ms$`).test(line)),
    'the token fetch on a line of its own',
  );
  t.ok(
    lines.some((line) => new RegExp(`^${TIME} INFO  GET /sales/Orders 200 \\d+(\\.\\d)? ms upstream=200 token=lake ${kB.replace('.', '\\.')} kB$`).test(line)),
    `the access line, as nginx prints one (path without the query): ${lines.filter((line) => line.includes('GET')).join(' | ')}`,
  );
  t.ok(
    lines.some((line) => new RegExp(`^${TIME} WARN  GET /dead/Orders 502 \\S+ ms token=lake UPSTREAM_UNREACHABLE .*ECONNREFUSED.* id=\\S+$`).test(line)),
    'the unreachable upstream is a warning',
  );
  t.match(output, '\u001b[32m200\u001b[0m', '2xx in green');
  t.match(output, '\u001b[31m502\u001b[0m', '5xx in red');
  t.notMatch(output, /"level":|"msg":/, 'no JSON on a terminal');
  t.notMatch(output, /terminal-test-(secret|token)/, 'neither the secret nor the token');
  t.equal(lines.filter((line) => line.includes('GET /sales/Orders')).length, 1, 'one line per request, not a block');
});

t.test('--log-format pretty through a pipe: readable, no colour; --log-level warn keeps the warning', async (t) => {
  const { config } = await setup(t);
  // At warn the start line is not logged, so the port is chosen here.
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const child = spawnCli(['serve', '-c', config, '--port', String(port), '--log-format', 'pretty', '--log-level', 'warn'], { env: { LAKE_SECRET: 's' } });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  await untilServing(url);
  t.equal((await fetch(`${url}/sales/Orders`)).status, 200);
  t.equal((await fetch(`${url}/dead/Orders`)).status, 502);
  const warning = await waitForLine(child, /GET \/dead\/Orders/);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('close', resolve));
  t.match(warning, new RegExp(`^${TIME} WARN  GET /dead/Orders 502 .*UPSTREAM_UNREACHABLE`));
  t.notMatch(stdout, /INFO|GET \/sales/, 'nothing below warn');
  t.notMatch(stdout, '\u001b[', 'no colour codes into a pipe');
});

t.test('LOG_FORMAT=json on a terminal: JSON lines; a wrong value is a usage error', async (t) => {
  const { config } = await setup(t);
  const session = onTerminal(['serve', '-c', config], { LAKE_SECRET: 's', LOG_FORMAT: 'json' });
  t.teardown(() => session.type('\u0003'));
  const shown = plainText(await session.waitFor(/bearer-proxy listening[^\n]*\n/));
  const line = shown.split('\n').find((candidate) => candidate.includes('bearer-proxy listening'))!;
  t.match(JSON.parse(line), { level: 30, msg: /^bearer-proxy listening on / });
  session.type('\u0003');
  t.equal((await session.exited).code, 0);

  const wrong = await runCli(['serve', '-c', config, '--log-format', 'yaml']);
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, 'bearer-proxy: --log-format must be one of json, pretty, not "yaml"');
  const wrongEnv = await runCli(['serve', '-c', config], { env: { LOG_FORMAT: 'text' } });
  t.equal(wrongEnv.code, 2);
  t.match(wrongEnv.stderr, 'bearer-proxy: LOG_FORMAT must be one of json, pretty, not "text"');
});

async function freePort(): Promise<number> {
  const server = createServer();
  const url = await listen(server);
  await closeServer(server);
  return Number(new URL(url).port);
}

async function untilServing(url: string): Promise<void> {
  for (let attempt = 0; attempt < 150; attempt++) {
    if ((await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url}/healthz did not answer within 15 s`);
}
