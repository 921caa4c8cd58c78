import { parseArgs } from 'node:util';
import { suggestKey } from '../config/suggest.ts';
import { COMMANDS, DEFAULT_COMMAND, findCommand, type CommandSpec } from './commands.ts';
import { FLAGS, GLOBAL_FLAGS, flagLabel, type FlagName, type FlagSpec, type FlagValues } from './flags.ts';
import { UsageError } from './io.ts';

export type CommandLine = { version: true } | { version?: false; command: CommandSpec; values: FlagValues; positionals: string[] };

/**
 * argv → the command to run and its flags, or a UsageError in the project's own words.
 * node:util parseArgs splits the words (non-strict, so its raw messages never reach the
 * user); every check that follows is ours: unknown flags, missing values, flags that do
 * not belong to the command, values outside a flag's choices, extra arguments.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const options = Object.fromEntries(Object.entries(FLAGS).map(([name, spec]: [string, FlagSpec]) => [name, spec.short ? { type: spec.type, short: spec.short } : { type: spec.type }]));
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });

  const positionals: string[] = [];
  const given: { name: string; rawName: string; value: string | undefined; inline: boolean }[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    else if (token.kind === 'option') given.push({ name: token.name, rawName: token.rawName, value: token.value, inline: token.inlineValue === true });
  }

  const named = positionals[0];
  const command = named === undefined ? findCommand(DEFAULT_COMMAND)! : findCommand(named);
  if (!command)
    throw new UsageError(
      `unknown command "${named}"${didYouMean(
        named!,
        COMMANDS.map((spec) => spec.name),
      )}; commands: ${COMMANDS.map((spec) => spec.name).join(', ')}`,
    );
  const args = named === undefined ? [] : positionals.slice(1);

  const values: Record<string, string | boolean> = {};
  for (const option of given) {
    if (!Object.hasOwn(FLAGS, option.name)) {
      const known = [...command.flags, ...GLOBAL_FLAGS].map((name) => `--${name}`);
      throw new UsageError(`unknown option ${option.rawName}${option.rawName.startsWith('--') ? didYouMean(option.rawName, known) : ''}; see bearer-proxy help ${command.name}`);
    }
    const name = option.name as FlagName;
    const spec: FlagSpec = FLAGS[name];
    if (spec.type === 'boolean') {
      if (option.value !== undefined) throw new UsageError(`${option.rawName} takes no value (got "${option.value}")`);
      values[name] = true;
      continue;
    }
    // A flag that swallowed the next option as its value (`-c --port 80`) was given no value.
    if (option.value === undefined || (!option.inline && /^-(?!\d)/.test(option.value))) throw new UsageError(`${option.rawName} needs a value: ${flagLabel(name)}`);
    values[name] = option.value;
  }

  if (values.version) return { version: true };
  // `COMMAND --help` is `help COMMAND`, whatever else is on the line.
  if (command.name === 'help') return helpFor(args[0], args[1]);
  if (values.help) return helpFor(named === undefined ? undefined : command.name);

  for (const option of given) {
    const name = option.name as FlagName;
    if (!command.flags.includes(name) && !GLOBAL_FLAGS.includes(name)) throw new UsageError(`${option.rawName} does not apply to ${command.name}; see bearer-proxy help ${command.name}`);
    const { choices, range }: FlagSpec = FLAGS[name];
    const value = values[name] as string;
    if (choices && !choices.includes(value)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, not "${value}"`);
    if (range && !(/^\d+$/.test(value) && Number(value) >= range[0] && Number(value) <= range[1]))
      throw new UsageError(`--${name} must be a whole number from ${range[0]} to ${range[1]}, not "${value}"`);
  }
  if (args.length > (command.argument ? 1 : 0)) throw new UsageError(`unexpected argument "${args.at(-1)}" for ${command.name}; see bearer-proxy help ${command.name}`);
  return { command, values: values, positionals: args };
}

function helpFor(topic: string | undefined, extra?: string): CommandLine {
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" for help; see bearer-proxy help help`);
  if (topic !== undefined && !findCommand(topic))
    throw new UsageError(
      `no help for "${topic}": it is not a command${didYouMean(
        topic,
        COMMANDS.map((spec) => spec.name),
      )}; commands: ${COMMANDS.map((spec) => spec.name).join(', ')}`,
    );
  return { command: findCommand('help')!, values: {}, positionals: topic === undefined ? [] : [topic] };
}

function didYouMean(unknown: string, known: readonly string[]): string {
  const suggestion = suggestKey(unknown, known);
  return suggestion ? ` (did you mean ${suggestion}?)` : '';
}
