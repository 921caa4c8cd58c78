import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import { ProxyError } from '../errors.ts';
import { isLoopbackAddress } from '../inbound/loopback.ts';
import { sendBody } from '../http/send-body.ts';
import { isRewritableContentType, UrlRewriter, type RewriteRules, type RewriteRulesCache } from '../odata/rewrite.ts';
import type { RouteMatch } from '../routes/table.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import type { AccessToken } from '../tokens/token.ts';
import { scopeSetCookie } from './cookies.ts';
import { contentCodingOf, decoderFor, encoderFor, negotiateCoding, type ContentCoding } from './compression.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  match: RouteMatch;
  search: string;
  requestId: string;
  /** This proxy's own URL for the route, as the client reached it (for rewriting upstream links). */
  proxyBase: string;
  forwardedProto: string;
  /** The host the client used, as the proxy understood it (X-Forwarded-Host upstream). */
  forwardedHost: string;
  rewriteRules: RewriteRulesCache;
  tokens: TokenProvider;
  dispatcher: Dispatcher;
  /** Filled in as the exchange happens: the response can close (and be logged) before forward() returns. */
  record: ForwardRecord;
}

export interface ForwardRecord {
  upstreamStatus?: number;
  /** Seconds until the upstream's response headers arrived (the last attempt's). */
  upstreamSeconds?: number;
  bytes?: number;
  /** The body went through URL rewriting. */
  rewritten?: boolean;
  retriedWithNewToken?: boolean;
}

/** The most of an upstream 401 body read to explain it to the client. */
const REJECTION_BODY_LIMIT = 8 * 1024;

/**
 * Request bodies of known length up to this size are read into memory, so a request the
 * upstream refused for its token can be sent again (an OData $batch is such a POST).
 * Larger or chunked bodies stream through and are not replayed.
 */
export const REPLAY_BODY_LIMIT = 1024 * 1024;

const BODY_IDLE_LIMIT_MS = 600_000;

type UpstreamBody = Buffer | IncomingMessage | null;

/**
 * Sends one request upstream with a bearer token and streams the answer back. An upstream
 * 401 never reaches the client (Power Query would start an Entra ID sign-in against
 * localhost): the token is dropped and a replayable request (no body, or a small one) is
 * sent once more with a fresh one; a second refusal is a 502 UPSTREAM_REJECTED_TOKEN.
 */
export async function forward(request: ForwardRequest): Promise<void> {
  const { req, res, tokens, record } = request;
  const abort = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  try {
    const body = await upstreamBody(req);
    const replayable = !(body instanceof Readable);
    let token = await tokens.getToken();
    let response = await send(request, token, abort.signal, body);
    let renewed: boolean | undefined;
    if (response.statusCode === 401) {
      renewed = tokens.invalidate(token);
      if (renewed && replayable) {
        response.body.resume();
        token = await tokens.getToken();
        response = await send(request, token, abort.signal, body);
        // A second refusal keeps this fresh token: another would fare no better.
        record.retriedWithNewToken = true;
      }
    }
    record.upstreamStatus = response.statusCode;
    if (response.statusCode === 401) {
      const reason = await rejectionReason(response);
      const which = record.retriedWithNewToken
        ? ' twice, the second a freshly fetched one'
        : renewed === false
          ? ' (a new token was fetched after another 401 moments ago, so none is fetched now)'
          : '';
      throw new ProxyError('UPSTREAM_REJECTED_TOKEN', `The upstream service rejected the access token from "${tokens.name}"${which}${reason ? `: ${reason}` : '.'}`);
    }
    await relay(request, response, abort.signal);
  } finally {
    res.off('close', onClose);
  }
}

async function send(request: ForwardRequest, token: AccessToken, signal: AbortSignal, body: UpstreamBody): Promise<Dispatcher.ResponseData> {
  const { req, match, search } = request;
  const { route, rest } = match;
  const started = performance.now();
  try {
    const response = await request.dispatcher.request({
      origin: route.origin,
      // A route to the upstream's root asked for at its bare prefix has no path of its own.
      path: (route.basePath + rest || '/') + search,
      method: req.method as Dispatcher.HttpMethod,
      headers: upstreamRequestHeaders(req.rawHeaders, {
        host: route.target.host,
        authorization: `Bearer ${token.value}`,
        forwardedFor: req.socket.remoteAddress ?? '',
        forwardedProto: request.forwardedProto,
        forwardedHost: request.forwardedHost,
        requestId: request.requestId,
        static: route.headers,
      }),
      body,
      signal,
      headersTimeout: route.timeoutMs,
      // The route timeout is the wait for response headers. A pause inside a body (an
      // export the upstream writes as it reads) is cut only after OData.Feed's own 600 s.
      bodyTimeout: Math.max(route.timeoutMs, BODY_IDLE_LIMIT_MS),
    });
    request.record.upstreamSeconds = (performance.now() - started) / 1000;
    return response;
  } catch (error) {
    throw upstreamError(error, route.timeoutMs);
  }
}

