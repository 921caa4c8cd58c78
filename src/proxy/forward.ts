import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ProxyError } from '../errors.ts';
import { ConnectionWaitTimeout } from '../http/connection-limit.ts';
import { createScrub } from '../http/scrub.ts';
import type { AccessToken } from '../tokens/token.ts';
import { authorizedSend, rejectedToken } from './authorized-send.ts';
import { exchange, type Exchanged, type UpstreamExchange } from './exchange.ts';
import { upstreamRequestHeaders } from './headers.ts';
import type { PublicOrigin } from './public-origin.ts';
import { RejectionSink } from './rejection.ts';
import { hasNoBody, NO_BODY, type ReplayBuffers, type UpstreamBody } from './request-body.ts';
import { openRelay, type RelayRequest, type RelaySink } from './relay.ts';
import type { Upstream } from './upstream.ts';

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  upstream: Upstream;
  /** What follows the route prefix in the request path, and the query as sent. */
  rest: string;
  search: string;
  requestId: string;
  /** Where the client reached the proxy: links are rewritten to it, and it is sent upstream as X-Forwarded-*. */
  origin: PublicOrigin;
  loopback: boolean;
  /** Holds bodies for replay within the server's budget. */
  replayBuffers: ReplayBuffers;
  /** Called by the response's close listener, which the caller owns. */
  closeWatch: ClientCloseWatch;
}

/** What the response's close listener calls, besides its owner's own work. */
export interface ClientCloseWatch {
  onClose: (() => void) | undefined;
}

/** What happened to one forwarded request, for the access log and metrics. */
export interface ForwardResult {
  upstreamStatus?: number;
  /** Seconds until the upstream's response headers arrived (the last attempt's). */
  upstreamSeconds?: number;
  bytes?: number;
  /** The body went through URL rewriting. */
  rewritten?: boolean;
  retriedWithNewToken?: boolean;
  /** The upstream closed the connection before answering (a kept-alive one it had let go), and the request went again. */
  resentAfterConnectionClosed?: boolean;
  /** Why forwarding failed: a ProxyError for the client, or the reason the client left. */
  error?: unknown;
}

const BODY_IDLE_LIMIT_MS = 600_000;

type Sink = RelaySink | RejectionSink;

/** Why an upstream request was stopped when its client went away. */
class ClientGone extends Error {
  override readonly name = 'ClientGone';
}

/** Sends one request upstream with the route's bearer token and streams the answer back. */
export async function forward(request: ForwardRequest): Promise<ForwardResult> {
  const { req, res, upstream } = request;
  let current: UpstreamExchange<Sink> | undefined;
  let gone: ClientGone | undefined;
  const onClose = (): void => {
    if (res.writableFinished) return;
    gone = new ClientGone('the client closed the connection');
    current?.abort(gone);
  };
  request.closeWatch.onClose = onClose;
  // A client can leave while its credentials are checked (scrypt takes ~50-100 ms): its close
  // came before this watch was set, and the upstream must not do work nobody will read.
  if (res.destroyed) onClose();
  let release = (): void => undefined;
  try {
    if (gone) throw gone;
    // Most requests (every OData GET) have no body: no await, no buffer to hold.
    const read = hasNoBody(req) ? NO_BODY : await request.replayBuffers.read(req, res);
    release = read.release;
    const body = read.body;
    const relay: RelayRequest = { req, res, upstream, requestId: request.requestId, proxyBase: `${request.origin.proto}://${request.origin.host}${upstream.prefix}`, loopback: request.loopback };
    // Every token sent: the upstream's words about a 401 reach the client and the log scrubbed of them.
    const sentTokens: string[] = [];
    const send = () =>
      authorizedSend(upstream.tokens, !(body instanceof Readable), (token) => {
        if (gone) throw gone;
        sentTokens.push(token.value);
        current = exchange<Sink>(
          upstream.dispatcher,
          dispatchOptions(request, token, body),
          (statusCode, rawHeaders, control) => (statusCode === 401 ? new RejectionSink(rawHeaders, control) : openRelay(relay, statusCode, rawHeaders, control)),
          upstream.wait,
          (error) => upstreamError(error, upstream.timeoutMs),
        );
        return current.done;
      });
    let sent: Awaited<ReturnType<typeof send>>;
    let resent = false;
    try {
      sent = await send();
    } catch (error) {
      if (gone || !mayResend(req.method, body, error)) throw error;
      resent = true;
      sent = await send();
    }
    const { attempt } = sent;
    // Filled in place: spreading partial results into new objects cost a few µs per request.
    const result: ForwardResult = { upstreamStatus: attempt.statusCode, upstreamSeconds: attempt.headersSeconds };
    if (sent.retried) result.retriedWithNewToken = true;
    if (resent) result.resentAfterConnectionClosed = true;
    if (attempt.sink instanceof RejectionSink) result.error = rejectedToken(upstream.tokens.name, sent, attempt.sink.reason(createScrub(sentTokens)));
    else {
      const { sink, bodyError } = attempt as Exchanged<RelaySink>;
      // Most sinks know at once (the body was written in the tick it ended): no await then.
      const settled = bodyError ?? sink.settled();
      recordRelay(sink, settled instanceof Promise ? await settled : settled, () => gone, result);
    }
    return result;
  } catch (error) {
    return { error };
  } finally {
    release();
    request.closeWatch.onClose = undefined;
  }
}

