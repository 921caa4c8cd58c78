import { STATUS_CODES, type ServerResponse } from 'node:http';
import { escapeMarkup } from './http/escape.ts';
import { qualityList } from './http/quality.ts';

/** Every error the proxy itself answers with: a stable code, its HTTP status, and a default message. */
export const ERRORS = {
  AUTH_REQUIRED: { status: 401, message: 'Credentials are required: use Basic authentication.' },
  AUTH_INVALID: { status: 401, message: 'The user name or password is wrong.' },
  AUTH_BUSY: { status: 503, message: 'Too many password checks are under way; try again in a moment.' },
  AUTH_THROTTLED: { status: 429, message: 'Too many wrong passwords from this address or for this user; wait as Retry-After says before trying again.' },
  NO_ROUTE: { status: 404, message: 'No route matches this path.' },
  BAD_REQUEST: { status: 400, message: 'The request cannot be forwarded.' },
  HOST_NOT_ALLOWED: { status: 403, message: 'Requests without credentials must address the proxy as localhost, by IP address, or by a name in inbound.allowedHosts.' },
  CROSS_SITE_REQUEST: { status: 403, message: 'A web page from another site cannot use the proxy without credentials.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'TRACE and TRACK are not forwarded: the upstream would echo the injected token.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  TOKEN_FETCH_FAILED: { status: 502, message: 'The identity provider refused the token request.' },
  TOKEN_UNAVAILABLE: { status: 503, message: 'No access token is available: the identity provider cannot be reached.' },
  UPSTREAM_REJECTED_TOKEN: { status: 502, message: 'The upstream service rejected a freshly fetched access token.' },
  UPSTREAM_UNREACHABLE: { status: 502, message: 'The upstream service cannot be reached.' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream service did not answer within the route timeout.' },
  INTERNAL: { status: 500, message: 'The proxy failed unexpectedly; see its log for the request id.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class ProxyError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    options: { cause?: unknown; headers?: Record<string, string>; logDetails?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ProxyError';
    this.status = ERRORS[code].status;
    this.headers = options.headers ?? {};
    this.logDetails = options.logDetails ?? {};
  }
  readonly headers: Record<string, string>;
  /** For the access log only, never sent to the client (such as the user name of a failed login). */
  readonly logDetails: Record<string, string>;
}

export function isProxyError(error: unknown): error is ProxyError {
  return error instanceof ProxyError;
}

export interface ErrorContext {
  route?: string;
  requestId: string;
  /** The client's Accept header: an OData client that asked for XML gets its error in XML. */
  accept?: string | undefined;
}

/** OData-style JSON body, which Power BI shows to the user as is. */
export function errorBody(error: ProxyError, context: ErrorContext): string {
  return JSON.stringify({
    error: { code: error.code, message: error.message, ...(context.route ? { route: context.route } : {}), requestId: context.requestId },
  });
}

/** The OData XML error format (v4 namespace); the request id goes where OData puts details. */
export function errorBodyXml(error: ProxyError, context: ErrorContext): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<error xmlns="http://docs.oasis-open.org/odata/ns/metadata">' +
    `<code>${escapeMarkup(error.code)}</code><message>${escapeMarkup(error.message)}</message>` +
    (context.route ? `<target>${escapeMarkup(context.route)}</target>` : '') +
    `<innererror><requestId>${escapeMarkup(context.requestId)}</requestId></innererror>` +
    '</error>'
  );
}

/**
 * True when the Accept header ranks XML (or Atom) above JSON. Power Query lists JSON first
 * and also XML; a `$metadata` request or an Atom-only client asks for XML alone.
 */
export function prefersXml(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = 0;
  let xml = 0;
  for (const { value: type, weight: raw } of qualityList(accept)) {
    const weight = raw || 0;
    if (type === 'application/json' || type.endsWith('+json')) json = Math.max(json, weight);
    else if (type === 'application/xml' || type === 'text/xml' || type.endsWith('+xml')) xml = Math.max(xml, weight);
    else if (type === '*/*' || type === 'application/*') json = Math.max(json, weight);
  }
  return xml > json;
}

/**
 * The bytes of a complete error response, for a socket Node's HTTP parser gave up on
 * (there is no ServerResponse then): the same JSON body, and the connection closes.
 */
export function rawErrorResponse(error: ProxyError, requestId: string, { headOnly = false } = {}): string {
  const body = errorBody(error, { requestId });
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Cache-Control: no-store\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${headOnly ? '' : body}`
  );
}

/** The one place that writes a proxy error to a client. A response already under way is cut off instead. */
export function sendError(res: ServerResponse, error: ProxyError, context: ErrorContext): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const xml = prefersXml(context.accept);
  const body = xml ? errorBodyXml(error, context) : errorBody(error, context);
  res.writeHead(error.status, {
    ...error.headers,
    'content-type': xml ? 'application/xml; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': context.requestId,
  });
  res.end(body);
}
