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
  return spellings(upstreamBase).flatMap((form) => [
    [form, proxyBase] as const,
    [form.replaceAll('/', '\\/'), proxyBase.replaceAll('/', '\\/')] as const,
  ]);
}

/**
 * Characters that continue a path segment: `https://x/odata/sales` followed by one of
 * these is another resource (`…/salesforce`), not a URL under the route, and is left alone.
 */
const SEGMENT_CONTINUES = String.raw`[A-Za-z0-9\-._~%!$*+=:@(]`;

/** Rewrites the URLs in a `Link` header value (`<url>; rel="next", <url>; …`). */
export function rewriteLinkHeader(value: string, upstreamBase: string, proxyBase: string): string {
  return value.replace(/<([^>]*)>/g, (_link, url: string) => `<${rewriteUrlValue(url, upstreamBase, proxyBase)}>`);
}

/** The base URL as configured, and with its default port written out when it has none. */
function spellings(upstreamBase: string): string[] {
  const url = new URL(upstreamBase);
  if (url.port !== '') return [upstreamBase];
  return [upstreamBase, `${url.protocol}//${url.host}:${url.protocol === 'https:' ? 443 : 80}${upstreamBase.slice(url.origin.length)}`];
}

/** Rewrites an absolute URL header value (Location, Content-Location) that points into the upstream base. */
export function rewriteUrlValue(value: string, upstreamBase: string, proxyBase: string): string {
  for (const base of spellings(upstreamBase)) {
    if (value === base) return proxyBase;
    const next = value.charAt(base.length);
    if (value.startsWith(base) && (next === '/' || next === '?' || next === '#')) return proxyBase + value.slice(base.length);
  }
  return value;
}

/**
 * A streaming find-and-replace that never buffers a whole body: it holds back only the
 * last (longest pattern − 1) bytes of each chunk, so a URL split across two chunks is
 * still found, and a match at the very end of a chunk waits for the next byte to show
 * whether the URL ends there. Works on latin1 text: one char per byte, so multi-byte
 * UTF-8 around the ASCII URLs passes through unchanged.
 */
export class UrlRewriter extends Transform {
  readonly #pattern: RegExp;
  readonly #replacements: Map<string, string>;
  readonly #holdBack: number;
  #tail = '';
  replacements = 0;

  constructor(pairs: ReadonlyArray<readonly [string, string]>) {
    super();
    this.#replacements = new Map(pairs);
    this.#pattern = new RegExp(`(?:${[...this.#replacements.keys()].map(escapeRegExp).join('|')})(?!${SEGMENT_CONTINUES})`, 'g');
    this.#holdBack = Math.max(...pairs.map(([from]) => from.length)) - 1;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const output = this.#replace(this.#tail + chunk.toString('latin1'), false);
    callback(null, output.length > 0 ? Buffer.from(output, 'latin1') : undefined);
  }

  override _flush(callback: TransformCallback): void {
    const output = this.#replace(this.#tail, true);
    callback(null, output.length > 0 ? Buffer.from(output, 'latin1') : undefined);
  }

  /** Replaces what is certain in text and keeps the undecided end in #tail (nothing at the end of the body). */
  #replace(text: string, final: boolean): string {
    let output = '';
    let done = 0;
    let undecidedFrom = text.length;
    this.#pattern.lastIndex = 0;
    for (let match = this.#pattern.exec(text); match; match = this.#pattern.exec(text)) {
      const end = match.index + match[0].length;
      if (end === text.length && !final) {
        undecidedFrom = match.index; // the next byte may continue the path segment
        break;
      }
      output += text.slice(done, match.index) + this.#replacements.get(match[0])!;
      done = end;
      this.replacements++;
    }
    const safeEnd = final ? text.length : Math.min(undecidedFrom, Math.max(done, text.length - this.#holdBack));
    this.#tail = text.slice(safeEnd);
    return output + text.slice(done, safeEnd);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
