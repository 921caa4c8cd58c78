import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.ts';

// The command line as a user meets it: the built CLI in a child process.

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

t.test('--version and help', async (t) => {
  const shown = await runCli(['--version']);
  t.equal(shown.code, 0);
  t.equal(shown.stdout.trim(), version);

  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^ {2}init\s+write a commented starter proxy\.yaml/m);
  t.match(help.stdout, /^ {2}--fetch-tokens\s+also fetch one token from each token source/m, 'flags are explained');
  t.match(help.stdout, /NODE_EXTRA_CA_CERTS/);

  const check = await runCli(['help', 'check']);
  t.equal(check.code, 0);
  t.match(check.stdout, /^Usage: bearer-proxy check \[-c FILE\] \[--fetch-tokens\]$/m);
  t.match(check.stdout, /^ {2}-c, --config FILE\s+the config file \(default: \$BEARER_PROXY_CONFIG, else \.\/proxy\.yaml\)$/m);
  t.match(check.stdout, /^Examples:\n {2}bearer-proxy check\s/m);
  t.match(check.stdout, /^Docs: /m);
  t.equal((await runCli(['check', '--help'])).stdout, check.stdout, '`check --help` is `help check`');
  t.equal((await runCli(['token', '-h'])).stdout, (await runCli(['help', 'token'])).stdout);
});

t.test('usage mistakes exit 2 with one line of our own', async (t) => {
  const cases: [string[], string][] = [
    [['frobnicate'], 'bearer-proxy: unknown command "frobnicate"; commands: serve, check, token, init, hash-password, schema, demo, help\n'],
    [['check', '--nope'], 'bearer-proxy: unknown option --nope; see bearer-proxy help check\n'],
    [['schema', '--once', '--raw', '--port', '1'], 'bearer-proxy: --once does not apply to schema; see bearer-proxy help schema\n'],
    [['help', 'nope'], 'bearer-proxy: no help for "nope": it is not a command; commands: serve, check, token, init, hash-password, schema, demo, help\n'],
    [['init', '--idp', 'google'], 'bearer-proxy: --idp must be one of entra, entra-v1, okta, auth0, keycloak, generic, not "google"\n'],
  ];
  for (const [argv, message] of cases) {
    const result = await runCli(argv);
    t.equal(result.code, 2, `${argv.join(' ')}: exit 2`);
    t.equal(result.stderr, message, argv.join(' '));
    t.equal(result.stdout, '', 'nothing on stdout');
  }
});

t.test('an unknown log level is a command-line mistake, caught before the config is read', async (t) => {
  // The config file does not exist: a check that ran after loading it would exit 1 instead.
  const flag = await runCli(['serve', '-c', '/nonexistent/proxy.yaml', '--log-level', 'bogus']);
  t.equal(flag.code, 2);
  t.equal(flag.stderr, 'bearer-proxy: --log-level must be one of fatal, error, warn, info, debug, trace, silent, not "bogus"\n');
  const env = await runCli(['serve', '-c', '/nonexistent/proxy.yaml'], { env: { LOG_LEVEL: 'verbose' } });
  t.equal(env.code, 2);
  t.equal(env.stderr, 'bearer-proxy: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "verbose"\n');
});

t.test('--version, --help and usage mistakes load no dependency (start-up time, issue 13)', async (t) => {
  // A resolve hook records every module the CLI imports; it runs on the loader thread, so it writes to a file.
  const hook = `import { appendFileSync } from 'node:fs'; export async function resolve(specifier, context, next) { const result = await next(specifier, context); appendFileSync(process.env.TRACE_FILE, result.url + '\\n'); return result; }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  const dir = t.testdir({});
  for (const [name, argv] of [
    ['version', ['--version']],
    ['help', ['--help']],
    ['command-help', ['help', 'serve']],
    ['mistake', ['schema', '--once']],
  ] as const) {
    const trace = join(dir, `${name}.txt`);
    const result = await runCli([...argv], { env: { TRACE_FILE: trace }, nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(register)}`] });
    t.ok(result.code === 0 || result.code === 2, `${argv.join(' ')} ran (${result.stderr})`);
    const loaded = readFileSync(trace, 'utf8').trim().split('\n');
    t.ok(
      loaded.some((url) => url.endsWith('/cli/args.js')),
      'the trace saw the CLI load',
    );
    t.same(
      loaded.filter((url) => url.includes('/node_modules/')),
      [],
      `${argv.join(' ')}: nothing from node_modules`,
    );
    t.same(
      loaded.filter((url) => /\/(config\/(load|schema)|proxy|tokens|log)\//.test(url)),
      [],
      `${argv.join(' ')}: no config loader, proxy, token or log module`,
    );
  }
});

t.test('schema prints the JSON Schema', async (t) => {
  const result = await runCli(['schema']);
  t.equal(result.code, 0);
  const schema = JSON.parse(result.stdout) as { properties: Record<string, unknown>; additionalProperties: boolean };
  t.same(Object.keys(schema.properties).sort(), ['admin', 'inbound', 'listen', 'routes', 'shutdownTimeout', 'statusPage', 'tokens']);
  t.equal(schema.additionalProperties, false);
  t.equal(result.stdout, readFileSync(new URL('../../proxy.schema.json', import.meta.url), 'utf8'), 'the committed proxy.schema.json is what it prints (npm run schema writes it)');
});
