import { Transform, type TransformCallback } from 'node:stream';

/** Bodies that can carry absolute service URLs: JSON (OData v2–v4), XML, Atom. */
export function isRewritableContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /\b(json|xml)\b/i.test(contentType);
}

/**
 * The pairs to replace for one route: the URL as configured and with its default port
 * spelled out (`https://host:443/path`, which some services write), each plain and
 * JSON-escaped (`https:\/\/host\/path`).
 */
export function rewritePairs(upstreamBase: string, proxyBase: string): Array<readonly [string, string]> {
  return pairsFor(spellings(upstreamBase), proxyBase);
}

function pairsFor(bases: readonly string[], proxyBase: string): Array<readonly [string, string]> {
  return bases.flatMap((form) => [
    [form, proxyBase] as const,
    [form.replaceAll('/', '\\/'), proxyBase.replaceAll('/', '\\/')] as const,
  ]);
}

/**
 * Characters that continue a path segment: `https://x/odata/sales` followed by one of
 * these is another resource (`…/salesforce`), not a URL under the route, and is left alone.
 */
const SEGMENT_CONTINUES = String.raw`[A-Za-z0-9\-._~%!$*+=:@(]`;

/** The base URL as configured, and with its default port written out when it has none. */
function spellings(upstreamBase: string): string[] {
  const url = new URL(upstreamBase);
  if (url.port !== '') return [upstreamBase];
  return [upstreamBase, `${url.protocol}//${url.host}:${url.protocol === 'https:' ? 443 : 80}${upstreamBase.slice(url.origin.length)}`];
}

/**
 * The compiled rewriting of one route for one proxy URL: bodies and URL headers. Each spelling is replaced in its own pass
 * of V8's native String.replace with a constant replacement, which never calls back into
 * JavaScript: on a page with a URL every 85 bytes, a per-match callback was most of the
 * cost. The lookahead accepts a URL only where it ends (not inside a longer segment).
 * (One pass per spelling is the same as one pass for all as long as the proxy's own URL
 * does not contain the upstream's, which it cannot: they differ in host or port.)
 * Built once per route and proxy URL; the rewriters of all requests share it.
 */
export class RewriteRules {
  readonly #passes: ReadonlyArray<{ from: string; pattern: RegExp; replacement: string; growth: number }>;
  /** All spellings at once, to find the URLs near a chunk's end. */
  readonly #any: RegExp;
  readonly #spellings: readonly string[];
  /** Stands in for the first character after the text when that continues a segment; in no spelling. */
  readonly #continuing: string;
  /** The longest spelling minus one: the most a chunk can end with of a URL cut in two. */
  readonly holdBack: number;

  /** The unescaped spellings, for header values. */
  readonly #bases: readonly string[];
  readonly #proxyBase: string;

