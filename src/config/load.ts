import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { interpolateDocument } from './interpolate.ts';
import { issueMessage } from './issue-messages.ts';
import { readPemFiles } from './pem-files.ts';
import { formatKeyPath, positionOf, type KeyPath } from './positions.ts';
import { configSchema, crossReferenceIssues, type Config } from './schema.ts';
import { targetWarnings } from './target-warnings.ts';
import { MAX_CONFIG_BYTES, MAX_REFERENCED_FILE_BYTES, readBoundedFile, structureProblems, textTooLarge } from './size-limits.ts';
import { knownKeysAt, suggestKey } from './suggest.ts';
import { applyWorkloadIdentityDefaults } from './workload-identity.ts';

export interface ConfigProblem {
  path: KeyPath;
  line?: number;
  column?: number;
  message: string;
}

/** Every problem found in a config file, each with its key path and YAML line and column. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((problem) => `  ${formatProblem(source, problem)}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function formatProblem(source: string, problem: ConfigProblem): string {
  const where = problem.line === undefined ? source : `${source}:${problem.line}:${problem.column ?? 1}`;
  return `${where} ${formatKeyPath(problem.path)}: ${problem.message}`;
}

export interface LoadedConfig {
  config: Config;
  /** Things that work but deserve attention, such as a secret written in plain text. */
  warnings: string[];
  source: string;
}

export interface ParseOptions {
  /** Name used in messages, normally the file path. */
  source?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory that relative ${file:PATH} references and PEM file paths resolve against. */
  baseDir?: string;
  readFile?: (path: string) => string;
}

export function loadConfigFile(path: string, options: Omit<ParseOptions, 'source' | 'baseDir'> = {}): LoadedConfig {
  let text: string;
  try {
    text = readBoundedFile(path, MAX_CONFIG_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EENCODING') throw new ConfigError(path, [{ path: [], message: `cannot read the config file: ${(error as Error).message}` }]);
    const reason =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EFBIG'
          ? `larger than ${MAX_CONFIG_BYTES / 1024} KiB; a real config is a few KB (put certificates in files: ca: ./bundle.pem)`
          : (error as Error).message;
    throw new ConfigError(path, [{ path: [], message: `cannot read the config file (${reason})` }]);
  }
  return parseConfig(text, { ...options, source: path, baseDir: dirname(resolve(path)) });
}

export function parseConfig(text: string, options: ParseOptions = {}): LoadedConfig {
  const source = options.source ?? 'proxy.yaml';
  const baseDir = options.baseDir ?? process.cwd();
  const readFile = options.readFile ?? ((path: string) => readBoundedFile(path, MAX_REFERENCED_FILE_BYTES));
  const tooLarge = textTooLarge(text);
  if (tooLarge) throw new ConfigError(source, [{ path: [], message: tooLarge }]);
  const lines = new LineCounter();
  // Duplicate keys are found by structureProblems: the parser's own check is quadratic in a mapping's size.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  const problems: ConfigProblem[] = doc.errors.map((error) => {
    // The parser appends its own "at line N, column M:" and an excerpt; the position leads our line instead.
    const message = error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
    // From the offset, not error.linePos: the yaml LineCounter misses newlines inside a
    // broken multi-line scalar and then places every later error too early (found by fuzzing).
    return { path: [], ...lineAndColumn(text, error.pos[0]), message: `YAML syntax: ${message}` };
  });
  problems.push(...structureProblems(doc, lines));
  if (problems.length > 0)
    throw new ConfigError(
      source,
      problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)),
    );

  const at = (path: KeyPath, message: string, place: 'key' | 'value' = 'value'): ConfigProblem => ({
    path,
    message,
    ...positionOf(doc, lines, path, place),
  });

  // ${file:} and PEM file paths: read on every load, relative to the config file.
  const readRelative = (path: string) => readFile(resolve(baseDir, path));
  const { problems: referenceProblems, referenced } = interpolateDocument(doc, { env: options.env ?? {}, readFile: readRelative });
  const unread = new Set(referenceProblems.map((problem) => JSON.stringify(problem.path)));
  const pemFileProblems = readPemFiles(doc, { readFile: readRelative, baseDir, skip: unread }, referenced);
  for (const problem of pemFileProblems) unread.add(JSON.stringify(problem.path));
  problems.push(...[...referenceProblems, ...pemFileProblems].map((problem) => at(problem.path, problem.message)));

  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (error) {
    // Aliases are resolved only here: an undefined anchor or an alias bomb throws a plain error.
    scrubInterpolatedValues(problems, doc, referenced);
    throw new ConfigError(source, [...problems, { path: [], message: `YAML aliases: ${(error as Error).message}` }]);
  }
  problems.push(...applyWorkloadIdentityDefaults(raw, options.env ?? {}).map((problem) => at(problem.path, problem.message, 'key')));
  // reportInput: a value of the wrong type is not a missing key (issue.input tells them apart).
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  // A value that could not be read is reported once, not again for what stood in its place.
  const readable = (problem: ConfigProblem) => !unread.has(JSON.stringify(problem.path));
  if (!parsed.success)
    problems.push(
      ...withoutFollowUps(parsed.error.issues)
        .flatMap((issue) => describeIssue(issue, at))
        .filter(readable),
    );
  problems.push(
    ...crossReferenceIssues(raw)
      .map((issue) => at(issue.path, issue.message, issue.at))
      .filter(readable),
  );

  if (problems.length > 0 || !parsed.success) {
    scrubInterpolatedValues(problems, doc, referenced);
    throw new ConfigError(
      source,
      problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)),
    );
  }
  // Read on every token request, maybe after the working directory changed: relative to the config file, as ${file:} is.
  for (const token of Object.values(parsed.data.tokens)) if (token.clientAssertionFile !== undefined) token.clientAssertionFile = resolve(baseDir, token.clientAssertionFile);
  const warnings = [...plainTextSecretWarnings(parsed.data, referenced, at, source), ...targetWarnings(parsed.data).map((warning) => formatProblem(source, at(warning.path, warning.message)))];
  return { config: parsed.data, warnings, source };
}

