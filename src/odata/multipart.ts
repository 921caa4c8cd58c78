import { Duplex } from 'node:stream';
import { ByteSource, DelimitedSource, LimitedSource, PrefixedSource, readExactly, readThrough, remaining, StreamSource } from './byte-source.ts';
import { isRewritableContentType, rewriteChunks, type RewriteRules } from './rewrite.ts';

/**
 * Multipart answers (OData `$batch`, `multipart/mixed`, with changesets nested as
 * `multipart/mixed; boundary=changeset_…`) rewritten part by part as they stream. Inside
 * each `application/http` part, the embedded response's Location, Content-Location and
 * Link headers and its JSON/XML body are rewritten as a whole answer would be. Everything
 * the parser does not understand (a missing boundary, an over-long header block, a part of
 * another type) passes through byte for byte.
 *
 * A part whose length is declared (the embedded response's Content-Length, or one in the
 * part's own headers) is held until it is rewritten, up to partLimit bytes, and sent with
 * its new length. A longer one streams, and that Content-Length is left out: the boundary
 * delimits the part anyway. Memory stays bounded by the part limit, not the body.
 */
export interface MultipartOptions {
  /** The most of one part held to correct its Content-Length (default 1 MiB). */
  partLimit?: number;
}

export const PART_LIMIT = 1024 * 1024;

/** The boundary of a multipart Content-Type (`multipart/mixed; boundary=batch_1`), or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^\s*multipart\/mixed\b/i.test(contentType)) return undefined;
  const match = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^;\s"]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/** A transform stream that rewrites one multipart body. */
export function multipartRewriter(boundary: string, rules: RewriteRules, options: MultipartOptions = {}): Duplex {
  const context = { rules, limit: options.partLimit ?? PART_LIMIT };
  return Duplex.from(async function* (chunks: AsyncIterable<Buffer>) {
    yield* multipart(new StreamSource(chunks), boundary, context);
  });
}

/** A whole multipart body at once (small bodies are sent with their new length). */
export async function rewriteMultipart(body: Buffer, boundary: string, rules: RewriteRules, options: MultipartOptions = {}): Promise<Buffer> {
  const context = { rules, limit: options.partLimit ?? PART_LIMIT };
  const output: Buffer[] = [];
  for await (const chunk of multipart(new StreamSource(once(body)), boundary, context)) output.push(chunk);
  return Buffer.concat(output);
}

