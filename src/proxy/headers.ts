import { CLIENT_CLAIMS, HOP_BY_HOP, SET_BY_PROXY } from '../http/owned-headers.ts';

export interface UpstreamHeaderValues {
  host: string;
  authorization: string;
  forwardedFor: string;
  forwardedProto: string;
  forwardedHost: string | undefined;
  requestId: string;
  /** Route headers, lower-cased names; they replace a client header of the same name. */
  static: ReadonlyArray<readonly [string, string]>;
}

/**
 * The request headers sent upstream, as a flat [name, value, …] list taken from the raw
 * headers so that repeated headers stay separate and in order, never merged.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], values: UpstreamHeaderValues): string[] {
  const dropped = connectionListed(rawHeaders);
  const headers: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || SET_BY_PROXY.has(lower) || CLIENT_CLAIMS.has(lower) || dropped?.has(lower)) continue;
    if (values.static.length > 0 && values.static.some(([staticName]) => staticName === lower)) continue;
    headers.push(name, rawHeaders[i + 1]!);
  }
  for (const [name, value] of values.static) headers.push(name, value);
  headers.push('host', values.host, 'x-forwarded-for', values.forwardedFor, 'x-forwarded-proto', values.forwardedProto);
  if (values.forwardedHost) headers.push('x-forwarded-host', values.forwardedHost);
  headers.push('x-request-id', values.requestId, 'authorization', values.authorization);
  return headers;
}

function connectionListed(rawHeaders: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue;
    listed ??= new Set();
    for (const token of tokenSet(rawHeaders[i + 1]!)) listed.add(token);
  }
  return listed;
}

function tokenSet(list: string): Set<string> {
  return new Set(list.split(',').map((token) => token.trim().toLowerCase()).filter(Boolean));
}
