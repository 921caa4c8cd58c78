import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import { ProxyError } from '../errors.ts';
import { sendBody } from '../http/send-body.ts';
import { isRewritableContentType, UrlRewriter, type RewriteRules } from '../odata/rewrite.ts';
import { scopeSetCookie } from './cookies.ts';
import { contentCodingOf, decoderFor, encoderFor, negotiateCoding, type ContentCoding } from './compression.ts';
import { clientResponseHeaders } from './headers.ts';
import type { Upstream } from './upstream.ts';

export interface RelayRequest {
  req: IncomingMessage;
  res: ServerResponse;
  upstream: Upstream;
  requestId: string;
  /** This proxy's own URL for the route, as the client reached it (for rewriting upstream links). */
  proxyBase: string;
  loopback: boolean;
}

export interface RelayResult {
  /** Upstream body bytes passed on (before rewriting), as far as they got. */
  bytes: number;
  /** The body went through URL rewriting. */
  rewritten: boolean;
  /** The body broke off midway, or the client left: nothing more can be sent. */
  error?: unknown;
}

/** Bodies up to this size are rewritten in one piece. */
const WHOLE_BODY_LIMIT = 64 * 1024;

/**
 * Streams the upstream's answer to the client: headers cleaned, cookies scoped to the
 * route, and, for JSON/XML bodies of a rewriting route, upstream links pointed back at the proxy.
 */
export async function relay(request: RelayRequest, response: Dispatcher.ResponseData, clientGone: AbortSignal): Promise<RelayResult> {
  const { req, res, upstream } = request;
  const headers = clientResponseHeaders(response.headers);
  // So a user can quote one id for the access line and the upstream's logs (it was sent up too).
  headers['x-request-id'] ??= request.requestId;
  const cookies = headers['set-cookie'];
  if (cookies !== undefined) headers['set-cookie'] = (Array.isArray(cookies) ? cookies : [cookies]).map((cookie) => scopeSetCookie(cookie, upstream.prefix, upstream.basePath));
  const rules = upstream.rewriteRulesFor(request.proxyBase);
  if (rules) rewriteHeaderUrls(headers, rules);
  const upstreamCoding =
    rules && hasBody(req.method, response.statusCode) && isRewritableContentType(firstValue(headers['content-type']))
      ? contentCodingOf(firstValue(headers['content-encoding']))
      : undefined;
  // The body is rewritten only when its coding is one the proxy can read. HEAD, 204 and 304
  // answers keep the upstream's headers as they are: there is no body to decode.
  const bodyRules = upstreamCoding !== undefined ? rules : undefined;
  // Re-compressed only what arrived compressed, and not for loopback clients, where it costs CPU for no gain.
  const clientCoding = upstreamCoding && upstreamCoding !== 'identity' && !request.loopback ? negotiateCoding(firstValue(req.headers['accept-encoding']), upstreamCoding) : undefined;
  const result: RelayResult = { bytes: 0, rewritten: bodyRules !== undefined };
  try {
    if (bodyRules && upstreamCoding === 'identity' && isSmall(response.headers['content-length'])) {
      // A small body (most OData pages of a few rows, every error) is rewritten whole and
      // sent with its new length: no transform stream, no chunked framing.
      const body = Buffer.from(await response.body.arrayBuffer());
      const rewritten = bodyRules.rewriteAll(body).bytes;
      result.bytes = body.length;
      headers['content-length'] = String(rewritten.length);
      res.writeHead(response.statusCode, headers);
      res.end(rewritten);
      return result;
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
    response.body.on('data', (chunk: Buffer) => {
      result.bytes += chunk.length;
    });
    if (bodyRules) await pipeline([response.body, ...rewriteStages(upstreamCoding!, clientCoding, new UrlRewriter(bodyRules)), res]);
    else await sendBody(response.body, res);
    return result;
  } catch (error) {
    // The client leaving is not a failure of ours; anything else broke the upstream's body midway.
    result.error = clientGone.aborted ? error : new ProxyError('UPSTREAM_UNREACHABLE', `The upstream response broke off (${(error as { code?: string }).code ?? (error as Error).name}).`, { cause: error });
    return result;
  }
}

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