interface Context {
  rules: RewriteRules;
  limit: number;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** The longest header block read as headers; a longer one passes as it is. */
const HEAD_LIMIT = 64 * 1024;
/** The longest line after a boundary (transport padding) read as one. */
const LINE_LIMIT = 1024;

async function* multipart(source: ByteSource, boundary: string, context: Context): AsyncGenerator<Buffer> {
  const dashes = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.concat([CRLF, dashes]);
  // The first boundary may open the body with no line break before it: one is assumed, and not passed on.
  const input = new PrefixedSource(CRLF, source);
  const preamble = new DelimitedSource(input, delimiter);
  let assumed = CRLF.length;
  for await (const chunk of remaining(preamble)) {
    const dropped = Math.min(assumed, chunk.length);
    assumed -= dropped;
    if (chunk.length > dropped) yield chunk.subarray(dropped);
  }
  if (!preamble.found) return;
  yield assumed === 0 ? delimiter : dashes;
  for (;;) {
    // After a boundary: "--" closes the body (the epilogue follows); padding and a line break open a part.
    const line = await readThrough(input, CRLF, LINE_LIMIT);
    yield line.bytes;
    if (!line.found || !/^[ \t]*\r\n$/.test(line.bytes.toString('latin1'))) {
      yield* remaining(input);
      return;
    }
    const part = new DelimitedSource(input, delimiter);
    yield* onePart(part, context);
    yield* remaining(part);
    if (!part.found) return;
    yield delimiter;
  }
}

async function* onePart(part: ByteSource, context: Context): AsyncGenerator<Buffer> {
  const head = await readHead(part);
  if (!head) return;
  const content = partContent(head, part, context);
  if (!content) {
    yield head.bytes();
    return;
  }
  yield* withLength(head, content, context.limit);
}

/** The part's content rewritten, by its type; undefined when it passes as it is. */
function partContent(head: HeaderBlock, part: ByteSource, context: Context): AsyncGenerator<Buffer> | undefined {
  const type = head.get('content-type');
  const nested = multipartBoundary(type);
  if (nested !== undefined) return multipart(part, nested, context);
  if (type !== undefined && /^\s*application\/http\b/i.test(type)) return httpMessage(part, context);
  if (isRewritableContentType(type)) return rewriteChunks(remaining(part), context.rules);
  return undefined;
}

/**
 * An embedded HTTP response: its URL headers and, when JSON/XML, its body rewritten, its
 * Content-Length corrected. Yields the whole rest of the part, so that a length declared
 * for the part counts every byte of it.
 */
async function* httpMessage(part: ByteSource, context: Context): AsyncGenerator<Buffer> {
  yield* embeddedResponse(part, context);
  // Bytes after the declared body (some servers end a part with an extra line break) pass as they are.
  yield* remaining(part);
}

async function* embeddedResponse(part: ByteSource, context: Context): AsyncGenerator<Buffer> {
  const read = await readThrough(part, HEAD_END, HEAD_LIMIT);
  if (!read.found) {
    yield read.bytes;
    return;
  }
  const head = new HeaderBlock(read.bytes, true);
  head.rewriteUrls(context.rules);
  const coding = head.get('content-encoding')?.trim().toLowerCase();
  if (!isRewritableContentType(head.get('content-type')) || (coding !== undefined && coding !== 'identity')) {
    yield head.bytes();
    return;
  }
  const declared = contentLength(head);
  if (declared === undefined) {
    yield head.bytes();
    yield* rewriteChunks(remaining(part), context.rules);
  } else if (declared <= context.limit) {
    const body = context.rules.rewriteAll(await readExactly(part, declared));
    yield head.bytes(body.length);
    yield body;
  } else {
    // Too long to hold: streamed, without the length it no longer has.
    yield head.bytes(null);
    yield* rewriteChunks(remaining(new LimitedSource(part, declared)), context.rules);
  }
}

/**
 * A part with a Content-Length in its own headers is held, up to the limit, until its
 * rewritten content is complete, and then sent with that length; past the limit it is
 * sent without one. A part without streams at once.
 */
async function* withLength(head: HeaderBlock, content: AsyncGenerator<Buffer>, limit: number): AsyncGenerator<Buffer> {
  if (contentLength(head) === undefined) {
    yield head.bytes();
    yield* content;
    return;
  }
  const held: Buffer[] = [];
  let length = 0;
  for (let next = await content.next(); !next.done; next = await content.next()) {
    held.push(next.value);
    length += next.value.length;
    if (length > limit) {
      yield head.bytes(null);
      yield* held;
      yield* content;
      return;
    }
  }
  yield head.bytes(length);
  yield* held;
}

/** A part's header block: empty when the part opens with a blank line. Null when it is over-long or cut off (then passed on as read). */
async function readHead(part: ByteSource): Promise<HeaderBlock | null> {
  const first = await readExactly(part, CRLF.length);
  if (first.equals(CRLF)) return new HeaderBlock(first, false);
  part.unread(first);
  const read = await readThrough(part, HEAD_END, HEAD_LIMIT);
  if (!read.found) {
    part.unread(read.bytes);
    return null;
  }
  return new HeaderBlock(read.bytes, false);
}

function contentLength(head: HeaderBlock): number | undefined {
  const value = head.get('content-length')?.trim();
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)([ \t]*:[ \t]*)(.*?)([ \t]*)$/;

/**
 * The header lines of a part or an embedded response, kept as written (name case, spacing,
 * order) except the values that are rewritten; a start line (`HTTP/1.1 201 Created`) is
 * never touched.
 */
class HeaderBlock {
  readonly #lines: string[];
  readonly #startLine: boolean;

  constructor(bytes: Buffer, startLine: boolean) {
    const text = bytes.toString('latin1');
    this.#lines = text === '\r\n' ? [] : text.slice(0, -HEAD_END.length).split('\r\n');
    this.#startLine = startLine;
  }

  get(name: string): string | undefined {
    for (const [index, line] of this.#lines.entries()) {
      const match = this.#header(index, line);
      if (match && match[1]!.toLowerCase() === name) return match[3];
    }
    return undefined;
  }

  rewriteUrls(rules: RewriteRules): void {
    this.#lines.forEach((line, index) => {
      const match = this.#header(index, line);
      const name = match?.[1]!.toLowerCase();
      if (!match || (name !== 'location' && name !== 'content-location' && name !== 'link')) return;
      const value = name === 'link' ? rules.rewriteLinkHeader(match[3]!) : rules.rewriteUrl(match[3]!);
      this.#lines[index] = `${match[1]}${match[2]}${value}${match[4]}`;
    });
  }

  /** The block as bytes; with a length, Content-Length says it; with null, Content-Length is left out. */
  bytes(length?: number | null): Buffer {
    const lines =
      length === undefined
        ? this.#lines
        : this.#lines.flatMap((line, index) => {
            const match = this.#header(index, line);
            if (!match || match[1]!.toLowerCase() !== 'content-length') return [line];
            return length === null ? [] : [`${match[1]}${match[2]}${length}${match[4]}`];
          });
    return Buffer.from(lines.length === 0 ? '\r\n' : `${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  }

  #header(index: number, line: string): RegExpExecArray | null {
    return index === 0 && this.#startLine ? null : HEADER_LINE.exec(line);
  }
}

async function* once(body: Buffer): AsyncGenerator<Buffer> {
  yield body;
}
