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
  if (rawUrl.includes('%') && /%(?![0-9A-Fa-f]{2})/.test(rawUrl)) throw new ProxyError('BAD_REQUEST', 'The request URL has a malformed percent-encoding.');
  // Most paths hold no character any reading could turn into a dot segment: no "." or "%",
  // no backslash, nothing outside printable ASCII. Only the others are taken apart.
  if (PLAIN_PATH.test(path)) return { path, search };
  for (const segment of path.split('/')) {
    if (escapesItsParent(segment)) throw new ProxyError('BAD_REQUEST', 'Dot segments (".", "..") are not allowed in the request path, encoded or not.');
  }
  for (const segment of path.split('/')) {
    if (segment.includes('%') && percentDecode(segment) === undefined) {
      throw new ProxyError('BAD_REQUEST', 'The request path is not valid UTF-8 once percent-decoded (overlong or truncated sequences are refused).');
    }
  }
  return { path, search };
}

// The control characters are the point: NUL and the rest never pass unexamined.
// eslint-disable-next-line no-control-regex
const PLAIN_PATH = /^[^.%\\\x00-\x20\x7f-\uffff]*$/;

/**
 * A segment that some server along the way could read as "." or "..": after one, two or
 * three rounds of percent-decoding, with backslashes taken as separators (IIS does),
 * without a ";…" path parameter (Tomcat, Jetty and Spring read "..;x" as ".."), and with
 * Unicode look-alikes of ".", "/" and "\" read as them: NFKC normalisation (which .NET and
 * Java frameworks apply) turns "．．" (full-width) or "‥" (two-dot leader) into "..", and
 * Windows' best-fit mapping turns "∕" or "¥" into a separator. Overlong UTF-8 for a dot
 * (%C0%AE) is refused as invalid UTF-8 in the first round, and looked for in later ones.
 */
function escapesItsParent(segment: string): boolean {
  let current = segment;
  for (let round = 0; round < 4; round++) {
    if (current.includes('\0')) return true;
    if (hasDotSegment(current) || hasDotSegment(lookAlikesAsAscii(current))) return true;
    if (!current.includes('%')) return false;
    let decoded = percentDecode(current);
    if (decoded === undefined) {
      if (OVERLONG_SEPARATOR.test(percentBytes(current))) return true;
      // Not valid UTF-8 once decoded: decode byte by byte, as a server that does not care
      // about UTF-8 would, so "%FF%252e%252e" still shows its ".." after two rounds.
      decoded = current.replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    }
    if (decoded === current) return false;
    current = decoded;
  }
  return false;
}

function hasDotSegment(text: string): boolean {
  return text.split(/[\\/]/).some((part) => isDotSegment(part.split(';', 1)[0]!));
}

function isDotSegment(name: string): boolean {
  return name === '.' || name === '..';
}

/**
 * Characters that NFKC or Windows best-fit code pages turn into ".", "/" or "\", beyond
 * those NFKC maps itself (full-width ．／＼, ‥, ﹒, ﹨ and more): ideographic full stops,
 * division and fraction slashes, set minus, yen and won signs (the backslash of Japanese
 * and Korean code pages).
 */
const LOOK_ALIKES: Record<string, string> = {
  '\u3002': '.',
  '\uFF61': '.',
  '\u2215': '/',
  '\u2044': '/',
  '\u29F8': '/',
  '\u2216': '\\',
  '\u29F5': '\\',
  '\u29F9': '\\',
  '\u00A5': '\\',
  '\u20A9': '\\',
};
const LOOK_ALIKE = new RegExp(`[${Object.keys(LOOK_ALIKES).join('')}]`, 'g');

function lookAlikesAsAscii(text: string): string {
  // eslint-disable-next-line no-control-regex -- a range test for non-ASCII, which starts at NUL
  return /[^\x00-\x7f]/.test(text) ? text.normalize('NFKC').replace(LOOK_ALIKE, (character) => LOOK_ALIKES[character]!) : text;
}

/** One round of percent-decoding as UTF-8, strictly: undefined when the bytes are not valid UTF-8 (overlong forms included). */
function percentDecode(text: string): string | undefined {
  try {
    return STRICT_UTF8.decode(Buffer.from(percentBytes(text), 'latin1'));
  } catch {
    return undefined;
  }
}

/** The bytes a round of decoding gives, one character per byte: %XX as its byte, anything else as its UTF-8 bytes. */
function percentBytes(text: string): string {
  return Buffer.from(text, 'utf8')
    .toString('latin1')
    .replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Overlong encodings of ".", "/" and "\" (two and three bytes), which lenient decoders read as those characters. */
const OVERLONG_SEPARATOR = /\xC0[\xAE\xAF]|\xC1\x9C|\xE0\x80[\xAE\xAF]|\xE0\x81\x9C/;
