/**
 * Every command-line flag, declared once: the parser, the usage errors and the help text
 * all come from this table. Kept free of imports so that `--help` and `--version` load
 * nothing else (issue 13: start-up time).
 */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder for the value in help and usage lines. */
  readonly value?: string;
  readonly description: string;
  /** What applies when the flag is not given, in words. */
  readonly default?: string;
  /** Accepted values; anything else is a usage error before the command starts. */
  readonly choices?: readonly string[];
  /** A whole number in this range, checked the same way. */
  readonly range?: readonly [min: number, max: number];
}

/** pino's levels; pino itself throws a stack trace at an unknown one, so they are checked first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** How serve writes its log: JSON lines (for files and log collectors) or readable ones (for a person at a terminal). */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const IDPS = ['entra', 'entra-v1', 'okta', 'auth0', 'keycloak', 'generic'] as const;
export type Idp = (typeof IDPS)[number];

export const FLAGS = {
  config: { type: 'string', short: 'c', value: 'FILE', description: 'the config file', default: '$BEARER_PROXY_CONFIG, else ./proxy.yaml' },
  host: { type: 'string', value: 'HOST', description: 'address to listen on, instead of listen.host; 0.0.0.0 is every interface', default: 'listen.host, else localhost (127.0.0.1 and ::1)' },
  port: { type: 'string', value: 'PORT', description: 'port to listen on, instead of listen.port; 0 takes a free one', default: 'listen.port, else 8080', range: [0, 65535] },
  'log-level': { type: 'string', value: 'LEVEL', description: 'how much to log', default: '$LOG_LEVEL, else info', choices: LOG_LEVELS },
  'log-format': {
    type: 'string',
    value: 'FORMAT',
    description: 'JSON lines, or pretty: one readable line per request',
    default: '$LOG_FORMAT, else pretty on a terminal',
    choices: LOG_FORMATS,
  },
  workers: { type: 'string', value: 'N', description: 'serve with N processes sharing the port, one per core; tokens are still fetched once for all of them', default: '1', range: [1, 64] },
  'allow-anonymous-remote': { type: 'boolean', description: 'start even though inbound.anonymous is "any" and the address is not loopback: anyone who reaches the port then uses your tokens' },
  'fetch-tokens': { type: 'boolean', description: 'also fetch one token from each token source, and show what the IdP answered' },
  raw: { type: 'boolean', description: 'print only the token itself, for scripts; it is a credential, so keep it out of logs and chats' },
  once: { type: 'boolean', description: 'run the self-check, then exit (0 when it passed)' },
  idp: { type: 'string', value: 'IDP', description: 'the identity provider the starter file is for', default: 'generic', choices: IDPS },
  force: { type: 'boolean', description: 'overwrite the file if it exists' },
  help: { type: 'boolean', short: 'h', description: "show help; after a command, that command's help" },
  version: { type: 'boolean', short: 'v', description: 'print the version' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;

export type FlagValues = { [K in FlagName]?: (typeof FLAGS)[K]['type'] extends 'string' ? string : boolean };

/** Flags every command accepts. */
export const GLOBAL_FLAGS: readonly FlagName[] = ['help', 'version'];

/** `-c, --config FILE` */
export function flagLabel(name: FlagName): string {
  const spec: FlagSpec = FLAGS[name];
  return `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`;
}
