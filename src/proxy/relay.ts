import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, type Writable } from 'node:stream';
import { bodyRewriteFor, type BodyRewrite, type WholeBody } from '../odata/body.ts';
import type { RewriteRules } from '../odata/rewrite.ts';
import { scopeSetCookie } from './cookies.ts';
import { contentCodingOf, decoderFor, encoderFor, negotiateCoding, type ContentCoding } from './compression.ts';
import type { BodySink, ExchangeControl } from './exchange.ts';
import { readResponseHead, valueAt, withoutHeaders, type ResponseHead } from './response-head.ts';
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

/** An upstream body on its way to the client, and what became of it. */
export interface RelaySink extends BodySink {
  /** Upstream body bytes passed on (before rewriting), as far as they got. */
  readonly bytes: number;
  /** The body goes through URL rewriting. */
  readonly rewritten: boolean;
  /** The error that cut the response short, if any: at once when the body was written in the tick it ended, else once it is written out. */
  settled(): Error | undefined | Promise<Error | undefined>;
}

/** Bodies up to this size are rewritten in one piece. */
const WHOLE_BODY_LIMIT = 64 * 1024;

/**
 * Starts the client's response for an upstream response head: headers cleaned, cookies
 * scoped to the route, URL headers rewritten, and the sink its body goes to — straight to
 * the client, or, for JSON/XML bodies of a rewriting route, through the link rewriter.
 */
export function openRelay(request: RelayRequest, statusCode: number, rawHeaders: Buffer[], control: ExchangeControl): RelaySink {
  const { req, res, upstream } = request;
  const head = readResponseHead(statusCode, rawHeaders);
  const { list } = head;
  // So a user can quote one id for the access line and the upstream's logs (it was sent up too).
  if (head.requestId < 0) list.push('x-request-id', request.requestId);
  for (const at of head.cookies ?? []) list[at] = scopeSetCookie(list[at]!, upstream.prefix, upstream.basePath);
  const rules = upstream.rewriteRulesFor(request.proxyBase);
  if (rules) rewriteHeaderUrls(head, rules);
  // JSON/XML bodies and multipart ($batch) answers each have their own rewriting (src/odata/body.ts).
  const rewrite = rules && hasBody(req.method, statusCode) ? bodyRewriteFor(valueAt(head, head.contentType), rules) : undefined;
  const upstreamCoding = rewrite ? contentCodingOf(valueAt(head, head.contentEncoding)) : undefined;
  // The body is rewritten only when its coding is one the proxy can read. HEAD, 204 and 304
  // answers keep the upstream's headers as they are: there is no body to decode.
  if (!rewrite || upstreamCoding === undefined) return new DirectSink(res, head, control);
  // A small body (most OData pages of a few rows, every error) is rewritten whole and
  // sent with its new length: no transform stream, no chunked framing.
  if (upstreamCoding === 'identity' && isSmall(valueAt(head, head.contentLength))) return new WholeBodySink(res, head, rewrite);
  // Re-compressed only what arrived compressed, and not for loopback clients, where it costs CPU for no gain.
  const clientCoding = upstreamCoding !== 'identity' && !request.loopback ? negotiateCoding(firstValue(req.headers['accept-encoding']), upstreamCoding) : undefined;
  return new StreamingRewriteSink(res, head, control, rewriteStages(upstreamCoding, clientCoding, rewrite.stream()), clientCoding);
}

/** The body as the upstream sent it, with the upstream's backpressure passed through. */
class DirectSink implements RelaySink {
  bytes = 0;
  readonly rewritten = false;
  readonly #res: ServerResponse;
  readonly #resume: () => void;
  #error: Error | undefined;

  constructor(res: ServerResponse, head: ResponseHead, control: ExchangeControl) {
    this.#res = res;
    this.#resume = () => control.resume();
    res.writeHead(head.statusCode, head.list);
  }

  write(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return writeOrPause(this.#res, chunk, this.#resume);
  }

  end(): void {
    this.#res.end();
  }

  fail(error: Error): void {
    this.#error = error;
    // The client sees the body cut off, not a clean end.
    this.#res.destroy();
  }

  settled(): Error | undefined {
    return this.#error;
  }
}

/** A small rewritable body, held until its end, then rewritten and sent with its new length. */
class WholeBodySink implements RelaySink {
  bytes = 0;
  readonly rewritten = true;
  readonly #chunks: Buffer[] = [];
  #error: Error | undefined;
  /** A multipart body is rewritten asynchronously; settled() waits for it. */
  #written: Promise<void> | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly head: ResponseHead,
    private readonly rewrite: BodyRewrite,
  ) {}

