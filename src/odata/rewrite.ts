import { Transform, type TransformCallback } from 'node:stream';

/** Bodies that can carry absolute service URLs: JSON (OData v2–v4), XML, Atom. */
export function isRewritableContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /\b(json|xml)\b/i.test(contentType);
}

/** The pairs to replace for one route: the plain form and the JSON-escaped form (`https:\/\/host\/path`). */
export function rewritePairs(upstreamBase: string, proxyBase: string): Array<readonly [string, string]> {
  return [
    [upstreamBase, proxyBase],
    [upstreamBase.replaceAll('/', '\\/'), proxyBase.replaceAll('/', '\\/')],
  ];
}

/** Rewrites an absolute URL header value (Location, Content-Location) that points into the upstream base. */
export function rewriteUrlValue(value: string, upstreamBase: string, proxyBase: string): string {
  if (value === upstreamBase) return proxyBase;
  const next = value.charAt(upstreamBase.length);
  return value.startsWith(upstreamBase) && (next === '/' || next === '?' || next === '#') ? proxyBase + value.slice(upstreamBase.length) : value;
}

/**
 * A streaming find-and-replace that never buffers a whole body: it holds back only the
 * last (longest pattern − 1) bytes of each chunk, so a URL split across two chunks is
 * still found. Works on latin1 text: one char per byte, so multi-byte UTF-8 around the
 * ASCII URLs passes through unchanged.
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
    this.#pattern = new RegExp([...this.#replacements.keys()].map(escapeRegExp).join('|'), 'g');
    this.#holdBack = Math.max(...pairs.map(([from]) => from.length)) - 1;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const text = this.#tail + chunk.toString('latin1');
    let output = '';
    let done = 0;
    this.#pattern.lastIndex = 0;
    for (let match = this.#pattern.exec(text); match; match = this.#pattern.exec(text)) {
      output += text.slice(done, match.index) + this.#replacements.get(match[0])!;
      done = match.index + match[0].length;
      this.replacements++;
    }
    const safeEnd = Math.max(done, text.length - this.#holdBack);
    output += text.slice(done, safeEnd);
    this.#tail = text.slice(safeEnd);
    callback(null, output.length > 0 ? Buffer.from(output, 'latin1') : undefined);
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.#tail.length > 0 ? Buffer.from(this.#tail, 'latin1') : undefined);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
