/** The bench's command line, parsed and checked in one place. */
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { GeneratorKind } from './generator.ts';
import type { PinMode } from './pinning.ts';

export const SCENARIOS = ['startup', 'small', 'latency', 'stream', 'rewrite', 'gzip'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Optional systems; bearer-proxy at info is always measured (the targets are about it). */
export const SYSTEMS = ['direct', 'undici', 'http-proxy', 'nginx', 'warn', 'plain', 'lean', 'workers'] as const;
export type SystemChoice = (typeof SYSTEMS)[number];

export interface OtherBuild {
  label: string;
  cli: string;
}

/** The main build under other node flags (--proxy-flags). */
export interface FlaggedBuild {
  label: string;
  nodeArgs: string[];
}

export interface Settings {
  quick: boolean;
  scenarios: ReadonlySet<Scenario>;
  systems: ReadonlySet<SystemChoice>;
  rounds: number;
  durationSec: number;
  warmupSec: number;
  connections: number;
  pin: PinMode;
  generator: GeneratorKind | undefined;
  upstream: 'auto' | 'nginx' | 'node';
  build: 'auto' | 'always' | 'never';
  /** The main bearer-proxy build (BENCH_PROXY_CLI, else this tree's dist/cli.js). */
  cli: string | undefined;
  /** More builds measured in the same rounds (--proxy-dist). */
  others: OtherBuild[];
  flagged: FlaggedBuild[];
  profile: { scenario: string; logLevel: string } | undefined;
}

export const USAGE = `npm run bench [-- options]
  --quick                 small JSON only, ${4} s phases, 3 rounds, undici + http-proxy + bearer-proxy: under a minute
  --only LIST             scenarios, comma-separated: ${SCENARIOS.join(', ')} (default: all; with --quick: small)
  --systems LIST          optional systems: ${SYSTEMS.join(', ')} (default: all; with --quick: undici,http-proxy)
  --rounds N              interleaved rounds per scenario (default 3)
  --duration S            seconds per load phase (default 5; --quick 4)
  --connections N         connections of the saturating load (default 50)
  --pinned | --unpinned   system under test alone on CPU 0 (default when taskset exists and there are ≥ 2 CPUs)
  --generator wrk|autocannon   load generator (default: wrk when installed)
  --upstream nginx|node   upstream for small answers (default: nginx when installed)
  --proxy-dist [LABEL=]DIR  also measure the build in DIR (a dist/ or its cli.js), in the same rounds; repeatable
  --proxy-flags LABEL=FLAGS  also measure the main build run as node FLAGS (space-separated, e.g. --max-semi-space-size=8); repeatable
  --no-build              use dist/ as it is (default: build; --quick builds only when src/ is newer than dist/)
  --profile [--scenario small|rewrite|stream] [--log-level L]   CPU profile of the proxy instead
  BENCH_PROXY_CLI=/path/to/dist/cli.js   measure that build as "bearer-proxy" (implies --no-build)`;

function list<T extends string>(text: string | undefined, allowed: readonly T[], flag: string): Set<T> | undefined {
  if (text === undefined) return undefined;
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (unknown.length > 0) throw new Error(`${flag}: unknown ${unknown.join(', ')}; choose from ${allowed.join(', ')}`);
  return new Set(items as T[]);
}

function positive(text: string | undefined, fallback: number, flag: string): number {
  const value = text === undefined ? fallback : Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`${flag} must be a positive number, not "${text}"`);
  return value;
}

/** LABEL=FLAGS: the main build under other node flags. */
export function flaggedBuild(spec: string): FlaggedBuild {
  const at = spec.indexOf('=');
  const nodeArgs = spec
    .slice(at + 1)
    .split(' ')
    .filter(Boolean);
  if (at <= 0 || nodeArgs.length === 0) throw new Error(`--proxy-flags ${spec}: expected LABEL=FLAGS, e.g. semi8=--max-semi-space-size=8`);
  return { label: spec.slice(0, at), nodeArgs };
}

/** The build BENCH_PROXY_CLI names as "bearer-proxy", when it is set. */
export function mainCliFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return env.BENCH_PROXY_CLI ? otherBuild(env.BENCH_PROXY_CLI).cli : undefined;
}

/** A dist/ dir or a cli.js; the label is what the tables call it. */
export function otherBuild(spec: string): OtherBuild {
  const at = spec.indexOf('=');
  const [label, path] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [undefined, spec];
  const full = resolve(path);
  const cli = existsSync(full) && statSync(full).isDirectory() ? join(full, 'cli.js') : full;
  if (!existsSync(cli)) throw new Error(`--proxy-dist ${spec}: ${cli} does not exist (build that tree first: npm run build)`);
  return { label: label ?? basename(resolve(cli, '..', '..')), cli };
}

export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv): Settings | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      systems: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      pinned: { type: 'boolean' },
      unpinned: { type: 'boolean' },
      generator: { type: 'string' },
      upstream: { type: 'string' },
      'proxy-dist': { type: 'string', multiple: true },
      'proxy-flags': { type: 'string', multiple: true },
      'no-build': { type: 'boolean' },
      profile: { type: 'boolean' },
      scenario: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (values.pinned && values.unpinned) throw new Error('--pinned and --unpinned exclude each other');
  if (values.generator !== undefined && !['wrk', 'autocannon'].includes(values.generator)) throw new Error(`--generator must be wrk or autocannon, not "${values.generator}"`);
  if (values.upstream !== undefined && !['nginx', 'node'].includes(values.upstream)) throw new Error(`--upstream must be nginx or node, not "${values.upstream}"`);
  const quick = values.quick === true;
  const cli = mainCliFromEnv(env);
  const rounds = positive(values.rounds, 3, '--rounds');
  if (!Number.isInteger(rounds)) throw new Error('--rounds must be a whole number');
  return {
    quick,
    scenarios: list(values.only, SCENARIOS, '--only') ?? new Set(quick ? ['small'] : SCENARIOS),
    systems: list(values.systems, SYSTEMS, '--systems') ?? new Set(quick ? ['undici', 'http-proxy'] : SYSTEMS),
    rounds,
    durationSec: positive(values.duration, quick ? 4 : 5, '--duration'),
    warmupSec: 2,
    connections: positive(values.connections, 50, '--connections'),
    pin: values.pinned ? 'pinned' : values.unpinned ? 'unpinned' : 'auto',
    generator: values.generator as GeneratorKind | undefined,
    upstream: (values.upstream as 'nginx' | 'node' | undefined) ?? 'auto',
    build: cli !== undefined || values['no-build'] ? 'never' : quick ? 'auto' : 'always',
    cli,
    others: (values['proxy-dist'] ?? []).map(otherBuild),
    flagged: (values['proxy-flags'] ?? []).map(flaggedBuild),
    profile: values.profile ? { scenario: values.scenario ?? 'small', logLevel: values['log-level'] ?? 'info' } : undefined,
  };
}
