import { CLIENT_CLAIMS, connectionListedNames, HOP_BY_HOP, SET_BY_PROXY, type ForwardedHeader } from '../http/owned-headers.ts';

export interface UpstreamHeaderValues {
  host: string;
  authorization: string;
  forwardedFor: string;
  forwardedProto: string;
  forwardedHost: string | undefined;
  requestId: string;
  /** Route headers, lower-cased names; they replace a client header of the same name. */
  static: ReadonlyArray<readonly [string, string]>;
  forwarded: ForwardedValues;
}

export interface ForwardedValues {
  /** The forwarded headers the route sends (its `forwardedHeaders:`). */
  names: ReadonlySet<ForwardedHeader>;
  /** X-Forwarded-Prefix: what the proxy takes off the path, when the route prefix is that followed by the target's path. */
  prefix: string | undefined;
  /** X-Forwarded-Path: the request path as the client sent it, without the query. */
  path: string;
}

/**
 * The request headers sent upstream, as a flat [name, value, …] list taken from the raw
 * headers so that repeated headers stay separate and in order, never merged.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], values: UpstreamHeaderValues): string[] {
  let headers: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') listed = connectionListedNames(rawHeaders[i + 1]!, listed);
      continue;
    }
    if (SET_BY_PROXY.has(lower) || CLIENT_CLAIMS.has(lower)) continue;
    if (setByRoute(values, lower)) continue;
    headers.push(name, rawHeaders[i + 1]!);
  }
  // Names listed in Connection are hop-by-hop too, wherever they stand (rare: keep-alive and close are all most clients list).
  if (listed) headers = withoutNames(headers, listed);
  for (const [name, value] of values.static) headers.push(name, value);
  headers.push('host', values.host);
  pushForwardedHeaders(headers, values);
  headers.push('x-request-id', values.requestId, 'authorization', values.authorization);
  return headers;
}

/**
 * The forwarded headers, in a fixed order. Each is what the proxy knows, never what the
 * caller claimed. A route's static header of the same name (only X-Forwarded-Prefix,
 * X-Forwarded-Path and Forwarded may be one) is the operator's word and wins.
 */
function pushForwardedHeaders(headers: string[], values: UpstreamHeaderValues): void {
  const { names, prefix, path } = values.forwarded;
  const wanted = (name: ForwardedHeader) => names.has(name) && !setByRoute(values, name);
  const host = values.forwardedHost;
  if (wanted('x-forwarded-for')) headers.push('x-forwarded-for', values.forwardedFor);
  if (wanted('x-forwarded-proto')) headers.push('x-forwarded-proto', values.forwardedProto);
  if (host && wanted('x-forwarded-host')) headers.push('x-forwarded-host', host);
  if (prefix !== undefined && wanted('x-forwarded-prefix')) headers.push('x-forwarded-prefix', prefix);
  if (wanted('x-forwarded-path')) headers.push('x-forwarded-path', path);
  if (wanted('forwarded')) headers.push('forwarded', forwardedElement(values.forwardedFor, host, values.forwardedProto));
}

/** The route's static headers include this lower-case name (most routes have none). */
function setByRoute(values: UpstreamHeaderValues, lower: string): boolean {
  return values.static.length > 0 && values.static.some(([staticName]) => staticName === lower);
}

/** One RFC 7239 forwarded-element: `for=…;host=…;proto=…`, IPv6 addresses and anything not a token quoted. */
export function forwardedElement(forAddress: string, host: string | undefined, proto: string): string {
  const node = forAddress === '' ? 'unknown' : forAddress.includes(':') ? `"[${forAddress}]"` : forAddress;
  return `for=${node}${host ? `;host=${forwardedValue(host)}` : ''};proto=${forwardedValue(proto)}`;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const NEEDS_ESCAPE = /["\\]/;

/** A token as it is, anything else as a quoted-string (RFC 7230 §3.2.6). */
function forwardedValue(value: string): string {
  if (TOKEN.test(value)) return value;
  // host:port, what almost every request has, holds nothing to escape.
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

function withoutNames(headers: readonly string[], names: ReadonlySet<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!names.has(headers[i]!.toLowerCase())) kept.push(headers[i]!, headers[i + 1]!);
  return kept;
}
