import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { COMMANDS, DEFAULT_COMMAND, ENVIRONMENT, findCommand, type CommandSpec } from '../../src/cli/commands.ts';
import { FLAGS } from '../../src/cli/flags.ts';
import { commandHelp, globalHelp } from '../../src/cli/help.ts';
import { testIo } from '../helpers/cli-io.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** README headings as GitHub names their anchors: lower case, punctuation dropped, spaces as hyphens. */
const HEADINGS = new Map(
  [...README.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)].map((match) => [
    match[1]!
      .trim()
      .toLowerCase()
      .replace(/[`*_]/g, '')
      .replace(/[^\p{L}\p{N} -]/gu, '')
      .replace(/ /g, '-'),
    match[1]!.trim(),
  ]),
);

/** src/ without the command table and the flag table, which only describe the variables. */
const SOURCES = sourceFiles(join(ROOT, 'src'))
  .filter((file) => !/cli[/\\](commands|flags|help)\.ts$/.test(file))
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

async function run(command: CommandSpec, positionals: string[] = []) {
  const io = testIo({ cwd: ROOT });
  const code = await command.run({ io: io.io, values: {}, positionals, onSignal: () => undefined });
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

t.test('each command has a summary, a description, examples of itself and a README section that exists', async (t) => {
  for (const command of COMMANDS) {
    t.match(command.name, /^[a-z][a-z-]*$/, `${command.name}: typed as it is spelled`);
    t.ok(command.summary.length > 10 && !command.summary.includes('\n'), `${command.name}: a one-line summary`);
    t.ok(command.description.length > 0 && command.description.every((paragraph) => paragraph.length > 20), `${command.name}: a description`);
    // The default command runs without its name; init's examples go on to the check that follows it.
    const itself = new RegExp(`bearer-proxy${command.name === DEFAULT_COMMAND ? '' : ` ${command.name}\\b`}`);
    t.ok(
      command.examples.some(([example]) => itself.test(example)),
      `${command.name}: an example runs it`,
    );
    for (const [example, what] of command.examples) {
      t.match(example, /\bbearer-proxy\b/, `${command.name}: "${example}" is a bearer-proxy command line`);
      t.ok(what.length > 0, `${command.name}: "${example}" says what it does`);
    }
    const heading = HEADINGS.get(command.docs.anchor);
    t.ok(heading, `${command.name}: README has a heading #${command.docs.anchor}`);
    t.ok(heading?.startsWith(command.docs.title), `${command.name}: the section is called "${command.docs.title}" as help says`);
  }
});

t.test('command names are unique, and the default command is one of them', async (t) => {
  const names = COMMANDS.map((command) => command.name);
  t.equal(new Set(names).size, names.length);
  t.equal(findCommand(DEFAULT_COMMAND)?.name, 'serve');
  for (const name of names)
    t.equal(
      findCommand(name),
      COMMANDS.find((command) => command.name === name),
      name,
    );
});

t.test('only a command is found: not a near miss, another case, or a name every object has', async (t) => {
  for (const name of ['', 'chek', 'Check', 'CHECK', ' check', 'check ', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'length', '0', 'find']) {
    t.equal(findCommand(name), undefined, JSON.stringify(name));
  }
});

t.test("each command's flags and arguments are declared, and its own wording is for a flag it has", async (t) => {
  for (const command of COMMANDS) {
    for (const flag of command.flags) t.ok(Object.hasOwn(FLAGS, flag), `${command.name} --${flag}`);
    for (const flag of Object.keys(command.flagOverrides ?? {})) t.ok((command.flags as readonly string[]).includes(flag), `${command.name}: the override of --${flag} is shown`);
    if (command.argument) t.match(command.argument.name, /^[A-Z]+$/, `${command.name}: its argument is a placeholder`);
  }
  t.same(findCommand('token')?.argument, { name: 'SOURCE', optional: false, description: 'a name under tokens: in the config file' }, 'token needs a source');
  t.equal(findCommand('help')?.argument?.optional, true, 'help works without a command');
});

t.test('every environment variable a command names is explained, read by the code and in the README', async (t) => {
  for (const command of COMMANDS) for (const name of command.environment) t.ok(Object.hasOwn(ENVIRONMENT, name), `${command.name}: ${name} is explained`);
  for (const [entry, explanation] of Object.entries(ENVIRONMENT)) {
    t.ok(explanation.length > 10, `${entry}: explained`);
    t.ok(
      COMMANDS.some((command) => (command.environment as readonly string[]).includes(entry)),
      `${entry}: in the help of a command that reads it`,
    );
    if (entry.includes(' in the file')) continue;
    for (const name of entry.split(', ')) {
      t.match(SOURCES, new RegExp(`\\b${name}\\b`), `${name}: read by the code, not only documented`);
      t.match(README, new RegExp(`\\b${name}\\b`), `${name}: in the README`);
    }
  }
});

t.test('help run with a command explains it; with anything else, the overview', async (t) => {
  const help = findCommand('help')!;
  t.same(await run(help, ['check']), { code: 0, stdout: `${commandHelp(findCommand('check')!)}\n`, stderr: '' });
  t.same(await run(help), { code: 0, stdout: `${globalHelp()}\n`, stderr: '' });
  for (const name of ['constructor', '__proto__', 'toString']) t.same(await run(help, [name]), { code: 0, stdout: `${globalHelp()}\n`, stderr: '' }, `${name}: not a command, no crash`);
});

t.test('schema prints the JSON Schema an editor can load', async (t) => {
  const { code, stdout, stderr } = await run(findCommand('schema')!);
  t.equal(code, 0);
  t.equal(stderr, '');
  const schema = JSON.parse(stdout) as { $schema?: string; properties?: Record<string, unknown> };
  t.match(schema.$schema, /json-schema\.org/);
  t.ok(schema.properties?.tokens && schema.properties.routes, 'it describes tokens and routes');
  t.equal(stdout, `${readFileSync(join(ROOT, 'proxy.schema.json'), 'utf8').trimEnd()}\n`, 'the same as the proxy.schema.json shipped with the package');
});
