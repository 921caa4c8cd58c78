import type { Dispatcher } from 'undici';
import type { AdminServices } from '../admin/endpoints.ts';
import { createMetrics, type ProxyMetrics } from '../admin/metrics.ts';
import { createStatusBoard, type StatusBoard } from '../admin/status-board.ts';
import { formatInstant, systemClock, type Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { Server } from '../http/lifecycle.ts';
import { createAuthenticator } from '../inbound/auth.ts';
import { LoginThrottle, type LoginThrottleOptions } from '../inbound/throttle.ts';
import { createTransport, type FetchFunction, type Transport } from '../http/transport.ts';
import { loggerAccessLog, type AccessLog } from '../log/access-log.ts';
import type { Logger } from '../log/logger.ts';
import type { RouteTable } from '../routes/table.ts';
import { createTokenProvider, type TokenProviderDeps } from '../tokens/factory.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import { createRequestHandler } from './handler.ts';
import { createListeners } from './listeners.ts';
import { ReplayBuffers } from './request-body.ts';
import { buildServingState, sourcesWithoutToken, type ServingState, type StateParts } from './serving-state.ts';
import type { Upstream } from './upstream.ts';

export interface ProxyServerDeps {
  logger: Logger;
  clock?: Clock;
  /** Used for every IdP request. */
  fetch?: FetchFunction;
  /** Used for upstream requests of routes without TLS settings (tests inject one). */
  dispatcher?: Dispatcher;
  /** HTTP_PROXY/HTTPS_PROXY/NO_PROXY, NODE_EXTRA_CA_CERTS and managed identity's IDENTITY_ENDPOINT… are read from here (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Shown on /_status. */
  version?: string;
  /** The config file's path, shown on /_status. */
  configFile?: string;
  /** Where access lines go (default: through the logger). */
  accessLog?: AccessLog;
  /** How each token source answered each request (a test seam). */
  onTokenDemand?: TokenProviderDeps['onDemand'];
  /** Tokens from another process instead of the IdP (a `--workers` worker). */
  relayedTokenSource?: TokenProviderDeps['relayedSource'];
  /** Budget and idle timeout of request bodies held for replay (tests make them small). */
  requestBodies?: { replayBudgetBytes?: number; idleTimeoutMs?: number };
  /** Brute-force throttling policy and timers (tests shorten the waits). */
  throttle?: Omit<LoginThrottleOptions, 'clock' | 'onThrottle'>;
}

export interface ReloadResult {
  keptSources: string[];
  newSources: string[];
  /** Settings that changed in the file but keep their running value until a restart. */
  needsRestart: Array<{ key: 'listen' | 'admin'; configured: unknown; running: unknown }>;
}

export interface ProxyServer {
  /** The main listener's first server (`localhost` listens on two: see servers). */
  readonly server: Server;
  readonly servers: readonly Server[];
  readonly routes: RouteTable<Upstream>;
  readonly tokenProviders: ReadonlyMap<string, TokenProvider>;
  /** The config serving new requests. */
  readonly config: Config;
  readonly metrics: ProxyMetrics;
  /**
   * Serves new requests with another config (already validated); requests in flight finish
   * on the old one. Token sources with unchanged settings keep their cached tokens.
   * The listeners stay where they are (listen.host/port, admin: a change takes a restart,
   * and is named in needsRestart).
   */
  reload(config: Config): ReloadResult;
  /** Told how a reload of the config file went (src/cli/reload.ts): no problems is success. Shown on /_status. */
  reloadAttempted(outcome: { reason: string; problems: readonly string[] }): void;
  /** Fetches the tokens of sources marked prefetch; resolves with the names that failed, and never rejects. */
  prefetch(): Promise<string[]>;
  /** Starts listening on the configured (or given) host and port, and on the admin address if configured; resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** The admin listener's base URL, once listening (only with `admin:` configured). */
  readonly adminUrl: string | undefined;
  /**
   * Stops accepting, lets requests in flight finish and closes keep-alive sockets as they
   * go idle, on every listener. After drainTimeoutMs, what is still open is closed.
   */
  close(drainTimeoutMs?: number): Promise<void>;
}

/** The composition root: builds the parts once and wires them; requests are handled in handler.ts. */
export function createProxyServer(config: Config, deps: ProxyServerDeps): ProxyServer {
  const { logger } = deps;
  const clock = deps.clock ?? systemClock;
  const status = createStatusBoard({ clock, version: deps.version ?? 'unknown', configFile: deps.configFile });
  const { recentErrors } = status;
  // Assigned just below; metrics read it only when scraped.
  let state: ServingState;
  const replayBuffers = new ReplayBuffers(deps.requestBodies?.replayBudgetBytes, deps.requestBodies?.idleTimeoutMs);
  const metrics = createMetrics(() => state.tokenProviders, clock, { replayBufferedBytes: () => replayBuffers.inUse });
  const env = deps.env ?? process.env;
  const transport = createTransport({ env, logger, fetch: deps.fetch, dispatcher: deps.dispatcher });
  const parts = stateParts(deps, { clock, env, metrics, transport, status });
  const build = (next: Config, previous?: ServingState) => buildServingState(next, parts, previous);
  state = build(config).state;
  const admin: AdminServices = {
    metrics,
    statusPage: (current) => status.render(current),
  };
  let draining = false;
  const accessLog = deps.accessLog ?? loggerAccessLog(logger);
  const onRequest = createRequestHandler({
    state: () => state,
    admin,
    recentErrors,
    logger,
    accessLog,
    draining: () => draining,
    replayBuffers,
    // A connection that just went idle would otherwise hold a draining server open until its keep-alive timeout.
    responseClosed(role) {
      if (draining) setImmediate(() => listeners.closeIdleConnections(role));
    },
  });
  const listeners = createListeners(config, onRequest, logger, recentErrors);
  let adminUrl: string | undefined;

  return {
    get server() {
      return listeners.main[0]!;
    },
    get servers() {
      return listeners.main;
    },
    get routes() {
      return state.routes;
    },
    get tokenProviders() {
      return state.tokenProviders;
    },
    get config() {
      return state.config;
    },
    get adminUrl() {
      return adminUrl;
    },
    metrics,
    reload(loaded) {
      const { config: next, needsRestart } = withRunningListeners(state.config, loaded);
      listeners.applyTls(state.config.listen.tls, next.listen.tls);
      const change = build(next, state);
      state = change.state;
      return { keptSources: change.keptSources, newSources: change.newSources, needsRestart };
    },
    reloadAttempted: status.reloadAttempted,
    prefetch: () => prefetchTokens(state, logger),
    async listen(port = config.listen.port, host = config.listen.host) {
      const url = await listeners.listen(port, host);
      adminUrl = await listeners.listenAdmin();
      return url;
    },
    async close(drainTimeoutMs) {
      draining = true;
      await listeners.close(drainTimeoutMs);
      accessLog.flush();
      await transport.close();
    },
  };
}

/** How each config's serving state gets its providers, pools, metric series and authenticator. */
function stateParts(
  deps: ProxyServerDeps,
  { clock, env, metrics, transport, status }: { clock: Clock; env: Record<string, string | undefined>; metrics: ProxyMetrics; transport: Transport; status: StatusBoard },
): StateParts {
  const providerDeps: TokenProviderDeps = { transport, clock, env, logger: deps.logger, onFetch: metrics.tokenFetched, onDemand: deps.onTokenDemand, relayedSource: deps.relayedTokenSource };
  // One throttle for the server's life: a reload must not forget the failures counted so far.
  const throttle = new LoginThrottle({ clock, ...deps.throttle, onThrottle: metrics.authThrottled });
  return {
    makeProvider: (name, source) => createTokenProvider(name, source, providerDeps),
    connectionsFor: transport.connectionsFor,
    // Each route's series also feeds /_status: its traffic, and its upstream's 5xx.
    metricsFor: (prefix) => status.observe(prefix, metrics.forRoute(prefix)),
    makeAuthenticator: (inbound) => createAuthenticator(inbound, { throttle }),
  };
}

/** A reload cannot move a listener: the running address and admin listener stay, whatever the file now says. */
function withRunningListeners(running: Config, next: Config): { config: Config; needsRestart: ReloadResult['needsRestart'] } {
  const needsRestart: ReloadResult['needsRestart'] = [];
  if (next.listen.host !== running.listen.host || next.listen.port !== running.listen.port) {
    needsRestart.push({ key: 'listen', configured: { host: next.listen.host, port: next.listen.port }, running: { host: running.listen.host, port: running.listen.port } });
  }
  if (JSON.stringify(next.admin) !== JSON.stringify(running.admin)) needsRestart.push({ key: 'admin', configured: next.admin, running: running.admin });
  // The certificate may change on reload; host and port may not.
  return { config: { ...next, listen: { ...next.listen, host: running.listen.host, port: running.listen.port }, admin: running.admin }, needsRestart };
}

async function prefetchTokens(state: ServingState, logger: Logger): Promise<string[]> {
  const failed = await sourcesWithoutToken(state);
  for (const provider of state.prefetched) {
    if (failed.includes(provider.name)) logger.warn({ tokenSource: provider.name }, 'prefetch failed: /readyz answers 503 until a token is held');
    else logger.info({ tokenSource: provider.name, expiresAt: describeExpiry(provider) }, 'token prefetched');
  }
  return failed;
}

/** An IdP can send any lifetime; a date out of range must not make the log line throw. */
function describeExpiry(provider: TokenProvider): string | undefined {
  const state = provider.state();
  if (state.status === 'empty') return undefined;
  return formatInstant(state.expiresAt);
}
