#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { check } from './cli/check.ts';
import { demo } from './cli/demo.ts';
import { hashPasswordCommand } from './cli/hash-password.ts';
import { packageVersion, print, UsageError, type CliIo } from './cli/io.ts';
import { serve, type SignalSubscriber } from './cli/serve.ts';
import { token } from './cli/token.ts';
import { ConfigError } from './config/load.ts';
import { configJsonSchema } from './config/schema.ts';
import { isProxyError } from './errors.ts';

const HELP = `bearer-proxy: a local reverse proxy that injects OAuth2 client_credentials tokens

Usage:
  bearer-proxy [serve] [-c proxy.yaml] [--host H] [--port P] [--log-level L]
  bearer-proxy check [-c proxy.yaml] [--fetch-tokens]
  bearer-proxy token <source> [-c proxy.yaml] [--raw]
  bearer-proxy hash-password            (reads the password from standard input)
  bearer-proxy schema                   (prints the config's JSON Schema)
  bearer-proxy demo [--port P] [--once] (offline demo: token issuer + OData service + proxy)

Options:
  -c, --config FILE          config file (default: $BEARER_PROXY_CONFIG, else ./proxy.yaml)
  --allow-anonymous-remote   permit inbound.anonymous: any on a non-loopback address
  -h, --help                 this text
  -v, --version              the version

Exit codes: 0 ok, 1 failed (bad config, token or port), 2 bad command line.`;

const COMMANDS = ['serve', 'check', 'token', 'hash-password', 'schema', 'demo'] as const;

async function main(io: CliIo, onSignal: SignalSubscriber): Promise<number> {
  const { values, positionals } = parseArgs({
    args: io.argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string' },
      'log-level': { type: 'string' },
      'fetch-tokens': { type: 'boolean' },
      raw: { type: 'boolean' },
      once: { type: 'boolean' },
      'allow-anonymous-remote': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) return print(io.stdout, HELP), 0;
  if (values.version) return print(io.stdout, packageVersion()), 0;
  const [command = 'serve', ...rest] = positionals;
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command "${command}"; commands: ${COMMANDS.join(', ')}`);
  if (rest.length > (command === 'token' ? 1 : 0)) throw new UsageError(`unexpected argument "${rest.at(-1)}" for ${command}`);

  switch (command as (typeof COMMANDS)[number]) {
    case 'serve':
      return serve(io, { config: values.config, host: values.host, port: values.port, logLevel: values['log-level'], allowAnonymousRemote: values['allow-anonymous-remote'] }, onSignal);
    case 'check':
      return check(io, { config: values.config, fetchTokens: values['fetch-tokens'] });
    case 'token':
      return token(io, { config: values.config, source: rest[0], raw: values.raw });
    case 'hash-password':
      return hashPasswordCommand(io);
    case 'schema':
      return print(io.stdout, JSON.stringify(configJsonSchema(), null, 2)), 0;
    case 'demo':
      return demo(io, { port: values.port, once: values.once }, onSignal);
  }
}

/** Turns every expected failure into a message and an exit code; only a real bug shows a stack. */
function reportFailure(io: CliIo, error: unknown): number {
  if (error instanceof ConfigError) {
    print(io.stderr, error.message);
    return 1;
  }
  if (error instanceof UsageError) {
    print(io.stderr, `bearer-proxy: ${error.message}`);
    return error.exitCode;
  }
  if (isProxyError(error)) {
    print(io.stderr, `bearer-proxy: ${error.code}: ${error.message}`);
    return 1;
  }
  if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    print(io.stderr, `bearer-proxy: ${(error as Error).message}\nRun bearer-proxy --help for usage.`);
    return 2;
  }
  print(io.stderr, `bearer-proxy: unexpected failure: ${(error as Error)?.stack ?? String(error)}`);
  return 70;
}

const io: CliIo = { argv: process.argv.slice(2), env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd() };
const onSignal: SignalSubscriber = (handler, signals) => {
  for (const signal of signals) process.on(signal, () => handler(signal));
};
main(io, onSignal)
  .catch((error: unknown) => reportFailure(io, error))
  .then((code) => {
    process.exitCode = code;
    // Servers and timers are closed by now; anything still holding the loop is not ours to wait for.
    setTimeout(() => process.exit(code), 200).unref();
  });
