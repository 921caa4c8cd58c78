import type { FlagName, FlagSpec, FlagValues, Idp } from './flags.ts';
import { print, type CliIo } from './io.ts';
import type { SignalSubscriber } from './serve.ts';

/**
 * The commands, declared as data: what each accepts, what its help says, and a `run` that
 * imports the command's module only when it is the one called. `--version`, `--help` and a
 * usage mistake therefore load no dependency at all, and `hash-password` loads no proxy.
 */
export interface CommandContext {
  io: CliIo;
  values: FlagValues;
  positionals: string[];
  onSignal: SignalSubscriber;
}

export interface CommandSpec {
  readonly name: string;
  /** One line, for the command list. */
  readonly summary: string;
  /** The positional argument, if the command takes one. */
  readonly argument?: { readonly name: string; readonly optional: boolean; readonly description: string };
  readonly flags: readonly FlagName[];
  /** Per-command wording for a shared flag (demo's --port defaults differently). */
  readonly flagOverrides?: Partial<Record<FlagName, Partial<FlagSpec>>>;
  /** Paragraphs of the per-command help, between the usage line and the options. */
  readonly description: readonly string[];
  readonly environment: readonly EnvName[];
  readonly examples: readonly (readonly [command: string, what: string])[];
  /** README section for more. */
  readonly docs: { readonly anchor: string; readonly title: string };
  run(context: CommandContext): Promise<number>;
}

export const ENVIRONMENT = {
  BEARER_PROXY_CONFIG: 'the config file when -c/--config is not given',
  LOG_LEVEL: 'the log level when --log-level is not given',
  LOG_FORMAT: 'json or pretty, when --log-format is not given',
  NO_COLOR: 'set (to anything) for readable log lines without colours',
  'HTTPS_PROXY, HTTP_PROXY, NO_PROXY': 'send IdP and upstream traffic through an outbound (corporate) proxy; upper or lower case',
  NODE_EXTRA_CA_CERTS: 'a PEM file of extra CA certificates to trust for every connection (a corporate TLS-inspecting proxy)',
  '${NAME} in the file': 'any variable the config names, e.g. clientSecret: ${API_CLIENT_SECRET}; a missing one is an error naming it',
} as const;

export type EnvName = keyof typeof ENVIRONMENT;

