import type { IncomingMessage } from 'node:http';
import { ProxyError } from '../errors.ts';

/** What the proxy forwards; the 405 answer and `OPTIONS *` name them, as RFC 9110 asks. */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, MERGE, DELETE, OPTIONS';

/** Headers with which OData v2 clients tunnel a method through POST (MERGE, PATCH, DELETE). */
const METHOD_OVERRIDES = ['x-http-method', 'x-http-method-override', 'x-method-override'] as const;

/**
 * TRACE (and IIS's TRACK) make a server echo the request it received, Authorization
 * included: forwarding one would hand the injected token to the caller. The same method
 * asked for through an override header is refused too; other overrides pass.
 */
export function refuseEchoingMethods(req: IncomingMessage): void {
  const asked = [req.method, ...METHOD_OVERRIDES.map((name) => req.headers[name])];
  if (asked.some((method) => typeof method === 'string' && /^\s*(TRACE|TRACK)\s*$/i.test(method))) {
    throw new ProxyError('METHOD_NOT_ALLOWED', undefined, { headers: { allow: ALLOWED_METHODS } });
  }
}
