import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { reservedPath } from '../admin/endpoints.ts';
import { createMetrics, type ProxyMetrics } from '../admin/metrics.ts';
import { RecentErrors } from '../admin/recent-errors.ts';
import { renderStatusPage } from '../admin/status-page.ts';
import { buildStatusModel } from '../admin/status-model.ts';
import { isLoopbackAddress } from '../inbound/loopback.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Config, TokenSourceConfig } from '../config/schema.ts';
import { DispatcherPool, outboundProxyFromEnv, type TlsSettings } from '../http/dispatchers.ts';
import { isProxyError, ProxyError, sendError } from '../errors.ts';
import { listenOn, type Server } from '../http/lifecycle.ts';
import { sendJson, sendText } from '../http/respond.ts';
import type { Logger } from '../log/logger.ts';
import { parseRequestTarget } from '../routes/request-target.ts';
import type { RouteTable } from '../routes/table.ts';
import { createClientCredentialsSource, type FetchFunction } from '../tokens/client-credentials.ts';
import { TokenProvider } from '../tokens/provider.ts';
import { RewriteRulesCache } from '../odata/rewrite.ts';
import { answerClientError, refuseConnect } from './client-errors.ts';
import { forward, type ForwardRecord } from './forward.ts';
import { ALLOWED_METHODS, refuseEchoingMethods } from './methods.ts';
import { buildServingState, type ProviderFactory, type ServingState } from './serving-state.ts';
import { publicOrigin } from './public-origin.ts';
import { requestIdFor } from './request-id.ts';

export interface ProxyServerDeps {
  logger: Logger;
  clock?: Clock;
  /** Used for every IdP request. */
  fetch?: FetchFunction;
  /** Used for upstream requests of routes without TLS settings (tests inject one). */
  dispatcher?: Dispatcher;
  /** HTTP_PROXY/HTTPS_PROXY/NO_PROXY and NODE_EXTRA_CA_CERTS are read from here (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Shown on /_status. */
  version?: string;
}

