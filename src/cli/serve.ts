import type { Config } from '../config/schema.ts';
import { isLoopbackHost } from '../inbound/loopback.ts';
import { batchedAccessLog } from '../log/access-log.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { createProxyServer } from '../proxy/server.ts';
import { loadFromCli } from './config-file.ts';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat } from './flags.ts';
import { reloadInto, watchConfigFile } from './reload.ts';
import { packageVersion, UsageError, type CliIo } from './io.ts';
import { sharedTokenSources } from '../tokens/shared-tokens.ts';
import type { LoadedConfig } from '../config/load.ts';

export interface ServeOptions {
  config?: string;
  host?: string;
  port?: string;
  logLevel?: string;
  /** Processes to serve with (--workers); 1 serves in this process. */
  workers?: string;
  logFormat?: string;
  allowAnonymousRemote?: boolean;
}

export type SignalSubscriber = (handler: (signal: string) => void, signals: readonly NodeJS.Signals[]) => void;

/** Set by a `--workers` primary in each worker's environment. */
export const WORKER_ENV = 'BEARER_PROXY_WORKER';

export async function serve(io: CliIo, options: ServeOptions, onSignal: SignalSubscriber): Promise<number> {
  const workers = Number(options.workers ?? 1);
  const worker = io.env[WORKER_ENV] !== undefined && io.ipc !== undefined ? io.ipc : undefined;
  if (workers > 1 && !worker) return (await import('./workers.ts')).servePrimary(io, options, workers, onSignal);
  const level = parseLogLevel(options.logLevel, io.env.LOG_LEVEL);
  const output = logOutput(io, parseLogFormat(options.logFormat, io.env.LOG_FORMAT));
  const pretty = output.pretty;
  const workerNumber = worker ? Number(io.env[WORKER_ENV]) : undefined;
  // Every line of a worker says which worker wrote it.
  const rootLogger = createLogger({ level, ...output });
  const logger = workerNumber === undefined ? rootLogger : rootLogger.child({ worker: workerNumber });
  const configLoader = serveConfigLoader(io, options, logger);
  const { config, warnings, source } = configLoader.load();
  for (const warning of warnings) logger.warn(warning);

  const proxy = createProxyServer(config, {
    logger,
    version: packageVersion(),
    configFile: source,
    // JSON access lines go out in batches; on a terminal each shows as it happens.
    ...(pretty ? {} : { accessLog: batchedAccessLog(level, { bindings: workerNumber === undefined ? {} : { worker: workerNumber } }) }),
    // A worker's tokens come from its primary, which fetches once for every worker.
    ...(worker ? { relayedTokenSource: sharedTokenSources(worker) } : {}),
  });
  configLoader.listening = config.listen;
  let url: string;
  try {
    url = await proxy.listen();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`${config.listen.host}:${config.listen.port} is already in use: stop the other program or pass --port`, 1);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`cannot listen on ${config.listen.host}: no such address on this machine`, 1);
    if (code === 'EINVAL') throw new UsageError(`cannot listen on ${config.listen.host}: not an address to listen on (an IPv6 link-local one needs its zone, such as fe80::1%eth0)`, 1);
    if (code === 'EACCES')
      throw new UsageError(`not allowed to listen on ${config.listen.host}:${config.listen.port}: ports below 1024 need administrator rights; pass --port 8080 or another above 1023`, 1);
    throw error;
  }
  logger.info({ url, ...(proxy.adminUrl ? { adminUrl: proxy.adminUrl } : {}), config: source, routes: proxy.routes.prefixes }, `bearer-proxy listening on ${url}`);
  worker?.send({ type: WORKER_READY, url });
  // A prefetch that fails is logged and retried by requests and probes; it must never end the process.
  proxy
    .prefetch()
    .catch((error: unknown) => logger.error({ err: { name: (error as Error).name, message: (error as Error).message } }, 'prefetch failed unexpectedly; tokens are fetched on first use'));

  const reload = (reason: string) => reloadInto(proxy, configLoader.load, logger, reason);
  // A worker's primary watches the file and tells every worker at once.
  const unwatch = worker ? () => undefined : watchConfigFile(source, () => reload('file changed'));

  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string, { repeated }: { repeated: boolean }) => {
      unwatch();
      if (stopping) {
        // A worker told by both the terminal (Ctrl+C reaches the whole process group) and its primary keeps draining.
        if (!repeated) return;
        logger.warn({ signal }, 'second signal: exiting at once');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down: no new connections, draining requests in flight');
      void proxy.close(proxy.config.shutdownTimeout).then(() => {
        logger.info('stopped');
        logger.flush();
        resolve(0);
      });
    };
    onSignal(
      (signal) => {
        if (signal === 'SIGHUP') {
          // Each worker hears SIGHUP from its primary's message instead, so a group-wide SIGHUP reloads once.
          if (!stopping && !worker) reload('SIGHUP');
          return;
        }
        stop(signal, { repeated: !worker });
      },
      ['SIGINT', 'SIGTERM', 'SIGHUP'],
    );
    worker?.on('message', (message) => {
      const type = (message as { type?: unknown } | null)?.type;
      if (type === WORKER_MESSAGES.reload && !stopping) reload((message as { reason?: string }).reason ?? 'primary');
      if (type === WORKER_MESSAGES.stop) stop('primary', { repeated: false });
    });
    // The primary is gone: nobody hands out tokens any more, so this worker drains and ends too.
    worker?.on('disconnect', () => stop('primary exited', { repeated: false }));
  });
}

