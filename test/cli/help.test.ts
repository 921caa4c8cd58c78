import t from 'tap';
import { COMMANDS, ENVIRONMENT } from '../../src/cli/commands.ts';
import { FLAGS, flagLabel, type FlagName } from '../../src/cli/flags.ts';
import { commandHelp, globalHelp } from '../../src/cli/help.ts';

t.test('the overview lists every command, explains every flag and names the environment', async (t) => {
  const help = globalHelp();
  for (const command of COMMANDS) t.match(help, new RegExp(`^  ${command.name}\\b.*${escape(command.summary)}`, 'm'), command.name);
  for (const flag of Object.keys(FLAGS) as FlagName[]) t.match(help, new RegExp(`^  ${escape(flagLabel(flag))}\\s+\\S`, 'm'), `--${flag} has a line with its explanation`);
  for (const name of ['BEARER_PROXY_CONFIG', 'LOG_LEVEL', 'HTTPS_PROXY', 'NO_PROXY', 'NODE_EXTRA_CA_CERTS']) t.match(help, name);
  t.match(help, /Exit codes: 0 ok, 1 failed .*, 2 bad command line, 70/);
  t.match(help, /Docs: /);
  t.notMatch(help, /echo -n/);
});

t.test("each command's help has its usage, every flag with its default, its environment, examples and a docs link", async (t) => {
  for (const command of COMMANDS) {
    const help = commandHelp(command);
    t.match(help, new RegExp(`^Usage: bearer-proxy \\[?${command.name}`, 'm'), `${command.name}: usage`);
    for (const flag of command.flags) {
      t.match(help, new RegExp(`^  ${escape(flagLabel(flag))}\\s+\\S`, 'm'), `${command.name} --${flag}`);
      const fallback = command.flagOverrides?.[flag]?.default ?? (FLAGS[flag] as { default?: string }).default;
      if (fallback) t.match(help, `(default: ${fallback})`, `${command.name} --${flag} default`);
    }
    t.match(help, /^ {2}-h, --help/m);
    for (const name of command.environment) t.match(help, `  ${name}`, `${command.name} reads ${name}`);
    t.ok(command.examples.length > 0, `${command.name} has examples`);
    for (const [example] of command.examples) t.match(help, example);
    t.match(help, /^Docs: \S/m);
  }
  t.match(commandHelp(COMMANDS.find((command) => command.name === 'serve')!), /LOG_LEVEL[\s\S]*HTTPS_PROXY, HTTP_PROXY, NO_PROXY[\s\S]*NODE_EXTRA_CA_CERTS/);
  t.match(commandHelp(COMMANDS.find((command) => command.name === 'demo')!), '(default: 8080, else a free port when 8080 is taken)', 'a per-command default');
  t.ok(Object.keys(ENVIRONMENT).length >= 5);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