export interface ProxyServer {
  readonly server: Server;
  readonly routes: RouteTable;
  readonly tokenProviders: ReadonlyMap<string, TokenProvider>;
  /** The config serving new requests. */
  readonly config: Config;
  readonly metrics: ProxyMetrics;
  /**
   * Serves new requests with another config (already validated); requests in flight finish
   * on the old one. Token sources with unchanged settings keep their cached tokens.
   * listen.host/port are not re-bound: that takes a restart.
   */
  reload(config: Config): { keptSources: string[]; newSources: string[] };
  /** Fetches the tokens of sources marked prefetch; resolves with the names that failed. */
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

export function createProxyServer(config: Config, deps: ProxyServerDeps): ProxyServer {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const env = deps.env ?? process.env;
  const outboundProxy = outboundProxyFromEnv(env);
  const pool = new DispatcherPool({ outboundProxy, extraCa: readExtraCa(env, logger), injectedDefault: deps.dispatcher });
  const dispatcherFor = (tls: TlsSettings) => pool.get(tls);
  const makeProvider: ProviderFactory = (name, source) =>
    new TokenProvider(createClientCredentialsSource(name, source, { clock, ...idpFetch(source) }), clock, {
      refreshAhead: source.refreshAhead,
      backoff: { initialMs: source.backoff.initial, maxMs: source.backoff.max },
      logger,
      onFetch: (result) => metrics.tokenFetched(name, result),
    });
  // IdP requests go through undici's own fetch only when they need a CA or the outbound proxy.
  const idpFetch = (source: TokenSourceConfig): { fetch?: FetchFunction } => {
    if (deps.fetch) return { fetch: deps.fetch };
    return source.ca !== undefined || outboundProxy ? { fetch: pool.fetchFor({ ca: source.ca }) } : {};
  };
  let state = buildServingState(config, makeProvider, dispatcherFor).state;
  const metrics = createMetrics(() => state.tokenProviders, clock);
  let closing = false;
  let adminUrl: string | undefined;
  const rewriteRules = new RewriteRulesCache();
  const recentErrors = new RecentErrors(clock);
  const startedAt = clock.now();
  // The access line is built field by field from values that are safe to log (the path
  // without its query, the user name, error codes and messages). Generic redaction, the
  // net under every other log call, cost about a sixth of the CPU per request here.
  const accessLog = logger.child({}, { redact: [] });

  /**
   * Asks each prefetch source for its token: a cached one answers at once, an expired one
   * is fetched (within the provider's backoff), so readiness probes also keep idle tokens warm.
   */
  async function tokensNotHeld({ prefetched }: ServingState): Promise<string[]> {
    const results = await Promise.allSettled(prefetched.map((provider) => provider.getToken()));
    return prefetched.filter((_, index) => results[index]!.status === 'rejected').map((provider) => provider.name);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string, log: AccessLog, role: ListenerRole): Promise<void> {
    // The state at arrival serves the whole request, even if a reload swaps it meanwhile.
    const current = state;
    const { routes, tokenProviders } = current;
    refuseEchoingMethods(req);
    if (req.url === '*' && req.method === 'OPTIONS') {
      // Asks what the server supports, not any resource: answered here, for any caller.
      sendText(res, 200, 'text/plain; charset=utf-8', '', { headers: { allow: ALLOWED_METHODS } });
      return;
    }
    const target = parseRequestTarget(req.url ?? '');
    const reserved = reservedPath(target.path);
    // Health endpoints answer without credentials: probes and load balancers carry none.
    if (reserved === '/healthz') {
      sendJson(res, 200, { status: 'ok' }, { method: req.method, headers: NO_STORE });
      return;
    }
    if (reserved === '/readyz') {
      const missing = await tokensNotHeld(current);
      sendJson(res, missing.length === 0 ? 200 : 503, missing.length === 0 ? { status: 'ready' } : { status: 'waiting for tokens', tokenSources: missing }, { method: req.method, headers: NO_STORE });
      return;
    }
    if (role === 'admin' && !reserved) throw new ProxyError('NO_ROUTE', 'The admin listener serves only /healthz, /readyz, /metrics and /_status.');
    if (role === 'main' && current.config.admin && (reserved === '/metrics' || reserved === '/_status')) {
      throw new ProxyError('NO_ROUTE', `${reserved} is served on the admin listener.`);
    }
    log.user = (await current.authenticator.authenticate(req)).user;
    // Metrics ask for the same credentials as the routes: a scraper off the host sends Basic.
    if (reserved === '/metrics') {
      sendText(res, 200, metrics.registry.contentType, await metrics.registry.metrics(), { method: req.method, headers: NO_STORE });
      return;
    }
    if (reserved === '/_status') {
      const access = current.config.statusPage;
      if (access === 'off') throw new ProxyError('NO_ROUTE', '/_status is switched off (statusPage: off).');
      if (access === 'loopback' && !isLoopbackAddress(req.socket.remoteAddress)) {
        throw new ProxyError('NO_ROUTE', '/_status is shown to loopback callers only (statusPage: loopback).');
      }
      const html = renderStatusPage(
        buildStatusModel({ version: deps.version ?? 'unknown', startedAt, now: clock.now(), routes: current.routes, tokenProviders: current.tokenProviders, recentErrors }),
      );
      sendText(res, 200, 'text/html; charset=utf-8', html, { method: req.method, headers: NO_STORE });
      return;
    }
    if (target.path === '/') {
      // The Power BI service tests a data source's root URL; it must answer without reaching an upstream.
      sendJson(res, 200, current.routeList, { method: req.method, headers: NO_STORE });
      return;
    }
    const match = routes.match(target.path);
    if (!match) throw new ProxyError('NO_ROUTE', `No route matches ${target.path}. Routes: ${routes.prefixes.join(', ')}.`);
    log.route = match.route.prefix;
    log.tokenSource = match.route.tokenSource;
    const origin = publicOrigin(req, server, current.config.inbound.trustForwardedHeaders);
    await forward({
      req,
      res,
      match,
      search: target.search,
      requestId,
      proxyBase: `${origin.proto}://${origin.host}${match.route.prefix}`,
      forwardedProto: origin.proto,
      forwardedHost: origin.host,
      tokens: tokenProviders.get(match.route.tokenSource)!,
      dispatcher: current.dispatchers.get(match.route.prefix)!,
      rewriteRules,
      record: log,
    });
  }

  const tls = config.listen.tls;
  const onRequest = (role: ListenerRole) => (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const requestId = requestIdFor(req);
    const log: AccessLog = {};
    metrics.requestStarted();
    // While draining, a keep-alive client is told to reconnect elsewhere rather than reuse this socket.
    if (closing) res.shouldKeepAlive = false;
    res.once('close', () => {
      // A connection that just went idle would otherwise hold a draining server open until its keep-alive timeout.
      if (closing) setImmediate(() => (role === 'admin' ? adminServer : server)?.closeIdleConnections());
      const status = res.headersSent ? res.statusCode : 499;
      const seconds = (performance.now() - started) / 1000;
      metrics.requestFinished(log.route, status, seconds);
      if (log.route && log.upstreamSeconds !== undefined) metrics.upstreamResponded(log.route, log.upstreamSeconds);
      if (log.route && log.rewritten && log.bytes) metrics.rewritten(log.route, log.bytes);
      accessLog.info({
        requestId,
        method: req.method,
        path: pathOnly(req.url),
        route: log.route,
        // 499 (nginx's "client closed request"): the client left before any response was sent.
        status,
        durationMs: Math.round(seconds * 100_000) / 100,
        upstreamStatus: log.upstreamStatus,
        tokenSource: log.tokenSource,
        bytes: log.bytes,
        user: log.user,
        ...(log.retriedWithNewToken ? { retriedWithNewToken: true } : {}),
        ...(res.writableFinished ? {} : { aborted: true }),
        ...(log.error ? { error: log.error } : {}),
      }, 'request');
    });
    handle(req, res, requestId, log, role).catch((error: unknown) => {
      if (!isProxyError(error) && res.destroyed) return; // the client went away; nothing to answer
      const proxyError = isProxyError(error) ? error : new ProxyError('INTERNAL', undefined, { cause: error });
      log.error = { code: proxyError.code, message: proxyError.message, ...proxyError.logDetails, ...describeCause(proxyError.cause) };
      recentErrors.record(proxyError.code);
      if (proxyError.code === 'AUTH_INVALID' || proxyError.code === 'AUTH_REQUIRED') metrics.authFailed(proxyError.code);
      if (proxyError.code === 'INTERNAL') {
        // name, message and stack only: an arbitrary error object may carry request headers.
        const { name, message, stack } = error instanceof Error ? error : new Error(String(error));
        logger.error({ requestId, err: { name, message, stack } }, 'unexpected failure');
      }
      sendError(res, proxyError, { requestId, accept: req.headers.accept, ...(log.route ? { route: log.route } : {}) });
    });
  };
  const server: Server = (tls ? createHttpsServer.bind(null, { cert: tls.cert, key: tls.key }) : createServer)(onRequest('main'));
  // The admin listener serves only the reserved endpoints, on its own address (say, a port only the monitoring network reaches).
  const adminServer: Server | undefined = config.admin ? createServer(onRequest('admin')) : undefined;
  const refused = (refusal: ProxyError | undefined): void => {
    if (!refusal) return;
    recentErrors.record(refusal.code);
    logger.info({ error: { code: refusal.code, message: refusal.message } }, 'request refused before it was parsed');
  };
  for (const listener of [server, adminServer]) {
    listener?.on('clientError', (error: NodeJS.ErrnoException, socket) => refused(answerClientError(error, socket)));
    listener?.on('connect', (_req: IncomingMessage, socket) => refused(refuseConnect(socket)));
  }

  return {
    server,
    get routes() {
      return state.routes;
    },
    get tokenProviders() {
      return state.tokenProviders;
    },
    get config() {
      return state.config;
    },
    metrics,
    reload(next) {
      applyTlsChange(server, state.config.listen.tls, next.listen.tls, logger);
      const change = buildServingState(next, makeProvider, dispatcherFor, state);
      state = change.state;
      return { keptSources: change.keptSources, newSources: change.newSources };
    },
    async prefetch() {
      const current = state;
      const failed = await tokensNotHeld(current);
      for (const provider of current.prefetched) {
        if (failed.includes(provider.name)) logger.warn({ tokenSource: provider.name }, 'prefetch failed: /readyz answers 503 until a token is held');
        else logger.info({ tokenSource: provider.name, expiresAt: new Date((provider.state() as { expiresAt: number }).expiresAt).toISOString() }, 'token prefetched');
      }
      return failed;
    },
    async listen(port = config.listen.port, host = config.listen.host) {
      const url = await listenOn(server, port, host);
      if (adminServer && config.admin) adminUrl = await listenOn(adminServer, config.admin.port, config.admin.host);
      return url;
    },
    get adminUrl() {
      return adminUrl;
    },
    async close(drainTimeoutMs) {
      closing = true;
      const listeners = [server, ...(adminServer?.listening ? [adminServer] : [])];
      const forced =
        drainTimeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              logger.warn({ shutdownTimeoutMs: drainTimeoutMs }, 'shutdownTimeout passed: closing the connections still open');
              for (const listener of listeners) listener.closeAllConnections();
            }, drainTimeoutMs).unref();
      await Promise.all(
        listeners.map(
          (listener) =>
            new Promise<void>((resolve) => {
              listener.close(() => resolve());
              listener.closeIdleConnections();
            }),
        ),
      );
      clearTimeout(forced);
      await pool.close();
    },
  };
}

