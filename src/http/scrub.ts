/** The most of a peer's own words (an upstream's 401 reason, an IdP's error_description) that is repeated. */
export const QUOTED_TEXT_LIMIT = 300;

export const REDACTED = '[redacted]';

/** Shorter values are not searched for: they could not be told from ordinary words, and no real secret or token is this short. */
const SHORTEST_SECRET = 4;

/**
 * Turns a peer's text into something safe to repeat to a caller and into a log line. It
 * takes any value: an IdP's JSON can put a number or an object where text belongs
 * ("error_description": 42), and the types of the libraries that parse it say string.
 */
export type Scrub = (text: unknown) => string;

/**
 * Upstreams and IdPs quote what they were sent ("Bearer eyJ… is not valid here",
 * error_description="client secret s3cr3t is wrong"), and the proxy repeats their words
 * in error bodies, logs and /_status. Before it does, this removes:
 * - each known secret (tokens sent, the client secret, the client assertion), also as a
 *   peer would have re-encoded it: percent- or form-encoded, JSON-escaped, and for a
 *   client_secret_basic pair, the Base64 of the Authorization header;
 * - whatever follows an authorization scheme (Bearer, Basic, DPoP), whoever's it is;
 * - anything shaped like a JWT (a token or assertion the proxy did not know it had sent);
 * - control characters (a CR/LF in an IdP's text would break a log line).
 * Then it bounds what is left, so a megabyte of description cannot make every error body a megabyte.
 */
export function createScrub(secrets: Iterable<string | undefined>, limit = QUOTED_TEXT_LIMIT): Scrub {
  const variants = new Set<string>();
  for (const secret of secrets) if (secret && secret.length >= SHORTEST_SECRET) for (const form of encodings(secret)) variants.add(form);
  // Longest first, so a secret that contains another is removed whole.
  const ordered = [...variants].sort((a, b) => b.length - a.length);
  return (text) => {
    let scrubbed = typeof text === 'string' ? text : (JSON.stringify(text) ?? String(text));
    for (const secret of ordered) scrubbed = scrubbed.split(secret).join(REDACTED);
    scrubbed = scrubbed
      .replace(AFTER_SCHEME, (match: string, scheme: string, gap: string, credentials: string) => (isCredentials(scheme, credentials) ? `${scheme}${gap}${REDACTED}` : match))
      .replace(JWT_SHAPED, REDACTED)
      .replace(CONTROL_CHARACTERS, ' ');
    return bound(scrubbed, limit);
  };
}

/**
 * The credentials of a client_secret_basic request, decoded and in Base64: id and secret
 * form-encoded first (RFC 6749 §2.3.1, the way openid-client does it), or as sent by a client that skips that.
 */
export function basicCredentials(clientId: string, clientSecret: string): string[] {
  const pairs = [strictFormEncode, formEncode, (text: string) => text].map((encode) => `${encode(clientId)}:${encode(clientSecret)}`);
  return [...new Set(pairs)].flatMap((pair) => [pair, Buffer.from(pair).toString('base64')]);
}

/** Cuts text to at most limit characters (an ellipsis marks the cut), never inside a surrogate pair. */
export function bound(text: string, limit = QUOTED_TEXT_LIMIT): string {
  if (text.length <= limit) return text;
  let cut = text.slice(0, limit - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * A scheme word, then what separates it from its credentials as a peer may have written it
 * (spaces, "%20", "+", ":", "=", quotes), then the credentials: anything up to a space,
 * quote or delimiter.
 */
const AFTER_SCHEME = /\b(bearer|basic|dpop)((?:\s|%20|\+|[:="'\\])+)([^\s"'<>,;&\\]+)/gi;
const JWT_SHAPED = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** After Bearer or DPoP, any word is taken for a token; after Basic only Base64 of "user:password" ("Basic authentication failed" stays readable). */
function isCredentials(scheme: string, value: string): boolean {
  if (scheme.toLowerCase() !== 'basic') return true;
  return /^[A-Za-z0-9+/]+=*$/.test(value) && Buffer.from(value, 'base64').toString('latin1').includes(':');
}

function encodings(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  return [secret, encodeURIComponent(secret), formEncode(secret), strictFormEncode(secret), json, json.replaceAll('/', '\\/'), Buffer.from(secret).toString('base64')];
}

function formEncode(text: string): string {
  return new URLSearchParams({ x: text }).toString().slice(2);
}

/** application/x-www-form-urlencoded as oauth4webapi writes it: only letters and digits stay, a space is "+". */
function strictFormEncode(text: string): string {
  return encodeURIComponent(text).replace(/[-_.!~*'()]|%20/g, (found) => (found === '%20' ? '+' : `%${found.charCodeAt(0).toString(16).toUpperCase()}`));
}
