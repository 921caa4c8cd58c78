import { Transform, type TransformCallback } from 'node:stream';
import { escapeRegExp, SpellingFinder } from './spelling-finder.ts';
import { basePathOf, pathForms, routeLinks, urlForms, type LinkForm, type RouteLinks } from './link-forms.ts';

/** Bodies that can carry absolute service URLs: JSON (OData v2–v4), XML, Atom. */
export function isRewritableContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /\b(json|xml)\b/i.test(contentType);
}

/**
 * The pairs to replace in bodies for one route and proxy URL (see link-forms.ts): the
 * target URL, also with its default port spelled out, the proxy's origin with the
 * target's path, and the target's path at the start of a quoted string; each plain and
 * JSON-escaped.
 */
export function rewritePairs(upstreamBase: string, proxyBase: string): Array<readonly [string, string]> {
  return bodyForms(routeLinks(upstreamBase, proxyBase)).map(({ from, to }) => [from, to] as const);
}

function bodyForms(links: RouteLinks): LinkForm[] {
  return [...urlForms(links), ...pathForms(links)];
}

/**
 * Characters that continue a path segment: `https://x/odata/sales` followed by one of
 * these is another resource (`…/salesforce`), not a URL under the route, and is left alone.
 */
const SEGMENT_CONTINUES = String.raw`[A-Za-z0-9\-._~%!$*+=:@(]`;

interface Pass {
  from: string;
  pattern: RegExp;
  replacement: string;
  growth: number;
  /** How many characters from the start of `from` decide whether it is a link to rewrite (the next one only by its kind). */
  window: number;
}

/**
 * The compiled rewriting of one route for one proxy URL: bodies and URL headers. Each
 * spelling is replaced in its own pass of V8's native String.replace with a constant
 * replacement, which never calls back into JavaScript: on a page with a URL every 85
 * bytes, a per-match callback was most of the cost. The lookahead accepts a link only
 * where it ends (not inside a longer segment), and not where it already names the route.
 * One pass per spelling is the same as one pass for all because no replacement holds a
 * spelling that a later pass could take: the proxy's base contains a spelling only at its
 * start, where the `already` lookahead leaves it alone, and a spelling that starts with
 * the proxy's base runs first.
 * Built once per route and proxy URL; the rewriters of all requests share it.
 */
export class RewriteRules {
  readonly #passes: readonly Pass[];
  /** Finds which spellings a text holds, so that passes for the others are skipped. */
  readonly #finder: SpellingFinder;
  /** Stands in for the first character after the text when that continues a segment; in no spelling. */
  readonly #continuing: string;
  /** The most a chunk's end is held back: the longest window. */
  readonly holdBack: number;

  /** The unescaped URL forms, for header values. */
  readonly #headerForms: readonly LinkForm[];
  readonly #proxyBase: string;
  readonly #prefix: string;
  readonly #basePath: string;

