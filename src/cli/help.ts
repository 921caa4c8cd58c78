import { COMMANDS, DEFAULT_COMMAND, ENVIRONMENT, type CommandSpec, type EnvName } from './commands.ts';
import { FLAGS, GLOBAL_FLAGS, flagLabel, type FlagName, type FlagSpec } from './flags.ts';
import { docsLink, packageVersion } from './io.ts';

/** Help text is made from the command and flag tables, so a flag cannot exist without being explained. */

const EXAMPLE_WIDTH = 44;
const EXIT_CODES = 'Exit codes: 0 ok, 1 failed (config, token, port, file), 2 bad command line, 70 a bug in bearer-proxy (please report it).';

export function globalHelp(): string {
  const commandWidth = Math.max(...COMMANDS.map((command) => commandLabel(command).length));
  const flags = Object.keys(FLAGS) as FlagName[];
  const usedBy = (flag: FlagName) =>
    GLOBAL_FLAGS.includes(flag)
      ? 'every command'
      : COMMANDS.filter((command) => command.flags.includes(flag))
          .map((command) => command.name)
          .join(', ');
  return [
    `bearer-proxy ${packageVersion()}: a local reverse proxy that injects OAuth2 client_credentials tokens,`,
    'so Power BI (and curl, notebooks, …) can read OAuth-protected OData and REST APIs.',
    '',
    'Usage: bearer-proxy [COMMAND] [OPTIONS]',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${commandLabel(command).padEnd(commandWidth)}  ${command.summary}`),
    '',
    'Options (each belongs to the commands named after it):',
    ...table(flags.map((flag) => [flagLabel(flag), `${describe(FLAGS[flag])} [${usedBy(flag)}]`])),
    '',
    'Environment:',
    ...table((Object.keys(ENVIRONMENT) as EnvName[]).map((name) => [name, ENVIRONMENT[name]])),
    '',
    'Examples:',
    ...table(
      [
        ['bearer-proxy demo', 'see it work offline first, no config needed'],
        ['bearer-proxy init --idp entra', 'write a starter ./proxy.yaml for Entra ID'],
        ['bearer-proxy check --fetch-tokens', 'validate it and fetch each token once'],
        ['bearer-proxy', 'serve it on http://localhost:8080'],
      ],
      EXAMPLE_WIDTH,
    ),
    '',
    EXIT_CODES,
    `More: bearer-proxy help COMMAND (or COMMAND --help). Docs: ${docsLink({ anchor: 'command-line', title: 'Command line' })}`,
  ].join('\n');
}

export function commandHelp(command: CommandSpec): string {
  const flags = [...command.flags, ...GLOBAL_FLAGS];
  const spec = (flag: FlagName): FlagSpec => ({ ...FLAGS[flag], ...command.flagOverrides?.[flag] });
  const lines = [`bearer-proxy ${command.name}: ${command.summary}`, '', `Usage: ${usage(command)}`, ''];
  for (const paragraph of command.description) lines.push(...wrap(paragraph, 92), '');
  if (command.argument) lines.push('Arguments:', ...table([[command.argument.name, command.argument.description]]), '');
  lines.push('Options:', ...table(flags.map((flag) => [flagLabel(flag), describe(spec(flag))])), '');
  if (command.environment.length > 0) lines.push('Environment:', ...table(command.environment.map((name) => [name, ENVIRONMENT[name]])), '');
  lines.push('Examples:', ...table(command.examples, EXAMPLE_WIDTH), '');
  lines.push(EXIT_CODES, `Docs: ${docsLink(command.docs)}`);
  return lines.join('\n');
}

function commandLabel(command: CommandSpec): string {
  if (!command.argument) return command.name;
  return `${command.name} ${command.argument.optional ? `[${command.argument.name}]` : command.argument.name}`;
}

function usage(command: CommandSpec): string {
  const name = command.name === DEFAULT_COMMAND ? `[${command.name}]` : command.name;
  const argument = command.argument ? ` ${command.argument.optional ? `[${command.argument.name}]` : command.argument.name}` : '';
  const flags = command.flags.map((flag) => {
    const spec: FlagSpec = FLAGS[flag];
    return ` [${spec.short ? `-${spec.short}` : `--${flag}`}${spec.value ? ` ${spec.value}` : ''}]`;
  });
  return `bearer-proxy ${name}${argument}${flags.join('')}`;
}

function describe(spec: FlagSpec): string {
  const choices = spec.choices ? `: ${spec.choices.join(', ')}` : '';
  const fallback = spec.default ? ` (default: ${spec.default})` : '';
  return `${spec.description}${choices}${fallback}`;
}

/** Two columns; a left cell wider than maxWidth puts its text on the next line. */
function table(rows: readonly (readonly [string, string])[], maxWidth = 26): string[] {
  const width = Math.max(0, ...rows.map(([left]) => left.length).filter((length) => length <= maxWidth));
  const indent = ' '.repeat(width + 4);
  return rows.flatMap(([left, right]) => {
    const text = wrap(right, Math.max(40, 96 - indent.length));
    if (left.length > width) return [`  ${left}`, ...text.map((line) => indent + line)];
    return [`  ${left.padEnd(width)}  ${text[0]}`, ...text.slice(1).map((line) => indent + line)];
  });
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}
