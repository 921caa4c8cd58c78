import type { IncomingMessage } from 'node:http';
import { ProxyError } from '../errors.ts';

/** What the proxy forwards; the 405 answer and `OPTIONS *` name them, as RFC 9110 asks. */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, MERGE, DELETE, OPTIONS';

/** Methods that are known not to echo: nothing to split and match in them. */
const PLAIN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'MERGE']);

/** Headers with which OData v2 clients tunnel a method through POST (MERGE, PATCH, DELETE). */
const METHOD_OVERRIDES = ['x-http-method', 'x-http-method-override', 'x-method-override'] as const;

/**
 * TRACE (and IIS's TRACK) make a server echo the request it received, Authorization
 * included: forwarding one would hand the injected token to the caller. The same method
 * asked for through an override header is refused too, however it is hidden: in a list
 * (`TRACE, GET`: some frameworks take the first element, some the last), in a repeated
 * header (Node joins repeats with ", "), quoted, with parameters, or under a name written
 * with underscores (CGI, PHP and WSGI read `X_HTTP_Method_Override` as the same header).
 * Other overrides pass.
 */
export function refuseEchoingMethods(req: IncomingMessage): void {
  const method = req.method ?? '';
  const asked = PLAIN_METHODS.has(method) ? [] : [method];
  // Only names that can be an override are looked at closely: this runs for every request.
  for (const name in req.headers) {
    if (!name.includes('method')) continue;
    const value = req.headers[name];
    if (value !== undefined && METHOD_OVERRIDES.includes(name.replaceAll('_', '-') as never)) asked.push(...(Array.isArray(value) ? value : [value]));
  }
  // Every word of every value: whole words only, so TRACEROUTE is not mistaken for one.
  if (asked.some((value) => value.split(/[^A-Za-z]+/).some((word) => /^(TRACE|TRACK)$/i.test(word)))) {
    throw new ProxyError('METHOD_NOT_ALLOWED', undefined, { headers: { allow: ALLOWED_METHODS } });
  }
}