  constructor(upstreamBase: string, proxyBase: string) {
    const links = routeLinks(upstreamBase, proxyBase);
    this.#proxyBase = proxyBase;
    this.#prefix = links.prefix;
    this.#basePath = basePathOf(upstreamBase);
    this.#headerForms = urlForms(links).filter(({ from }) => !from.includes('\\/'));
    const forms = bodyForms(links).sort((a, b) => Number(b.from.startsWith(b.to)) - Number(a.from.startsWith(a.to)) || b.from.length - a.from.length);
    this.#passes = forms.map(({ from, to, already }) => ({
      from,
      pattern: new RegExp(`${escapeRegExp(from)}${already === undefined ? '' : `(?!${escapeRegExp(already)}(?!${SEGMENT_CONTINUES}))`}(?!${SEGMENT_CONTINUES})`, 'g'),
      replacement: to.replaceAll('$', '$$$$'),
      growth: to.length - from.length,
      window: from.length + (already?.length ?? 0),
    }));
    this.#finder = new SpellingFinder(
      this.#passes.map(({ from }) => from),
      this.#basePath,
    );
    const texts = forms.flatMap(({ from, already }) => [from, already ?? '']);
    this.#continuing = [...'~!*+=:@(_.-'].find((char) => texts.every((text) => !text.includes(char))) ?? '~';
    this.holdBack = Math.max(0, ...this.#passes.map(({ window }) => window));
  }

  /**
   * A URL header value (Location, Content-Location, a Link target) that points into the
   * upstream base: an absolute URL in any of its spellings, or an absolute path.
   * Relative references resolve against the proxy's URL already and stay as they are.
   */
  rewriteUrl(value: string): string {
    if (value.startsWith('/')) return value.startsWith('//') ? value : this.#rewritePath(value);
    for (const { from, already } of this.#headerForms) {
      if (!startsSegment(value, from)) continue;
      return already !== undefined && startsSegment(value.slice(from.length), already) ? value : this.#proxyBase + value.slice(from.length);
    }
    return value;
  }

  /** The URLs in a `Link` header value (`<url>; rel="next", <url>; …`). */
  rewriteLinkHeader(value: string): string {
    return value.replace(/<([^>]*)>/g, (_link, url: string) => `<${this.rewriteUrl(url)}>`);
  }

  /** A whole body at once, as bytes (a part of a multipart body). */
  rewriteAll(body: Buffer): Buffer {
    const text = body.toString('latin1');
    const output = this.rewriteText(text);
    return output === text ? body : Buffer.from(output, 'latin1');
  }

  /**
   * A whole body's latin1 text (one char per byte), every link replaced. Small bodies are
   * rewritten this way and sent as the text itself: Node writes a latin1 string straight
   * to the socket, where a Buffer made of it first was a copy and an allocation per request.
   */
  rewriteText(text: string): string {
    return this.#replace(text, false).output;
  }

  /**
   * Replaces every whole URL in text. Unless final, leaves alone (and says where it
   * begins) the end that later bytes could still change: a URL cut off, or one whose
   * next characters have not arrived.
   */
  scan(text: string, final: boolean): { output: string; keepFrom: number; replacements: number } {
    const keepFrom = final ? text.length : this.#settledEnd(text);
    // The character after the cut decides whether a URL ending there is whole: a stand-in
    // of the same kind takes its place, one that no spelling contains.
    const cut = keepFrom < text.length;
    const head = cut ? text.slice(0, keepFrom) + (isSegmentChar(text.charCodeAt(keepFrom)) ? this.#continuing : '\0') : text;
    const { output, replacements } = this.#replace(head, true);
    return { output: cut ? output.slice(0, -1) : output, keepFrom, replacements };
  }

  /** Every pass whose spelling occurs in text; counted (for the streaming rewriter's tally) only when asked, as a replacement of the same length takes a second regex run to count. */
  #replace(text: string, counted: boolean): { output: string; replacements: number } {
    let output = text;
    let replacements = 0;
    // Most bodies use one spelling, or none: the others are ruled out without a pass each.
    for (const index of this.#finder.occurring(text)) {
      const { pattern, replacement, growth } = this.#passes[index]!;
      const before = output;
      output = before.replace(pattern, replacement);
      if (counted && output !== before) replacements += growth !== 0 ? (output.length - before.length) / growth : (before.match(pattern)?.length ?? 0);
    }
    return { output, replacements };
  }

  /** An absolute path below the target's path (any, for an upstream's root) moves below the route prefix. */
  #rewritePath(value: string): string {
    // The route prefix lies below the upstream path: a path below the prefix already names the route.
    if (startsSegment(this.#prefix, this.#basePath) && startsSegment(value, this.#prefix)) return value;
    return startsSegment(value, this.#basePath) ? this.#prefix + value.slice(this.#basePath.length) : value;
  }

  /**
   * Where the part of text that later bytes cannot change ends: every spelling that
   * starts before it has all of its window before it, and the character after that
   * window in the text (which the stand-in copies the kind of).
   */
  #settledEnd(text: string): number {
    let end = text.length - this.holdBack;
    if (end <= 0) return 0;
    // A window that the cut would split moves the cut to where that spelling starts.
    for (let moved = true; moved && end > 0;) {
      moved = false;
      for (const { from, window } of this.#passes) {
        const at = text.indexOf(from, Math.max(0, end - window + 1));
        if (at !== -1 && at < end) {
          end = at;
          moved = true;
        }
      }
    }
    return end;
  }
}

/** value is base, or base followed by a path, query or fragment. */
function startsSegment(value: string, base: string): boolean {
  if (!value.startsWith(base)) return false;
  const next = value.charAt(base.length);
  return next === '' || next === '/' || next === '?' || next === '#';
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

/** The same streaming rewrite as UrlRewriter, for bytes pulled from an async source (a part of a multipart body). */
export async function* rewriteChunks(chunks: AsyncIterable<Buffer>, rules: RewriteRules): AsyncGenerator<Buffer> {
  let tail = '';
  for await (const chunk of chunks) {
    const text = tail + chunk.toString('latin1');
    const { output, keepFrom } = rules.scan(text, false);
    tail = text.slice(keepFrom);
    if (output.length > 0) yield Buffer.from(output, 'latin1');
  }
  const { output } = rules.scan(tail, true);
  if (output.length > 0) yield Buffer.from(output, 'latin1');
}
