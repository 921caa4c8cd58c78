/** Hop-by-hop headers (RFC 9110 §7.6.1) and their obsolete kin: they describe one connection, never the message. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Adds the header names a Connection value lists (hop-by-hop too, RFC 9110 §7.6.1) to
 * `listed`. keep-alive and close, all that almost every message lists, are hop-by-hop
 * already: no set is made for them.
 */
export function connectionListedNames(value: string, listed: Set<string> | undefined): Set<string> | undefined {
  // One token is what almost every message has (both sides of every proxied request): no split.
  if (!value.includes(',')) return withListedName(value, listed);
  for (const token of value.split(',')) listed = withListedName(token, listed);
  return listed;
}

function withListedName(token: string, listed: Set<string> | undefined): Set<string> | undefined {
  const lower = token.trim().toLowerCase();
  if (lower !== '' && lower !== 'keep-alive' && lower !== 'close') (listed ??= new Set()).add(lower);
  return listed;
}

/**
 * Set by the proxy itself on the way up; whatever the client sent under these names is
 * dropped so it cannot pose as the proxy (a forged X-Forwarded-For, a smuggled token).
 */
export const SET_BY_PROXY: ReadonlySet<string> = new Set(['host', 'authorization', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);

/**
 * What a client may claim about where the request came from or where it should go, in
 * headers that upstreams and the servers in front of them trust: a forged client address
 * (Forwarded, X-Real-IP) or another path (X-Original-URL, honoured by IIS URL Rewrite and
 * Symfony). Dropped from the caller's request; a route's static `headers:` may still set them.
 */
export const CLIENT_CLAIMS: ReadonlySet<string> = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-original-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-path',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
]);

/**
 * The headers that tell an upstream where the client reached the proxy, so it can build
 * links that lead back through it (a route's `forwardedHeaders:` picks among them). The
 * proxy sets each from what it knows; whatever the caller sent under these names is dropped.
 */
export const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix', 'x-forwarded-path', 'forwarded'] as const;
export type ForwardedHeader = (typeof FORWARDED_HEADERS)[number];

/** Names a route's static `headers:` may not use: the proxy sets, strips or frames these itself. */
export function isProxyOwnedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return HOP_BY_HOP.has(lower) || SET_BY_PROXY.has(lower) || lower === 'content-length';
}