type Locate = (path: KeyPath, message: string, place?: 'key' | 'value') => ConfigProblem;

/** 1-based line and column of an offset in text. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: before.length - lineStart + 1 };
}

/**
 * A value that came from ${ENV} or ${file:} may be a secret put in the wrong key, and some
 * messages quote the offending value ("…" is not a duration): those quotes are replaced.
 */
function scrubInterpolatedValues(problems: ConfigProblem[], doc: Document, referenced: Set<string>): void {
  for (const problem of problems) {
    if (!referenced.has(JSON.stringify(problem.path))) continue;
    const value = doc.getIn(problem.path);
    if (typeof value !== 'string' || value === '') continue;
    problem.message = problem.message.replaceAll(`"${value}"`, 'the value of the ${…} reference');
  }
}

function describeIssue(issue: z.core.$ZodIssue, at: Locate): ConfigProblem[] {
  const path = issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(configSchema, path);
    return issue.keys.map((key) => {
      const suggestion = suggestKey(key, known);
      const hint = suggestion ? ` (did you mean "${suggestion}"?)` : known.length ? ` (allowed: ${known.join(', ')})` : '';
      return at([...path, key], `unknown key "${key}"${hint}`, 'key');
    });
  }
  if (issue.code === 'invalid_key') {
    return issue.issues.map((inner) => at(path, issueMessage(inner), 'key'));
  }
  return [at(path, issueMessage(issue))];
}

/**
 * Once a value has the wrong type, zod 4 still runs the checks that apply to any value with
 * a length (`host: []` is also "too small"): only the type is worth saying.
 */
function withoutFollowUps(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const wrongType = new Set(issues.filter((issue) => issue.code === 'invalid_type').map((issue) => JSON.stringify(issue.path)));
  return issues.filter((issue) => issue.code === 'invalid_type' || !wrongType.has(JSON.stringify(issue.path)));
}

function plainTextSecretWarnings(config: Config, referenced: Set<string>, at: Locate, source: string): string[] {
  const secretPaths: KeyPath[] = [
    ...Object.entries(config.tokens).flatMap(([name, token]) => [
      ...(['clientSecret', 'privateKey'] as const).filter((key) => token[key] !== undefined).map((key) => ['tokens', name, key]),
      ...(token.tls ? [['tokens', name, 'tls', 'key']] : []),
      ...(token.jwtBearer ? [['tokens', name, 'jwtBearer', 'privateKey']] : []),
    ]),
    ...config.inbound.users.flatMap((user, index) => (user.password === undefined ? [] : [['inbound', 'users', index, 'password']])),
  ];
  return secretPaths
    .filter((path) => !referenced.has(JSON.stringify(path)))
    .map((path) => formatProblem(source, at(path, 'secret written in plain text in the config file; prefer ${ENV_NAME} or ${file:/run/secrets/name}')));
}