const OUTBOUND: readonly EnvName[] = ['HTTPS_PROXY, HTTP_PROXY, NO_PROXY', 'NODE_EXTRA_CA_CERTS'];

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'serve',
    summary: 'run the proxy (the default command)',
    flags: ['config', 'host', 'port', 'log-level', 'log-format', 'workers', 'allow-anonymous-remote'],
    description: [
      "Reads the config file, listens (http://localhost:8080, on 127.0.0.1 and ::1, unless the file or a flag says otherwise) and forwards each request to its route's target with a bearer token injected.",
      'The file is read again when it changes or on SIGHUP (an invalid file keeps the old config serving); SIGTERM or Ctrl+C drains requests in flight and exits 0. Logs go to standard output: one JSON object per line, or on a terminal one readable line per request (GET /sales/Orders 200 15 ms upstream=200 token=lake 12.3 kB); failures the proxy answered with a 5xx are warnings.',
    ],
    environment: ['BEARER_PROXY_CONFIG', 'LOG_LEVEL', 'LOG_FORMAT', 'NO_COLOR', ...OUTBOUND, '${NAME} in the file'],
    examples: [
      ['bearer-proxy', 'serve ./proxy.yaml on http://localhost:8080'],
      ['bearer-proxy serve -c /etc/bearer-proxy/proxy.yaml --port 9090', 'another file, another port'],
      ['LOG_LEVEL=warn bearer-proxy', 'log only warnings and errors'],
      ['bearer-proxy --workers 2', 'two processes on one port, for a host with two cores or more'],
      ['bearer-proxy --log-format pretty | tee proxy.log', 'readable lines also through a pipe (JSON otherwise)'],
    ],
    docs: { anchor: 'running-it', title: 'Running it' },
    run: async ({ io, values, onSignal }) =>
      (await import('./serve.ts')).serve(
        io,
        {
          config: values.config,
          host: values.host,
          port: values.port,
          logLevel: values['log-level'],
          logFormat: values['log-format'],
          workers: values.workers,
          allowAnonymousRemote: values['allow-anonymous-remote'],
        },
        onSignal,
      ),
  },
  {
    name: 'check',
    summary: 'validate the config file and print the routes it would serve',
    flags: ['config', 'fetch-tokens'],
    description: [
      'Reports every problem in the file at once, each with its line, column and key, and exits 1 if there is any. A valid file prints the listener, the route table (longest prefix first) and the token sources.',
      "With --fetch-tokens it also asks each token source's IdP for one token and prints its lifetime, or what the IdP answered (never the secret).",
    ],
    environment: ['BEARER_PROXY_CONFIG', '${NAME} in the file', ...OUTBOUND],
    examples: [
      ['bearer-proxy check', 'validate ./proxy.yaml'],
      ['bearer-proxy check --fetch-tokens', 'and prove each client id and secret work'],
    ],
    docs: { anchor: 'configuration-reference', title: 'Configuration reference' },
    run: async ({ io, values }) => (await import('./check.ts')).check(io, { config: values.config, fetchTokens: values['fetch-tokens'] }),
  },
  {
    name: 'token',
    summary: 'fetch one token and show its expiry and claims',
    argument: { name: 'SOURCE', optional: false, description: 'a name under tokens: in the config file' },
    flags: ['config', 'raw'],
    description: [
      'Fetches a fresh token from one token source, as the proxy would, and prints its type, expiry, scope and (for a JWT) its header and claims: what the upstream will see. The token itself is printed only with --raw.',
    ],
    environment: ['BEARER_PROXY_CONFIG', '${NAME} in the file', ...OUTBOUND],
    examples: [
      ['bearer-proxy token lake', 'who the "lake" token says you are, and until when'],
      ['curl -H "Authorization: Bearer $(bearer-proxy token lake --raw)" https://api.example.com/', 'call the API directly with it'],
    ],
    docs: { anchor: 'token-lifecycle', title: 'Token lifecycle' },
    run: async ({ io, values, positionals }) => (await import('./token.ts')).token(io, { config: values.config, source: positionals[0], raw: values.raw }),
  },
  {
    name: 'init',
    summary: 'write a commented starter proxy.yaml for your IdP',
    flags: ['config', 'idp', 'force'],
    flagOverrides: { config: { description: 'where to write the file' } },
    description: [
      'Writes a starter config with one token source and one route for the chosen IdP, each key commented. Secrets are ${NAME} placeholders read from the environment: none is ever written into the file. Lines to fill in are marked "edit:".',
      "An existing file is never overwritten unless --force is given. The first line points editors with the YAML language server at the config's JSON Schema.",
      'IdPs: entra (Entra ID / Azure AD v2), entra-v1 (Azure AD v1, resource instead of scope), okta (custom authorization server), auth0 (audience), keycloak (realm issuer), generic (any token endpoint).',
    ],
    environment: ['BEARER_PROXY_CONFIG'],
    examples: [
      ['bearer-proxy init --idp entra', 'write ./proxy.yaml for Entra ID'],
      ['bearer-proxy init --idp okta -c okta.yaml', 'write okta.yaml'],
      ['bearer-proxy check', 'then: it names the environment variables still to set'],
    ],
    docs: { anchor: 'five-minute-setup-with-your-idp', title: 'Five-minute setup with your IdP' },
    run: async ({ io, values }) => (await import('./init.ts')).init(io, { config: values.config, idp: values.idp as Idp | undefined, force: values.force }),
  },
  {
    name: 'hash-password',
    summary: 'print a scrypt hash for inbound.users[].passwordHash',
    flags: [],
    description: [
      'On a terminal it asks for the password twice without showing it. Otherwise it reads the password from standard input (one trailing newline is dropped), so scripts can pipe it in from a file or a secret store.',
      'The hash goes to standard output, alone on its line: put it in passwordHash (or in a ${NAME} or ${file:PATH} that passwordHash reads).',
    ],
    environment: [],
    examples: [
      ['bearer-proxy hash-password', 'asks for the password (not shown) twice'],
      ['bearer-proxy hash-password < password.txt > password.hash', 'from a file, for scripts'],
    ],
    docs: { anchor: 'configuration-reference', title: 'Configuration reference' },
    run: async ({ io }) => (await import('./hash-password.ts')).hashPasswordCommand(io),
  },
  {
    name: 'schema',
    summary: "print the config's JSON Schema (for editors)",
    flags: [],
    description: ['Prints the JSON Schema the config file is validated against, for editors with the YAML language server (completion, hover help, errors as you type).'],
    environment: [],
    examples: [['bearer-proxy schema > proxy.schema.json', 'then start proxy.yaml with: # yaml-language-server: $schema=./proxy.schema.json']],
    docs: { anchor: 'configuration-reference', title: 'Configuration reference' },
    run: async ({ io }) => {
      const { configJsonSchema } = await import('../config/json-schema.ts');
      print(io.stdout, JSON.stringify(configJsonSchema(), null, 2));
      return 0;
    },
  },
  {
    name: 'demo',
    summary: 'offline demo: a token issuer, a sample OData service and the proxy',
    flags: ['port', 'once'],
    flagOverrides: { port: { description: 'port for the proxy', default: '8080, else a free port when 8080 is taken' } },
    description: [
      "Starts, on this machine and without network access, a token issuer, a sample OData v4 service that refuses requests without that issuer's token, and the proxy between them. It proves the chain works, then prints what to paste into Power BI or curl and serves until Ctrl+C.",
    ],
    environment: [],
    examples: [
      ['bearer-proxy demo', 'try it, then OData.Feed("http://localhost:8080/demo/") in Power BI'],
      ['bearer-proxy demo --once --port 0', 'self-check only (exit 0 when it passed)'],
    ],
    docs: { anchor: 'try-it-two-commands', title: 'Try it' },
    run: async ({ io, values, onSignal }) => (await import('./demo.ts')).demo(io, { port: values.port, once: values.once }, onSignal),
  },
  {
    name: 'help',
    summary: "this text, or one command's flags, environment and examples",
    argument: { name: 'COMMAND', optional: true, description: 'the command to explain' },
    flags: [],
    description: [
      'Without a command: the overview. With one: what it does, every flag with its default, the environment variables it reads, and examples. `bearer-proxy COMMAND --help` prints the same.',
    ],
    environment: [],
    examples: [['bearer-proxy help serve', 'everything about serve']],
    docs: { anchor: 'command-line', title: 'Command line' },
    run: async ({ io, positionals }) => {
      const { commandHelp, globalHelp } = await import('./help.ts');
      const command = positionals[0] === undefined ? undefined : findCommand(positionals[0]);
      print(io.stdout, command ? commandHelp(command) : globalHelp());
      return 0;
    },
  },
];

export const DEFAULT_COMMAND = 'serve';

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((command) => command.name === name);
}