async function relay(request: ForwardRequest, response: Dispatcher.ResponseData, clientGone: AbortSignal): Promise<void> {
  const { req, res, match, proxyBase, record } = request;
  const { route } = match;
  const headers = clientResponseHeaders(response.headers);
  // So a user can quote one id for the access line and the upstream's logs (it was sent up too).
  headers['x-request-id'] ??= request.requestId;
  const cookies = headers['set-cookie'];
  if (cookies !== undefined) headers['set-cookie'] = (Array.isArray(cookies) ? cookies : [cookies]).map((cookie) => scopeSetCookie(cookie, route.prefix, route.basePath));
  const rules = route.rewriteUrls ? request.rewriteRules.get(route.baseUrl, proxyBase) : undefined;
  if (rules) rewriteHeaderUrls(headers, rules);
  const upstreamCoding =
    rules && hasBody(req.method, response.statusCode) && isRewritableContentType(firstValue(headers['content-type']))
      ? contentCodingOf(firstValue(headers['content-encoding']))
      : undefined;
  // The body is rewritten only when its coding is one the proxy can read. HEAD, 204 and 304
  // answers keep the upstream's headers as they are: there is no body to decode.
  const bodyRules = upstreamCoding !== undefined ? rules : undefined;
  // Re-compressed only what arrived compressed, and not for loopback clients, where it costs CPU for no gain.
  const clientCoding =
    upstreamCoding && upstreamCoding !== 'identity' && !isLoopbackAddress(req.socket.remoteAddress) ? negotiateCoding(firstValue(req.headers['accept-encoding']), upstreamCoding) : undefined;
  record.rewritten = bodyRules !== undefined;
  try {
    if (bodyRules && upstreamCoding === 'identity' && isSmall(response.headers['content-length'])) {
      // A small body (most OData pages of a few rows, every error) is rewritten whole and
      // sent with its new length: no transform stream, no chunked framing.
      const body = Buffer.from(await response.body.arrayBuffer());
      const rewritten = bodyRules.rewriteAll(body).bytes;
      record.bytes = body.length;
      headers['content-length'] = String(rewritten.length);
      res.writeHead(response.statusCode, headers);
      res.end(rewritten);
      return;
    }
    if (bodyRules) {
      // The body changes length; chunked encoding carries it.
      delete headers['content-length'];
      delete headers['content-encoding'];
      if (clientCoding) {
        headers['content-encoding'] = clientCoding;
        headers.vary = appendVary(headers.vary, 'Accept-Encoding');
      }
    }
    res.writeHead(response.statusCode, headers);
    record.bytes = 0;
    response.body.on('data', (chunk: Buffer) => {
      record.bytes! += chunk.length;
    });
    if (bodyRules) await pipeline([response.body, ...rewriteStages(upstreamCoding!, clientCoding, new UrlRewriter(bodyRules)), res]);
    else await sendBody(response.body, res);
  } catch (error) {
    // The client leaving is not a failure of ours; anything else broke the upstream's body midway.
    if (clientGone.aborted) throw error;
    throw new ProxyError('UPSTREAM_UNREACHABLE', `The upstream response broke off (${(error as { code?: string }).code ?? (error as Error).name}).`, { cause: error });
  }
}

/** Bodies up to this size are rewritten in one piece. */
const WHOLE_BODY_LIMIT = 64 * 1024;

function isSmall(contentLength: string | string[] | undefined): boolean {
  const length = Number(firstValue(contentLength));
  return contentLength !== undefined && Number.isInteger(length) && length <= WHOLE_BODY_LIMIT;
}

/** Decode (when compressed), rewrite, encode (when the client gets a compressed body). */
function rewriteStages(upstreamCoding: ContentCoding | 'identity', clientCoding: ContentCoding | undefined, rewriter: UrlRewriter): NodeJS.ReadWriteStream[] {
  return [...(upstreamCoding === 'identity' ? [] : [decoderFor(upstreamCoding)]), rewriter, ...(clientCoding ? [encoderFor(clientCoding)] : [])];
}

function rewriteHeaderUrls(headers: Record<string, string | string[]>, rules: RewriteRules): void {
  for (const name of ['location', 'content-location'] as const) {
    const value = headers[name];
    if (typeof value === 'string') headers[name] = rules.rewriteUrl(value);
  }
  const link = headers.link;
  if (link !== undefined) headers.link = Array.isArray(link) ? link.map((value) => rules.rewriteLinkHeader(value)) : rules.rewriteLinkHeader(link);
}

function hasBody(method: string | undefined, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304 && status >= 200;
}

function appendVary(vary: string | string[] | undefined, name: string): string {
  const existing = Array.isArray(vary) ? vary.join(', ') : (vary ?? '');
  if (existing.split(',').some((entry) => ['*', name.toLowerCase()].includes(entry.trim().toLowerCase()))) return existing;
  return existing ? `${existing}, ${name}` : name;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
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

/** The upstream's own words for a 401, from `WWW-Authenticate` or an OData/OAuth error body. */
async function rejectionReason(response: Dispatcher.ResponseData): Promise<string | undefined> {
  const challenge = response.headers['www-authenticate'];
  const fromChallenge = /error_description="([^"]*)"/.exec(String(challenge ?? ''))?.[1];
  let text = '';
  for await (const chunk of response.body) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length > REJECTION_BODY_LIMIT) {
      response.body.destroy();
      break;
    }
  }
  let fromBody: string | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; error_description?: unknown; message?: unknown };
    const candidate = typeof parsed.error === 'object' ? parsed.error?.message : (parsed.error_description ?? parsed.message ?? parsed.error);
    if (typeof candidate === 'string') fromBody = candidate;
  } catch {
    fromBody = undefined;
  }
  const reason = fromChallenge ?? fromBody;
  return reason === undefined ? undefined : reason.slice(0, 300);
}

function upstreamError(error: unknown, timeoutMs: number): ProxyError | Error {
  const code = (error as { code?: string }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new ProxyError('UPSTREAM_TIMEOUT', `The upstream service sent no response headers within ${timeoutMs / 1000}s (the route timeout).`, { cause: error });
  }
  if ((error as Error).name === 'AbortError' || code === 'UND_ERR_ABORTED') return error as Error;
  return new ProxyError('UPSTREAM_UNREACHABLE', `The upstream service cannot be reached (${code ?? (error as Error).name}).`, { cause: error });
}
