import { ProxyError } from '../errors.ts';

export interface RequestTarget {
  /** The path exactly as the client sent it (still percent-encoded). */
  path: string;
  /** The raw query string including its leading "?", or "" when there is none. */
  search: string;
}

/**
 * Splits an origin-form request target without normalising it: the path and query are
 * forwarded byte for byte, so this only decides whether the target is safe to forward.
 */
export function parseRequestTarget(rawUrl: string): RequestTarget {
  if (!rawUrl.startsWith('/') || rawUrl.startsWith('//')) {
    throw new ProxyError('BAD_REQUEST', 'Only origin-form request targets (/path?query) are accepted; this is not a forward proxy.');
  }
  // A fragment is never sent in HTTP/1.1 (RFC 9112 §3.2); an upstream that parses one
  // would read "/base/..#x" as "/base/..", so a target with "#" is refused outright.
  if (rawUrl.includes('#')) throw new ProxyError('BAD_REQUEST', 'A request target cannot contain "#" (fragments are not sent to servers).');
  const queryStart = rawUrl.indexOf('?');
  const path = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
  const search = queryStart < 0 ? '' : rawUrl.slice(queryStart);
  if (/%(?![0-9A-Fa-f]{2})/.test(rawUrl)) throw new ProxyError('BAD_REQUEST', 'The request URL has a malformed percent-encoding.');
  // Most paths hold no character any reading could turn into a dot segment: no "." or "%",
  // no backslash, nothing outside printable ASCII. Only the others are taken apart.
  if (PLAIN_PATH.test(path)) return { path, search };
  for (const segment of path.split('/')) {
    if (escapesItsParent(segment)) throw new ProxyError('BAD_REQUEST', 'Dot segments (".", "..") are not allowed in the request path, encoded or not.');
  }
  return { path, search };
}

const PLAIN_PATH = /^[^.%\\\x00-\x20\x7f-\uffff]*$/;

/**
 * A segment that some server along the way could read as "." or "..": after one, two or
 * three rounds of percent-decoding, with backslashes taken as separators (IIS does), and
 * without a ";…" path parameter (Tomcat, Jetty and Spring read "..;x" as "..").
 */
function escapesItsParent(segment: string): boolean {
  let current = segment;
  for (let round = 0; round < 4; round++) {
    if (current.includes('\0')) return true;
    if (current.split(/[\\/]/).some((part) => isDotSegment(part.split(';', 1)[0]!))) return true;
    if (!current.includes('%')) return false;
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      // Not valid UTF-8 once decoded: decode byte by byte, as a server that does not care
      // about UTF-8 would, so "%FF%252e%252e" still shows its ".." after two rounds.
      decoded = current.replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    }
    if (decoded === current) return false;
    current = decoded;
  }
  return false;
}

function isDotSegment(name: string): boolean {
  return name === '.' || name === '..';
}