/** What a `--workers` primary tells its workers. */
export const WORKER_MESSAGES = { reload: 'bearer-proxy:reload', stop: 'bearer-proxy:stop' } as const;

/**
 * What a worker tells its primary once all its listeners are up (with `url`), after its
 * own "listening" line. node:cluster's 'listening' event comes with a worker's first
 * listener, and `localhost` has two (127.0.0.1 and ::1).
 */
export const WORKER_READY = 'bearer-proxy:ready';

/**
 * Loads the config as serve does on every load: command-line overrides applied, and the
 * exposure check made against where the proxy really listens once started, so a reload
 * can neither undo --port nor open anonymous access beyond loopback that a start would refuse.
 */
export function serveConfigLoader(io: CliIo, options: ServeOptions, logger: Logger): { load: () => LoadedConfig; listening: Config['listen'] | undefined } {
  const loader = {
    listening: undefined as Config['listen'] | undefined,
    load: (): LoadedConfig => {
      const loaded = loadFromCli(io, options.config);
      if (options.host) loaded.config.listen.host = options.host;
      if (options.port !== undefined) loaded.config.listen.port = parsePort(options.port);
      checkExposure({ ...loaded.config, listen: loader.listening ?? loaded.config.listen }, options, logger);
      return loaded;
    },
  };
  return loader;
}

function checkExposure(config: Config, options: ServeOptions, logger: Logger): void {
  if (isLoopbackHost(config.listen.host)) return;
  if (config.inbound.anonymous === 'any') {
    if (!options.allowAnonymousRemote) {
      throw new UsageError(
        `inbound.anonymous is "any" and the proxy would listen on ${config.listen.host}: anyone who can reach it could use your tokens. ` +
          'Configure inbound.users instead, or pass --allow-anonymous-remote if this is really what you want.',
        1,
      );
    }
    logger.warn({ host: config.listen.host }, 'anonymous access from any address is on (--allow-anonymous-remote): anyone who can reach this port can use the tokens');
  } else if (config.inbound.users.length === 0) {
    logger.warn({ host: config.listen.host }, 'listening beyond loopback but inbound.users is empty: only loopback callers can use the proxy');
  }
}

/** --log-level, else LOG_LEVEL (an empty one counts as unset, as compose files often leave it), else info. */
export function parseLogLevel(flag: string | undefined, env: string | undefined): string {
  const [name, level] = flag !== undefined ? ['--log-level', flag] : env ? ['LOG_LEVEL', env] : [undefined, 'info'];
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`${name} must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`);
  return level;
}

/** --log-format, else LOG_FORMAT (empty counts as unset), else undefined: chosen by whether standard output is a terminal. */
export function parseLogFormat(flag: string | undefined, env: string | undefined): LogFormat | undefined {
  const [name, format] = flag !== undefined ? ['--log-format', flag] : env ? ['LOG_FORMAT', env] : [undefined, undefined];
  if (format === undefined) return undefined;
  if (!(LOG_FORMATS as readonly string[]).includes(format)) throw new UsageError(`${name} must be one of ${LOG_FORMATS.join(', ')}, not "${format}"`);
  return format as LogFormat;
}

/** Readable lines for a terminal (or when asked for), coloured only on a terminal and unless NO_COLOR is set (no-color.org). */
export function logOutput(io: CliIo, format: LogFormat | undefined): { pretty: boolean; color: boolean } {
  const terminal = io.stdout.isTTY === true;
  return { pretty: format === undefined ? terminal : format === 'pretty', color: terminal && !io.env.NO_COLOR };
}

export function parsePort(text: string): number {
  // Digits only: Number() also reads "", " 80", "0x50" and "1e3", none of which a user meant as a port.
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, not "${text}"`);
  return port;
}
