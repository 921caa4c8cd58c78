import { ProxyError } from '../errors.ts';
import { bound } from '../http/scrub.ts';

/**
 * Refuses, at fetch time, a token the proxy could not send as it is: one with characters
 * an HTTP header cannot carry (a CR/LF would fail every request as UPSTREAM_UNREACHABLE while
 * the token stayed cached, or split the header), or of a type other than Bearer (a DPoP token
 * sent as Bearer is refused by the upstream, or worse, accepted without its proof).
 * Nothing of the token itself goes into the message.
 */
export function refuseUnusableToken(source: string, token: { access_token: string; token_type: string }): void {
  if (token.token_type.toLowerCase() !== 'bearer') throw unsupportedTokenType(source, token.token_type);
  if (!HEADER_SAFE_TOKEN.test(token.access_token)) {
    throw new ProxyError(
      'TOKEN_FETCH_FAILED',
      `The identity provider sent an access token for "${source}" that cannot be sent in an HTTP header (${describeBadCharacters(token.access_token)}); it was not used or cached.`,
    );
  }
}

export function unsupportedTokenType(source: string, tokenType: unknown): ProxyError {
  const shown = typeof tokenType === 'string' ? `"${bound(tokenType.replace(/[^\x20-\x7e]/g, '?'), 40)}"` : 'missing';
  return new ProxyError('TOKEN_FETCH_FAILED', `The identity provider issued a token of type ${shown} for "${source}"; bearer-proxy sends Bearer tokens only (RFC 6750), so it was not used.`);
}

/** Visible ASCII only: a token is sent as `Authorization: Bearer <token>` and must not need quoting or break the line. */
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]+$/;

function describeBadCharacters(value: string): string {
  const found = new Set<string>();
  for (const character of value) {
    const code = character.codePointAt(0)!;
    if (code === 0x0d || code === 0x0a) found.add('CR/LF');
    else if (code === 0x20 || code === 0x09) found.add('spaces');
    else if (code < 0x20 || code === 0x7f) found.add('control characters');
    else if (code > 0x7e) found.add('non-ASCII characters');
  }
  return `it contains ${[...found].join(', ')}`;
}
