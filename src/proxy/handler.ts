import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { adminEndpoint, type AdminEndpoint, type AdminServices } from '../admin/endpoints.ts';
import type { RecentErrors } from '../admin/recent-errors.ts';
import { RESERVED_PATHS } from '../admin/reserved-paths.ts';
import { isProxyError, ProxyError, sendError } from '../errors.ts';
import { sendJson, sendText } from '../http/respond.ts';
import { isLoopbackAddress } from '../inbound/loopback.ts';
import type { AccessEntry, AccessLog } from '../log/access-log.ts';
import type { Logger } from '../log/logger.ts';
import { parseRequestTarget } from '../routes/request-target.ts';
import { forward, type ClientCloseWatch, type ForwardResult } from './forward.ts';
import { ALLOWED_METHODS, refuseEchoingMethods } from './methods.ts';
import { publicOrigin } from './public-origin.ts';
import type { ReplayBuffers } from './request-body.ts';
import { requestIdFor } from './request-id.ts';
import type { ServingState } from './serving-state.ts';
import type { Upstream } from './upstream.ts';

const ADMIN_ONLY_MESSAGE = `The admin listener serves only ${RESERVED_PATHS.slice(0, -1).join(', ')} and ${RESERVED_PATHS.at(-1)}.`;

/** The main listener serves routes and, unless an admin listener exists, the admin endpoints; the admin listener those only. */
export type ListenerRole = 'main' | 'admin';

