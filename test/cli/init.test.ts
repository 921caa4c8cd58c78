import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { IDPS } from '../../src/cli/flags.ts';
import { UsageError } from '../../src/cli/io.ts';
import { init } from '../../src/cli/init.ts';
import { starterConfig } from '../../src/cli/starter-config.ts';
import { parseConfig } from '../../src/config/load.ts';
import { testIo } from '../helpers/cli-io.ts';

const PACKAGE_SCHEMA = fileURLToPath(new URL('../../proxy.schema.json', import.meta.url));

/** The starter file written at path, with its variables set: what check would see. */
function parsedAs(path: string) {
  const text = readFileSync(path, 'utf8');
  const variables = [...text.matchAll(/\$\{([A-Z_]+)\}/g)].map((match) => match[1]!);
  return parseConfig(text, { env: Object.fromEntries(variables.map((name) => [name, `value-of-${name}`])), source: path });
}

t.test('each --idp writes its starter file and says what to do next', async (t) => {
  const dir = t.testdir(Object.fromEntries(IDPS.map((idp) => [idp, {}])));
  for (const idp of IDPS) {
    const run = testIo({ cwd: join(dir, idp), env: { API_CLIENT_SECRET: 'never-written-secret-55ab' } });
    t.equal(await init(run.io, { idp }), 0, idp);
    const path = join(dir, idp, 'proxy.yaml');
    const text = readFileSync(path, 'utf8');
    const starter = starterConfig(idp, { schemaRef: firstLineSchema(text), configArg: '' });
    t.equal(text, starter.text, `${idp}: the starter file, as written`);
    t.equal(join(dirname(path), firstLineSchema(text)), PACKAGE_SCHEMA, `${idp}: the schema line leads to the schema shipped with the package`);
    t.notMatch(text, 'never-written-secret-55ab', `${idp}: a secret in the environment is not copied into the file`);
    t.same(parsedAs(path).warnings, [], `${idp}: valid once its variables are set, without a plain-text secret`);
    t.equal(run.stdout.text.split('\n')[0], `wrote ${path} (${starter.idpName})`);
    t.match(run.stdout.text, `2. Set ${starter.variables.join(', ')} in the environment`);
    t.match(run.stdout.text, /3\. bearer-proxy check --fetch-tokens\n {2}4\. bearer-proxy\n/, `${idp}: the default file needs no -c`);
    t.equal(run.stderr.text, '');
  }
});

t.test('without --idp the starter file is the generic one', async (t) => {
  const dir = t.testdir({});
  t.equal(await init(testIo({ cwd: dir }).io, {}), 0);
  t.match(readFileSync(join(dir, 'proxy.yaml'), 'utf8'), '`bearer-proxy init --idp generic`');
});

t.test('an existing file is never replaced without --force, nor one a symbolic link points at', async (t) => {
  const dir = t.testdir({ 'proxy.yaml': 'mine: true\n', 'target.yaml': 'also mine\n' });
  const error = await t.rejects(init(testIo({ cwd: dir }).io, { idp: 'okta' }));
  t.type(error, UsageError);
  t.equal((error as UsageError).exitCode, 1);
  t.equal((error as Error).message, `${join(dir, 'proxy.yaml')} already exists; not overwriting it (pass --force to replace it, or -c to write another file)`);
  t.equal(readFileSync(join(dir, 'proxy.yaml'), 'utf8'), 'mine: true\n', 'untouched');

  symlinkSync(join(dir, 'target.yaml'), join(dir, 'link.yaml'));
  symlinkSync(join(dir, 'nowhere.yaml'), join(dir, 'dangling.yaml'));
  await t.rejects(init(testIo({ cwd: dir }).io, { config: 'link.yaml' }), { message: /link\.yaml already exists/ });
  await t.rejects(init(testIo({ cwd: dir }).io, { config: 'dangling.yaml' }), { message: /dangling\.yaml already exists/ }, 'a link to nothing yet is not followed to create a file elsewhere');
  t.equal(readFileSync(join(dir, 'target.yaml'), 'utf8'), 'also mine\n');
  t.equal(readlinkSync(join(dir, 'dangling.yaml')), join(dir, 'nowhere.yaml'));
  t.throws(() => readFileSync(join(dir, 'nowhere.yaml')), { code: 'ENOENT' }, 'nothing created where it points');

  const run = testIo({ cwd: dir });
  t.equal(await init(run.io, { idp: 'auth0', force: true }), 0, '--force replaces it');
  t.match(readFileSync(join(dir, 'proxy.yaml'), 'utf8'), /audience: /);
  t.match(run.stdout.text, /^wrote .*proxy\.yaml \(Auth0\)/);
});

t.test('the next steps name a -c file as a shell reads it back', async (t) => {
  const dir = t.testdir({ 'proxy.schema.json': '{}' });
  for (const name of ['okta.yaml', 'my proxy.yaml', "it's.yaml", 'say "hi".yaml']) {
    const run = testIo({ cwd: dir });
    t.equal(await init(run.io, { config: name, idp: 'okta' }), 0, name);
    const step = /^ {2}3\. bearer-proxy (check -c .*) --fetch-tokens$/m.exec(run.stdout.text)?.[1];
    t.ok(step, `${name}: the check step names the file`);
    const args = execFileSync('sh', ['-c', `set -- ${step}; printf '%s\\n' "$@"`], { encoding: 'utf8' });
    t.same(args.split('\n').slice(0, -1), ['check', '-c', name], `${name}: pasted into a shell, check is handed that file`);
    t.equal(firstLineSchema(readFileSync(join(dir, name), 'utf8')), './proxy.schema.json', `${name}: the schema beside it`);
  }
});

t.test("a file name with a line break is refused: written into the file's comments, the rest of it would be live YAML", async (t) => {
  const dir = t.testdir({});
  const name = 'x\nlisten: { host: 0.0.0.0 }\n#.yaml';
  await t.rejects(init(testIo({ cwd: dir }).io, { config: name }), { name: 'UsageError', exitCode: 2, message: 'a config file name cannot contain a line break' });
  t.same(readdirSync(dir), [], 'nothing written');
});

t.test('a file where the directory should be is a message, not a crash', async (t) => {
  const dir = t.testdir({});
  writeFileSync(join(dir, 'file'), '');
  const error = await t.rejects(init(testIo({ cwd: dir }).io, { config: 'file/proxy.yaml' }));
  t.type(error, UsageError);
  t.equal((error as UsageError).exitCode, 1);
  t.match((error as Error).message, `cannot write ${join(dir, 'file', 'proxy.yaml')}: `);
});

function firstLineSchema(text: string): string {
  return /^# yaml-language-server: \$schema=(\S+)\n/.exec(text)?.[1] ?? '';
}