const NO_STORE = { 'cache-control': 'no-store' };

type ListenerRole = 'main' | 'admin';

type ListenTls = Config['listen']['tls'];

/** A renewed certificate takes effect for new connections; switching HTTPS on or off takes a restart. */
function applyTlsChange(server: Server, before: ListenTls, after: ListenTls, logger: Logger): void {
  if (after && server instanceof HttpsServer) {
    if (after.cert !== before?.cert || after.key !== before?.key) {
      server.setSecureContext({ cert: after.cert, key: after.key });
      logger.info('listen.tls: new certificate in use for new connections');
    }
  } else if (Boolean(after) !== Boolean(before)) {
    logger.warn('listen.tls was added or removed: switching between HTTP and HTTPS takes a restart');
  }
}

/** Node reads NODE_EXTRA_CA_CERTS itself (and warns when it cannot); a configured `ca` must add it back. */
function readExtraCa(env: Record<string, string | undefined>, logger: Logger): string | undefined {
  const path = env.NODE_EXTRA_CA_CERTS;
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    logger.warn({ path, code: (error as NodeJS.ErrnoException).code }, 'NODE_EXTRA_CA_CERTS cannot be read; routes with their own ca: will not trust it');
    return undefined;
  }
}

interface AccessLog extends ForwardRecord {
  route?: string;
  tokenSource?: string;
  user?: string | undefined;
  error?: Record<string, unknown>;
}

/** The query can carry keys (Azure Functions' ?code=), so logs get the path alone. */
function pathOnly(url: string | undefined): string | undefined {
  const end = url?.indexOf('?') ?? -1;
  return end < 0 ? url : url!.slice(0, end);
}

/** Only a cause's code and message: whole error objects from HTTP clients can hold requests and headers. */
function describeCause(cause: unknown): Record<string, unknown> {
  if (!(cause instanceof Error)) return {};
  const code = (cause as { code?: unknown }).code;
  const inner = (cause as { cause?: { code?: unknown } }).cause?.code;
  return { cause: { name: cause.name, ...(typeof code === 'string' ? { code } : {}), ...(typeof inner === 'string' ? { innerCode: inner } : {}) } };
}