  write(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    this.#chunks.push(chunk);
    return true;
  }

  end(): void {
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.bytes);
    const rewritten = this.rewrite.whole(body);
    if (rewritten instanceof Promise)
      this.#written = rewritten.then(
        (bytes) => this.#send(bytes),
        (error: unknown) => void (this.#error = error as Error),
      );
    else this.#send(rewritten);
  }

  #send(rewritten: WholeBody): void {
    const { list } = this.head;
    // A latin1 string has one char per byte: its length is the body's.
    list[this.head.contentLength] = String(rewritten.length);
    this.res.writeHead(this.head.statusCode, list);
    this.res.end(rewritten, 'latin1');
  }

  /** Nothing was sent yet: the client still gets a proper error answer. */
  fail(error: Error): void {
    this.#error = error;
  }

  settled(): Error | undefined | Promise<Error | undefined> {
    return this.#written ? this.#written.then(() => this.#error) : this.#error;
  }
}

/** Decode (when compressed), rewrite, encode (when the client gets a compressed body), streaming with bounded memory. */
class StreamingRewriteSink implements RelaySink {
  bytes = 0;
  readonly rewritten = true;
  readonly #first: Writable;
  readonly #resume: () => void;
  readonly #settled: Promise<Error | undefined>;

  constructor(res: ServerResponse, head: ResponseHead, control: ExchangeControl, stages: NodeJS.ReadWriteStream[], clientCoding: ContentCoding | undefined) {
    // The body changes length and maybe coding; chunked encoding carries it.
    if (clientCoding) addVaryAcceptEncoding(head);
    const list = withoutHeaders(head.list, [head.contentLength, head.contentEncoding]);
    if (clientCoding) list.push('content-encoding', clientCoding);
    res.writeHead(head.statusCode, list);
    this.#first = stages[0] as unknown as Writable;
    this.#resume = () => control.resume();
    this.#settled = new Promise((resolve) => {
      pipeline([...stages, res] as unknown as [NodeJS.ReadWriteStream, Writable], (error) => {
        // A client that leaves, or a body that cannot be decoded, stops the upstream too.
        if (error) control.abort(error);
        resolve(error ?? undefined);
      });
    });
  }

  write(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return writeOrPause(this.#first, chunk, this.#resume);
  }

  end(): void {
    this.#first.end();
  }

  fail(error: Error): void {
    this.#first.destroy(error);
  }

  settled(): Promise<Error | undefined> {
    return this.#settled;
  }
}

/** Writes a chunk on; when the stream is full, the upstream pauses until it drains (false tells undici to pause). */
function writeOrPause(target: Writable, chunk: Buffer, resume: () => void): boolean {
  if (target.write(chunk)) return true;
  target.once('drain', resume);
  return false;
}

function isSmall(contentLength: string | undefined): boolean {
  const length = Number(contentLength);
  return contentLength !== undefined && Number.isInteger(length) && length <= WHOLE_BODY_LIMIT;
}

function rewriteStages(upstreamCoding: ContentCoding | 'identity', clientCoding: ContentCoding | undefined, rewriter: NodeJS.ReadWriteStream): NodeJS.ReadWriteStream[] {
  return [...(upstreamCoding === 'identity' ? [] : [decoderFor(upstreamCoding)]), rewriter, ...(clientCoding ? [encoderFor(clientCoding)] : [])];
}

function rewriteHeaderUrls(head: ResponseHead, rules: RewriteRules): void {
  const { list } = head;
  for (const at of head.locations ?? []) list[at] = rules.rewriteUrl(list[at]!);
  for (const at of head.links ?? []) list[at] = rules.rewriteLinkHeader(list[at]!);
}

function hasBody(method: string | undefined, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304 && status >= 200;
}

/** Vary gains Accept-Encoding (the body now depends on it), unless it already names it or `*`. */
function addVaryAcceptEncoding(head: ResponseHead): void {
  const existing = valueAt(head, head.vary);
  if (existing === undefined) head.list.push('vary', 'Accept-Encoding');
  else if (!existing.split(',').some((entry) => ['*', 'accept-encoding'].includes(entry.trim().toLowerCase()))) head.list[head.vary] = `${existing}, Accept-Encoding`;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
