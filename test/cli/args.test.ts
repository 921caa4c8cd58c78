import t, { type Test } from 'tap';
import { parseCommandLine, type CommandLine } from '../../src/cli/args.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { FLAGS } from '../../src/cli/flags.ts';
import { UsageError } from '../../src/cli/io.ts';

const run = (argv: string[]) => {
  const line = parseCommandLine(argv);
  if (line.version) throw new Error('expected a command, got --version');
  return { command: line.command.name, values: line.values, positionals: line.positionals };
};

/** The one-line message of the UsageError argv raises (exit code 2 checked too). */
function mistake(t: Test, argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (error) {
    t.type(error, UsageError, `${argv.join(' ')}: a UsageError`);
    t.equal((error as UsageError).exitCode, 2, `${argv.join(' ')}: exit 2`);
    t.notMatch((error as Error).message, /\n/, 'one line');
    return (error as Error).message;
  }
  t.fail(`${argv.join(' ')} was accepted`);
  return '';
}

t.test('a command with its flags and argument', async (t) => {
  t.same(run([]), { command: 'serve', values: {}, positionals: [] }, 'no command is serve');
  t.same(run(['-c', 'x.yaml', '--port', '9090']), { command: 'serve', values: { config: 'x.yaml', port: '9090' }, positionals: [] });
  t.same(run(['check', '--config=a.yaml', '--fetch-tokens']), { command: 'check', values: { config: 'a.yaml', 'fetch-tokens': true }, positionals: [] });
  t.same(run(['-c', 'a.yaml', 'token', 'lake', '--raw']), { command: 'token', values: { config: 'a.yaml', raw: true }, positionals: ['lake'] }, 'flags before the command');
  t.same(run(['demo', '--port', '0', '--once']), { command: 'demo', values: { port: '0', once: true }, positionals: [] });
  t.same(run(['init', '--idp', 'okta', '--force', '-c', 'okta.yaml']), { command: 'init', values: { idp: 'okta', force: true, config: 'okta.yaml' }, positionals: [] });
});

t.test('--version and help in every position', async (t) => {
  const version: CommandLine = { version: true };
  t.same(parseCommandLine(['--version']), version);
  t.same(parseCommandLine(['-v']), version);
  t.same(parseCommandLine(['check', '--version']), version);
  t.same(run(['--help']), { command: 'help', values: {}, positionals: [] });
  t.same(run(['-h']), { command: 'help', values: {}, positionals: [] });
  t.same(run(['help']), { command: 'help', values: {}, positionals: [] });
  t.same(run(['help', 'check']), { command: 'help', values: {}, positionals: ['check'] });
  t.same(run(['check', '--help']), { command: 'help', values: {}, positionals: ['check'] });
  t.same(run(['schema', '-h', '--once']), { command: 'help', values: {}, positionals: ['schema'] }, 'help wins over a flag that does not apply');
});

t.test("usage mistakes in the project's own words", async (t) => {
  t.equal(mistake(t, ['schema', '--once']), '--once does not apply to schema; see bearer-proxy help schema');
  t.equal(mistake(t, ['--once']), '--once does not apply to serve; see bearer-proxy help serve', 'the default command too');
  t.equal(mistake(t, ['hash-password', '--port', '1']), '--port does not apply to hash-password; see bearer-proxy help hash-password');
  t.equal(mistake(t, ['check', '--nope']), 'unknown option --nope; see bearer-proxy help check');
  t.equal(mistake(t, ['check', '--fetch-token']), 'unknown option --fetch-token (did you mean --fetch-tokens?); see bearer-proxy help check');
  t.equal(mistake(t, ['-x']), 'unknown option -x; see bearer-proxy help serve');
  t.equal(mistake(t, ['frobnicate']), 'unknown command "frobnicate"; commands: serve, check, token, init, hash-password, schema, demo, help');
  t.match(mistake(t, ['chek']), /^unknown command "chek" \(did you mean check\?\)/);
  t.match(mistake(t, ['help', 'frobnicate']), /^no help for "frobnicate": it is not a command/);
  t.equal(mistake(t, ['check', 'extra']), 'unexpected argument "extra" for check; see bearer-proxy help check');
  t.equal(mistake(t, ['token', 'a', 'b']), 'unexpected argument "b" for token; see bearer-proxy help token');
  t.equal(mistake(t, ['check', '-c']), '-c needs a value: -c, --config FILE');
  t.equal(mistake(t, ['check', '-c', '--fetch-tokens']), '-c needs a value: -c, --config FILE', 'an option is not a value');
  t.equal(mistake(t, ['demo', '--once=yes']), '--once takes no value (got "yes")');
  t.equal(mistake(t, ['serve', '--log-level', 'bogus']), '--log-level must be one of fatal, error, warn, info, debug, trace, silent, not "bogus"');
  t.equal(mistake(t, ['serve', '--port', 'eighty']), '--port must be a whole number from 0 to 65535, not "eighty"');
  t.equal(mistake(t, ['demo', '--port', '-1']), '--port must be a whole number from 0 to 65535, not "-1"', 'a negative number is a value, then refused');
  t.equal(mistake(t, ['serve', '--port', '65536']), '--port must be a whole number from 0 to 65535, not "65536"');
  t.equal(mistake(t, ['init', '--idp', 'google']), '--idp must be one of entra, entra-v1, okta, auth0, keycloak, generic, not "google"');
});

t.test("every flag belongs to at least one command, and every command's flags exist", async (t) => {
  for (const flag of Object.keys(FLAGS)) {
    if (flag === 'help' || flag === 'version') continue;
    t.ok(
      COMMANDS.some((command) => (command.flags as readonly string[]).includes(flag)),
      `--${flag} is used`,
    );
  }
  for (const command of COMMANDS) for (const flag of command.flags) t.ok(Object.hasOwn(FLAGS, flag), `${command.name} --${flag} is declared`);
});
