import cluster, { type Worker } from 'node:cluster';
import { systemClock } from '../clock.ts';
import type { Config, TokenSourceConfig } from '../config/schema.ts';
import { ConfigError, formatProblem } from '../config/load.ts';
import { createTransport } from '../http/transport.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { createTokenProvider, sameSourceSettings } from '../tokens/factory.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import { answerTokenRequests } from '../tokens/shared-tokens.ts';
import { watchConfigFile } from './reload.ts';
import { logOutput, parseLogFormat, parseLogLevel, serveConfigLoader, WORKER_ENV, WORKER_MESSAGES, WORKER_READY, type ServeOptions, type SignalSubscriber } from './serve.ts';
import { UsageError, type CliIo } from './io.ts';

/** A worker that dies after it was serving is started again after this long (never in a tight loop). */
const RESTART_DELAY_MS = 1_000;

/**
 * `serve --workers N`: this process serves nothing itself. It starts N workers that run the
 * same command line and share the listening port (node:cluster hands connections round
 * the workers), holds the one real token provider of each source and answers the
 * workers' token requests from it, so the IdP sees one request per source per refresh
 * for the whole host. It watches the config file and tells every worker to reload, and
 * on SIGTERM/SIGINT tells them to drain and waits for them.
 */
export async function servePrimary(io: CliIo, options: ServeOptions, workers: number, onSignal: SignalSubscriber): Promise<number> {
  if (!io.entry) throw new UsageError('--workers needs the command to be started from its script (node dist/cli.js, or the installed bearer-proxy)', 1);
  const logger = createLogger({ level: parseLogLevel(options.logLevel, io.env.LOG_LEVEL), ...logOutput(io, parseLogFormat(options.logFormat, io.env.LOG_FORMAT)) });
  const configLoader = serveConfigLoader(io, options, logger);
  const first = configLoader.load();
  configLoader.listening = first.config.listen;
  const tokens = primaryTokens(first.config, logger, io.env);

  cluster.setupPrimary({ exec: io.entry, args: io.argv });
  const running = new Set<Worker>();
  let stopping = false;
  let failed = false;
  let everyoneListening = false;
  let listeningCount = 0;

  return new Promise<number>((resolve) => {
    const finish = (code: number) => void tokens.close().then(() => resolve(code));
    const start = (index: number): void => {
      const worker = cluster.fork({ [WORKER_ENV]: String(index) });
      running.add(worker);
      answerTokenRequests(worker, (name) => tokens.providers.get(name));
      // Counted when each worker says it is ready, not at cluster's 'listening' (its first listener of two
      // for localhost): "serving" comes after every worker's own "listening" line, and a worker that
      // fails on its second address fails the start.
      worker.on('message', (message) => {
        const { type, url } = (message ?? {}) as { type?: unknown; url?: unknown };
        if (type !== WORKER_READY || everyoneListening || ++listeningCount < workers) return;
        everyoneListening = true;
        logger.info({ url, workers, config: first.source }, `bearer-proxy serving on ${String(url)} with ${workers} workers`);
      });
      worker.once('exit', (code, signal) => {
        running.delete(worker);
        if (stopping) {
          if (running.size === 0) finish(failed ? 1 : 0);
          return;
        }
        if (!everyoneListening) {
          // A worker that cannot start (the port is taken, say) has already said why: the others stop too.
          logger.error({ worker: index, code, signal }, 'a worker failed to start; stopping the others');
          failed = true;
          stopAll('worker failed');
          return;
        }
        logger.error({ worker: index, code, signal }, `worker ${index} exited; starting another in ${RESTART_DELAY_MS / 1000}s`);
        setTimeout(() => !stopping && start(index), RESTART_DELAY_MS).unref();
      });
    };
    const stopAll = (reason: string): void => {
      if (stopping) {
        logger.warn({ reason }, 'second signal: ending the workers at once');
        // Requests were cut short: exit 1, as a single process does.
        failed = true;
        for (const worker of running) worker.process.kill('SIGKILL');
        return;
      }
      stopping = true;
      unwatch();
      logger.info({ reason, workers: running.size }, 'shutting down: the workers drain their requests in flight');
      if (running.size === 0) finish(failed ? 1 : 0);
      for (const worker of running) worker.send({ type: WORKER_MESSAGES.stop });
    };
    const reload = (reason: string): void => {
      try {
        tokens.update(configLoader.load().config);
      } catch (error) {
        // The workers would load the same broken file; they keep serving the old config, and so does this process.
        const problems = error instanceof ConfigError ? error.problems.map((problem) => formatProblem(error.source, problem)) : [(error as Error).message];
        logger.error({ reason, problems }, 'config reload failed; the workers keep serving the previous config');
        return;
      }
      for (const worker of running) worker.send({ type: WORKER_MESSAGES.reload, reason });
    };
    const unwatch = watchConfigFile(first.source, () => reload('file changed'));
    onSignal((signal) => (signal === 'SIGHUP' ? reload('SIGHUP') : stopAll(signal)), ['SIGINT', 'SIGTERM', 'SIGHUP']);
    for (let index = 1; index <= workers; index++) start(index);
  });
}

/** The primary's providers, by source name; a reload keeps those whose settings are unchanged (and their tokens). */
function primaryTokens(config: Config, logger: Logger, env: CliIo['env']) {
  const transport = createTransport({ env, logger });
  const make = (name: string, source: TokenSourceConfig) => createTokenProvider(name, source, { transport, clock: systemClock, logger });
  let settings = config.tokens;
  let providers = new Map(Object.entries(settings).map(([name, source]) => [name, make(name, source)]));
  return {
    get providers(): ReadonlyMap<string, TokenProvider> {
      return providers;
    },
    update(next: Config): void {
      providers = new Map(
        Object.entries(next.tokens).map(([name, source]) => {
          const before = settings[name];
          const kept = before !== undefined && sameSourceSettings(before, source) ? providers.get(name) : undefined;
          return [name, kept ?? make(name, source)];
        }),
      );
      settings = next.tokens;
    },
    close: () => transport.close(),
  };
}
