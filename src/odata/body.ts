import type { Duplex } from 'node:stream';
import { multipartBoundary, multipartRewriter, rewriteMultipart } from './multipart.ts';
import { isRewritableContentType, UrlRewriter, type RewriteRules } from './rewrite.ts';

/** A body rewritten whole: bytes, or latin1 text (one char per byte), which Node writes to a socket without a Buffer of it. */
export type WholeBody = Buffer | string;

/** How one answer's body is rewritten: whole (a small body, then sent with its new length) or as it streams. */
export interface BodyRewrite {
  /** At once for text; a multipart body is parsed asynchronously. */
  whole(body: Buffer): WholeBody | Promise<WholeBody>;
  stream(): Duplex;
}

/**
 * The rewriting for a body of this Content-Type, or undefined when it passes untouched:
 * multipart answers ($batch) part by part, JSON/XML/Atom as text, anything else not at
 * all. Multipart is asked first: its boundary may contain "json" or "xml".
 */
export function bodyRewriteFor(contentType: string | undefined, rules: RewriteRules): BodyRewrite | undefined {
  const boundary = multipartBoundary(contentType);
  if (boundary !== undefined) return { whole: (body) => rewriteMultipart(body, boundary, rules), stream: () => multipartRewriter(boundary, rules) };
  if (contentType !== undefined && /^\s*multipart\//i.test(contentType)) return undefined;
  if (isRewritableContentType(contentType)) return { whole: (body) => rules.rewriteText(body.toString('latin1')), stream: () => new UrlRewriter(rules) };
  return undefined;
}