  constructor(upstreamBase: string, proxyBase: string) {
    this.#bases = spellings(upstreamBase);
    this.#proxyBase = proxyBase;
    const sorted = pairsFor(this.#bases, proxyBase).sort(([a], [b]) => b.length - a.length);
    this.#spellings = sorted.map(([from]) => from);
    this.#passes = sorted.map(([from, to]) => ({
      from,
      pattern: new RegExp(`${escapeRegExp(from)}(?!${SEGMENT_CONTINUES})`, 'g'),
      replacement: to.replaceAll('$', '$$$$'),
      growth: to.length - from.length,
    }));
    this.#any = new RegExp(`(?:${this.#spellings.map(escapeRegExp).join('|')})(?!${SEGMENT_CONTINUES})`, 'g');
    this.#continuing = [...'~!*+=:@(_.-'].find((char) => this.#spellings.every((from) => !from.includes(char))) ?? '~';
    this.holdBack = Math.max(...this.#spellings.map((from) => from.length)) - 1;
  }

  /** An absolute URL header value (Location, Content-Location) that points into the upstream base. */
  rewriteUrl(value: string): string {
    for (const base of this.#bases) {
      if (value === base) return this.#proxyBase;
      const next = value.charAt(base.length);
      if (value.startsWith(base) && (next === '/' || next === '?' || next === '#')) return this.#proxyBase + value.slice(base.length);
    }
    return value;
  }

  /** The URLs in a `Link` header value (`<url>; rel="next", <url>; …`). */
  rewriteLinkHeader(value: string): string {
    return value.replace(/<([^>]*)>/g, (_link, url: string) => `<${this.rewriteUrl(url)}>`);
  }

  /** A whole body at once (small bodies are rewritten this way, then sent with their new length). */
  rewriteAll(body: Buffer): { bytes: Buffer; replacements: number } {
    const { output, replacements } = this.scan(body.toString('latin1'), true);
    return { bytes: replacements === 0 ? body : Buffer.from(output, 'latin1'), replacements };
  }

  /**
   * Replaces every whole URL in text. Unless final, leaves alone (and says where it
   * begins) the end that later bytes could still change: a URL cut off, or one whose
   * next character has not arrived.
   */
  scan(text: string, final: boolean): { output: string; keepFrom: number; replacements: number } {
    const keepFrom = final ? text.length : this.#settledEnd(text);
    // The character after the cut decides whether a URL ending there is whole: a stand-in
    // of the same kind takes its place, one that no spelling contains.
    const cut = keepFrom < text.length;
    const head = cut ? text.slice(0, keepFrom) + (isSegmentChar(text.charCodeAt(keepFrom)) ? this.#continuing : '\0') : text;
    let output = head;
    let replacements = 0;
    for (const { from, pattern, replacement, growth } of this.#passes) {
      // Most bodies use one spelling; a plain substring search rules the others out cheaply.
      if (!output.includes(from)) continue;
      const before = output;
      output = before.replace(pattern, replacement);
      if (output !== before) replacements += growth !== 0 ? (output.length - before.length) / growth : (before.match(pattern)?.length ?? 0);
    }
    return { output: cut ? output.slice(0, -1) : output, keepFrom, replacements };
  }

  /** Where the part of text that later bytes cannot change ends. */
  #settledEnd(text: string): number {
    let end = Math.max(0, text.length - this.holdBack);
    // A URL that ends the text: the next byte decides whether it ends there.
    for (const from of this.#spellings) if (text.endsWith(from)) end = Math.min(end, text.length - from.length);
    // A whole URL that starts before the cut and ends after it is taken whole.
    this.#any.lastIndex = Math.max(0, end - this.holdBack - 1);
    for (let match = this.#any.exec(text); match && match.index < end; match = this.#any.exec(text)) {
      end = Math.max(end, match.index + match[0].length);
    }
    return end;
  }
}

const SEGMENT_CHAR = new RegExp(SEGMENT_CONTINUES);
function isSegmentChar(code: number): boolean {
  return SEGMENT_CHAR.test(String.fromCharCode(code));
}

/**
 * A streaming find-and-replace that never buffers a whole body: it holds back only the
 * last (longest pattern − 1) bytes of each chunk, so a URL split across two chunks is
 * still found, and a match at the very end of a chunk waits for the next byte to show
 * whether the URL ends there. Works on latin1 text: one char per byte, so multi-byte
 * UTF-8 around the ASCII URLs passes through unchanged.
 */
export class UrlRewriter extends Transform {
  readonly #rules: RewriteRules;
  #tail = '';
  replacements = 0;

  constructor(rules: RewriteRules) {
    super();
    this.#rules = rules;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, this.#next(this.#tail + chunk.toString('latin1'), false));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.#next(this.#tail, true));
  }

  #next(text: string, final: boolean): Buffer | undefined {
    const { output, keepFrom, replacements } = this.#rules.scan(text, final);
    this.replacements += replacements;
    this.#tail = final ? '' : text.slice(keepFrom);
    return output.length > 0 ? Buffer.from(output, 'latin1') : undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
