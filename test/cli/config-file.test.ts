import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { configPath, loadFromCli } from '../../src/cli/config-file.ts';
import { ConfigError } from '../../src/config/load.ts';
import { testIo } from '../helpers/cli-io.ts';

const VALID =
  'tokens:\n  lake: { tokenUrl: "https://idp.example.com/token", clientId: c, clientSecret: "${LAKE_SECRET}" }\nroutes:\n  /sales: { target: "https://api.example.com/odata", token: lake }\n';

/** The one problem a missing file is reported with. */
function missing(t: Test, load: () => unknown): string {
  const error = t.throws(load) as ConfigError;
  t.type(error, ConfigError, 'a ConfigError: printed without a stack, exit 1');
  t.equal(error.problems.length, 1);
  return error.problems[0]?.message ?? '';
}

t.test('-c wins over BEARER_PROXY_CONFIG, which wins over ./proxy.yaml; relative names are relative to the working directory', async (t) => {
  const dir = t.testdir({});
  const { io } = testIo({ cwd: dir, env: { BEARER_PROXY_CONFIG: 'from-env.yaml' } });
  t.equal(configPath(io, 'from-flag.yaml'), join(dir, 'from-flag.yaml'));
  t.equal(configPath(io, undefined), join(dir, 'from-env.yaml'));
  t.equal(configPath(testIo({ cwd: dir }).io, undefined), join(dir, 'proxy.yaml'));
  t.equal(configPath(io, '/etc/bearer-proxy/proxy.yaml'), '/etc/bearer-proxy/proxy.yaml', 'an absolute name as it is');
  t.equal(configPath(testIo({ cwd: dir, env: { BEARER_PROXY_CONFIG: '/srv/p.yaml' } }).io, undefined), '/srv/p.yaml');
  t.equal(configPath(testIo({ cwd: join(dir, 'sub') }).io, '../up.yaml'), join(dir, 'up.yaml'), "the command's working directory, not the test process's");
});

t.test('an empty BEARER_PROXY_CONFIG counts as unset, as an empty LOG_LEVEL does (compose files leave variables empty)', async (t) => {
  const dir = t.testdir({});
  const { io } = testIo({ cwd: dir, env: { BEARER_PROXY_CONFIG: '' } });
  // Else the working directory itself is "the config file": check reads a directory, init says it already exists.
  t.equal(configPath(io, undefined), join(dir, 'proxy.yaml'));
});

t.test('no file yet: the message says how to start one, with the IdPs to choose from', async (t) => {
  const dir = t.testdir({});
  const { io } = testIo({ cwd: dir });
  const message = missing(t, () => loadFromCli(io, undefined));
  t.equal(message, 'cannot read the config file (file not found); to start one: bearer-proxy init (--idp entra, entra-v1, okta, auth0, keycloak, generic)');
  const error = t.throws(() => loadFromCli(io, undefined)) as ConfigError;
  t.equal(error.source, join(dir, 'proxy.yaml'), 'the message starts with the full path it looked for');

  // init reads BEARER_PROXY_CONFIG too: plain `bearer-proxy init` writes the very file that was missing.
  const viaEnv = testIo({ cwd: dir, env: { BEARER_PROXY_CONFIG: 'elsewhere.yaml' } }).io;
  t.match(
    missing(t, () => loadFromCli(viaEnv, undefined)),
    /to start one: bearer-proxy init \(--idp /,
  );
});

t.test('no file at the -c path: the init command names it, quoted so it can be pasted into a shell', async (t) => {
  const dir = t.testdir({});
  const { io } = testIo({ cwd: dir });
  t.match(
    missing(t, () => loadFromCli(io, 'okta.yaml')),
    'to start one: bearer-proxy init -c okta.yaml (--idp ',
    'a plain name is not quoted',
  );
  for (const name of ['conf/my proxy.yaml', 'say "hi".yaml', "it's mine.yaml", '$(touch pwned).yaml']) {
    const message = missing(t, () => loadFromCli(io, name));
    const command = /to start one: (bearer-proxy init -c .*) \(--idp /.exec(message)?.[1];
    t.ok(command, `${name}: an init command`);
    // What a shell passes to bearer-proxy when the user pastes the command: printed back one argument a line.
    const args = execFileSync('sh', ['-c', `set -- ${command!.replace(/^bearer-proxy /, '')}; printf '%s\\n' "$@"`], { cwd: dir, encoding: 'utf8' });
    t.same(args.split('\n').slice(0, -1), ['init', '-c', name], `${name}: the shell hands init the same name`);
  }
  t.same(readdirSync(dir), [], 'nothing in a name was run');
});

t.test('an existing file is loaded with the variables of the command, not of this process', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': VALID, 'home.yaml': VALID.replace('${LAKE_SECRET}', '${HOME}') });
  const loaded = loadFromCli(testIo({ cwd: dir, env: { LAKE_SECRET: 'lake-secret-value' } }).io, undefined);
  t.equal(loaded.source, join(dir, 'proxy.yaml'));
  t.equal(loaded.config.tokens.lake?.clientSecret, 'lake-secret-value');
  t.ok(process.env.HOME, 'this process has HOME');
  const error = t.throws(() => loadFromCli(testIo({ cwd: dir }).io, 'home.yaml')) as ConfigError;
  t.match(error.message, /home\.yaml:2:\d+ tokens\.lake\.clientSecret: environment variable HOME is not set/);
});

t.test('a directory is not a config file', async (t) => {
  const dir = t.testdir({});
  mkdirSync(join(dir, 'proxy.yaml'));
  const error = t.throws(() => loadFromCli(testIo({ cwd: dir }).io, undefined)) as ConfigError;
  t.type(error, ConfigError, 'a message, not a crash');
  t.match(error.message, /proxy\.yaml.*cannot read the config file/);
});