export interface RequestHandlerContext {
  /** The state serving new requests; a request keeps the one it arrived with. */
  state(): ServingState;
  admin: AdminServices;
  recentErrors: RecentErrors;
  logger: Logger;
  /** Where the access line of each request goes. */
  accessLog: AccessLog;
  /** True once shutdown has begun. */
  draining(): boolean;
  /** A response has closed on a listener of this role (a draining server then lets go of idle connections). */
  responseClosed(role: ListenerRole): void;
  /** Request bodies held for replay, within one budget for the server. */
  replayBuffers: ReplayBuffers;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** What one request came to, for its access line and metrics. */
interface Outcome {
  user?: string | undefined;
  upstream?: Upstream | undefined;
  forwarded?: ForwardResult;
  /** The error the client was answered with. */
  error?: ProxyError | undefined;
}

const NO_STORE = { 'cache-control': 'no-store' };

/** Request handling, apart from the wiring: each request is served, then logged once both it and its response are done. */
export function createRequestHandler(ctx: RequestHandlerContext): (role: ListenerRole) => RequestListener {
  return (role) => (req, res) => {
    const started = performance.now();
    const requestId = requestIdFor(req);
    ctx.admin.metrics.requestStarted();
    // While draining, a keep-alive client is told to reconnect elsewhere rather than reuse this socket.
    if (ctx.draining()) res.shouldKeepAlive = false;
    // Logged once both are done: the response can close before serve() returns, and the reverse.
    let outcome: Outcome | undefined;
    let closed = false;
    // The response's one close listener; forwarding hears of the close through it (a second listener per request cost more).
    const closeWatch: ClientCloseWatch = { onClose: undefined };
    res.once('close', () => {
      closed = true;
      closeWatch.onClose?.();
      ctx.responseClosed(role);
      if (outcome) finish(ctx, req, res, requestId, started, outcome);
    });
    void serve(ctx, req, res, role, requestId, closeWatch).then((served) => {
      outcome = served;
      if (closed) finish(ctx, req, res, requestId, started, served);
    });
  };
}

async function serve(ctx: RequestHandlerContext, req: IncomingMessage, res: ServerResponse, role: ListenerRole, requestId: string, closeWatch: ClientCloseWatch): Promise<Outcome> {
  // The state at arrival serves the whole request, even if a reload swaps it meanwhile.
  const state = ctx.state();
  const loopback = isLoopbackAddress(req.socket.remoteAddress);
  let user: string | undefined;
  let upstream: Upstream | undefined;
  try {
    refuseEchoingMethods(req);
    if (req.url === '*' && req.method === 'OPTIONS') {
      // Asks what the server supports, not any resource: answered here, for any caller.
      sendText(res, 200, 'text/plain; charset=utf-8', '', { headers: { allow: ALLOWED_METHODS } });
      return {};
    }
    const target = parseRequestTarget(req.url ?? '');
    if (target.path === '/favicon.ico' && (role === 'admin' || !state.routes.match(target.path))) return answerFavicon(res);
    const endpoint = adminEndpoint(target.path);
    refuseOnThisListener(endpoint, target.path, role, state);
    if (!endpoint?.beforeAuth) {
      const auth = state.authenticator.authenticate(req, loopback);
      user = (auth instanceof Promise ? await auth : auth).user;
    }
    if (endpoint) {
      await endpoint.answer({ req, res, state, loopback }, ctx.admin);
      return { user };
    }
    if (target.path === '/') {
      // The Power BI service tests a data source's root URL; it must answer without reaching an upstream.
      sendJson(res, 200, state.routeList, { method: req.method, headers: NO_STORE });
      return { user };
    }
    const match = state.routes.match(target.path);
    if (!match) throw new ProxyError('NO_ROUTE', `No route matches ${target.path}. Routes: ${state.routes.prefixes.join(', ')}.`);
    upstream = match.route;
    const origin = publicOrigin(req, state.config.inbound.trustForwardedHeaders);
    const forwarded = await forward({ req, res, upstream, rest: match.rest, search: target.search, requestId, origin, loopback, replayBuffers: ctx.replayBuffers, closeWatch });
    return { user, upstream, forwarded, error: forwarded.error === undefined ? undefined : answerFailure(ctx, req, res, forwarded.error, requestId, upstream) };
  } catch (error) {
    return { user, upstream, error: answerFailure(ctx, req, res, error, requestId, upstream) };
  }
}

/** Answers with the error (an unexpected one as INTERNAL, logged with its stack); undefined when the client had already left. */
function answerFailure(ctx: RequestHandlerContext, req: IncomingMessage, res: ServerResponse, error: unknown, requestId: string, upstream: Upstream | undefined): ProxyError | undefined {
  if (!isProxyError(error) && res.destroyed) return undefined; // the client went away; nothing to answer
  const proxyError = isProxyError(error) ? error : new ProxyError('INTERNAL', undefined, { cause: error });
  ctx.recentErrors.record(proxyError.code);
  if (proxyError.code === 'AUTH_INVALID' || proxyError.code === 'AUTH_REQUIRED' || proxyError.code === 'AUTH_THROTTLED') ctx.admin.metrics.authFailed(proxyError.code);
  if (proxyError.code === 'INTERNAL') {
    // name, message and stack only: an arbitrary error object may carry request headers.
    const { name, message, stack } = error instanceof Error ? error : new Error(String(error));
    ctx.logger.error({ requestId, err: { name, message, stack } }, 'unexpected failure');
  }
  sendError(res, proxyError, { requestId, accept: req.headers.accept, ...(upstream ? { route: upstream.prefix } : {}) });
  return proxyError;
}

function finish(ctx: RequestHandlerContext, req: IncomingMessage, res: ServerResponse, requestId: string, started: number, outcome: Outcome): void {
  // 499 (nginx's "client closed request"): the client left before any response was sent.
  const status = res.headersSent ? res.statusCode : 499;
  const seconds = (performance.now() - started) / 1000;
  const route = outcome.upstream?.prefix;
  const forwarded = outcome.forwarded ?? {};
  const series = outcome.upstream?.metrics ?? ctx.admin.metrics.unrouted;
  series.requestFinished(status, seconds, outcome.error !== undefined);
  if (forwarded.upstreamSeconds !== undefined) series.upstreamResponded(forwarded.upstreamSeconds);
  if (forwarded.rewritten && forwarded.bytes) series.rewritten(forwarded.bytes);
  const error = outcome.error;
  const entry: AccessEntry = {
    requestId,
    method: req.method,
    path: pathOnly(req.url),
    route,
    status,
    durationMs: Math.round(seconds * 100_000) / 100,
    upstreamStatus: forwarded.upstreamStatus,
    tokenSource: outcome.upstream?.tokenSource,
    bytes: forwarded.bytes,
    user: outcome.user,
  };
  if (forwarded.retriedWithNewToken) entry.retriedWithNewToken = true;
  if (forwarded.resentAfterConnectionClosed) entry.resentAfterConnectionClosed = true;
  if (!res.writableFinished) entry.aborted = true;
  if (error) entry.error = { code: error.code, message: error.message, ...error.logDetails, ...describeCause(error.cause) };
  // A failure of the proxy's own making (no token, upstream unreachable or too slow) is a
  // warning, so `--log-level warn` still shows it; a bug is an error; the rest is traffic.
  ctx.accessLog.write(entry, error === undefined || error.status < 500 ? 'info' : error.code === 'INTERNAL' ? 'error' : 'warn');
}

/**
 * Browsers ask every origin for /favicon.ico, with or without credentials: answered 204 (no
 * icon) rather than as a 404 or 401 error. Only when no route covers the path: a route
 * prefix /favicon.ico forwards it like any other (the admin listener has no routes).
 */
function answerFavicon(res: ServerResponse): Outcome {
  res.writeHead(204, { 'cache-control': 'max-age=86400' }).end();
  return {};
}

/** The admin listener answers only admin endpoints; with one configured, /metrics and /_status leave the main listener. */
function refuseOnThisListener(endpoint: AdminEndpoint | undefined, path: string, role: ListenerRole, state: ServingState): void {
  if (role === 'admin' && !endpoint) throw new ProxyError('NO_ROUTE', ADMIN_ONLY_MESSAGE);
  if (role === 'main' && endpoint?.movesToAdminListener && state.config.admin) throw new ProxyError('NO_ROUTE', `${path} is served on the admin listener.`);
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
