import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ProxyError } from '../errors.ts';
import type { AccessToken } from '../tokens/token.ts';
import { authorizedSend, rejectedToken, type Attempt } from './authorized-send.ts';
import { upstreamRequestHeaders } from './headers.ts';
import type { PublicOrigin } from './public-origin.ts';
import { rejectionReason } from './rejection.ts';
import { relay } from './relay.ts';
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
  /** Why forwarding failed: a ProxyError for the client, or the reason the client left. */
  error?: unknown;
}

/**
 * Request bodies of known length up to this size are read into memory, so a request the
 * upstream refused for its token can be sent again (an OData $batch is such a POST).
 * Larger or chunked bodies stream through and are not replayed.
 */
export const REPLAY_BODY_LIMIT = 1024 * 1024;

const BODY_IDLE_LIMIT_MS = 600_000;

type UpstreamBody = Buffer | IncomingMessage | null;

interface UpstreamAttempt extends Attempt {
  response: Dispatcher.ResponseData;
  seconds: number;
}

/** Sends one request upstream with the route's bearer token and streams the answer back. */
export async function forward(request: ForwardRequest): Promise<ForwardResult> {
  const { req, res, upstream } = request;
  const abort = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  try {
    const body = await upstreamBody(req);
    const sent = await authorizedSend(upstream.tokens, !(body instanceof Readable), (token) => send(request, token, abort.signal, body));
    const { response, seconds } = sent.attempt;
    const exchange: ForwardResult = { upstreamStatus: response.statusCode, upstreamSeconds: seconds, ...(sent.retried ? { retriedWithNewToken: true } : {}) };
    if (response.statusCode === 401) return { ...exchange, error: rejectedToken(upstream.tokens.name, sent, await rejectionReason(response)) };
    const proxyBase = `${request.origin.proto}://${request.origin.host}${upstream.prefix}`;
    const relayed = await relay({ req, res, upstream, requestId: request.requestId, proxyBase, loopback: request.loopback }, response, abort.signal);
    return { ...exchange, ...relayed };
  } catch (error) {
    return { error };
  } finally {
    res.off('close', onClose);
  }
}

async function send(request: ForwardRequest, token: AccessToken, signal: AbortSignal, body: UpstreamBody): Promise<UpstreamAttempt> {
  const { req, upstream } = request;
  const started = performance.now();
  try {
    const response = await upstream.dispatcher.request({
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
      }),
      body,
      signal,
      headersTimeout: upstream.timeoutMs,
      // The route timeout is the wait for response headers. A pause inside a body (an
      // export the upstream writes as it reads) is cut only after OData.Feed's own 600 s.
      bodyTimeout: Math.max(upstream.timeoutMs, BODY_IDLE_LIMIT_MS),
    });
    return { response, seconds: (performance.now() - started) / 1000, statusCode: response.statusCode, discard: () => response.body.resume() };
  } catch (error) {
    throw upstreamError(error, upstream.timeoutMs);
  }
}

/** null for no body, a Buffer for a small body of known length (replayable), else the request stream itself. */
async function upstreamBody(req: IncomingMessage): Promise<UpstreamBody> {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined) return req;
  if (length === undefined || length === '0') return null;
  if (Number(length) > REPLAY_BODY_LIMIT) return req;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function upstreamError(error: unknown, timeoutMs: number): ProxyError | Error {
  const code = (error as { code?: string }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new ProxyError('UPSTREAM_TIMEOUT', `The upstream service sent no response headers within ${timeoutMs / 1000}s (the route timeout).`, { cause: error });
  }
  if ((error as Error).name === 'AbortError' || code === 'UND_ERR_ABORTED') return error as Error;
  return new ProxyError('UPSTREAM_UNREACHABLE', `The upstream service cannot be reached (${code ?? (error as Error).name}).`, { cause: error });
}