/** Adds to `result` what became of the body on its way to the client. */
function recordRelay(sink: RelaySink, broken: Error | undefined, clientGone: () => ClientGone | undefined, result: ForwardResult): void {
  result.bytes = sink.bytes;
  result.rewritten = sink.rewritten;
  if (!broken) return;
  // The client leaving is not a failure of ours; anything else broke the upstream's body midway.
  result.error = clientGone() ?? new ProxyError('UPSTREAM_UNREACHABLE', `The upstream response broke off (${(broken as { code?: string }).code ?? broken.name}).`, { cause: broken });
}

function dispatchOptions(request: ForwardRequest, token: AccessToken, body: UpstreamBody): Dispatcher.DispatchOptions {
  const { req, upstream } = request;
  return {
    origin: upstream.origin,
    // A route to the upstream's root asked for at its bare prefix has no path of its own.
    path: (upstream.basePath + request.rest || '/') + request.search,
    method: req.method as Dispatcher.HttpMethod,
    headers: upstreamRequestHeaders(req.rawHeaders, {
      host: upstream.target.host,
      authorization: `Bearer ${token.value}`,
      forwardedFor: req.socket.remoteAddress ?? '',
      forwardedProto: request.origin.proto,
      forwardedHost: request.origin.host,
      requestId: request.requestId,
      static: upstream.headers,
      forwarded: { names: upstream.forwardedHeaders, prefix: upstream.forwardedPrefix, path: upstream.prefix + request.rest },
    }),
    body,
    headersTimeout: upstream.timeoutMs,
    // The route timeout is the wait for response headers. A pause inside a body (an
    // export the upstream writes as it reads) is cut only after OData.Feed's own 600 s.
    bodyTimeout: Math.max(upstream.timeoutMs, BODY_IDLE_LIMIT_MS),
  };
}

/** Methods that mean the same sent twice (RFC 9110 §9.2.2), and that OData readers use. */
const RESENDABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The connection closed or was reset before any answer: an upstream letting go of a kept-alive connection as the request went out. */
const CLOSED_BEFORE_ANSWER = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * Whether a request that got no answer may go once more, on another connection. An upstream
 * that closes idle connections without saying when (gunicorn after 2 s, some load
 * balancers) races every request sent as it does; nginx and Go's HTTP client resend
 * such an idempotent request once, and so does this. Never one with a body, nor after a
 * refused connection or a timeout: those say the upstream is down or slow, not that a
 * connection was stale.
 */
function mayResend(method: string | undefined, body: UpstreamBody, error: unknown): boolean {
  const cause = error instanceof ProxyError && error.code === 'UPSTREAM_UNREACHABLE' ? (error.cause as { code?: string } | undefined) : undefined;
  return body === null && RESENDABLE_METHODS.has(method ?? '') && CLOSED_BEFORE_ANSWER.has(cause?.code ?? '');
}

function upstreamError(error: unknown, timeoutMs: number): ProxyError | Error {
  if (error instanceof ConnectionWaitTimeout) {
    return new ProxyError(
      'UPSTREAM_TIMEOUT',
      `The request was not sent: all ${error.maxConnections} connections to the upstream service (the route's maxConnections) stayed busy for ${timeoutMs / 1000}s (the route timeout).`,
      { cause: error },
    );
  }
  const code = (error as { code?: string }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new ProxyError('UPSTREAM_TIMEOUT', `The upstream service sent no response headers within ${timeoutMs / 1000}s (the route timeout).`, { cause: error });
  }
  if (error instanceof ClientGone || (error as Error).name === 'AbortError' || code === 'UND_ERR_ABORTED') return error as Error;
  return new ProxyError('UPSTREAM_UNREACHABLE', `The upstream service cannot be reached (${code ?? (error as Error).name}).`, { cause: error });
}
