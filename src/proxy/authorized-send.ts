import { ProxyError } from '../errors.ts';
import type { TokenProvider } from '../tokens/provider.ts';
import type { AccessToken } from '../tokens/token.ts';

/** One request sent upstream, as far as the token policy cares. */
export interface Attempt {
  readonly statusCode: number;
}

export interface AuthorizedResult<A extends Attempt> {
  /** The last attempt; a 401 was not relayed (see rejectedToken). */
  attempt: A;
  /** The first token was refused and the request was sent again with a fresh one. */
  retried: boolean;
  /** After a 401 that was not replayed: false when the provider kept its token (one was dropped moments ago). */
  renewed: boolean | undefined;
}

/**
 * The bearer-token policy of one request: get the source's token, send, and when the
 * upstream answers 401, drop that token and, if the request can be sent again (no body,
 * or one held in memory), send it once more with a fresh token. A second refusal keeps
 * the fresh token: another would fare no better. `send` consumes the answer (relays it,
 * or takes in a 401) before it resolves.
 */
export async function authorizedSend<A extends Attempt>(tokens: TokenProvider, replayable: boolean, send: (token: AccessToken) => Promise<A>): Promise<AuthorizedResult<A>> {
  const token = tokens.cachedToken() ?? (await tokens.getToken());
  const attempt = await send(token);
  if (attempt.statusCode !== 401) return { attempt, retried: false, renewed: undefined };
  const renewed = tokens.invalidate(token);
  if (!renewed || !replayable) return { attempt, retried: false, renewed };
  return { attempt: await send(await tokens.getToken()), retried: true, renewed };
}

/**
 * An upstream 401 never reaches the client: Power Query would start an Entra ID sign-in
 * against localhost. The client gets 502 UPSTREAM_REJECTED_TOKEN with the upstream's reason.
 */
export function rejectedToken(source: string, result: Pick<AuthorizedResult<Attempt>, 'retried' | 'renewed'>, reason: string | undefined): ProxyError {
  const which = result.retried ? ' twice, the second a freshly fetched one' : result.renewed === false ? ' (a new token was fetched after another 401 moments ago, so none is fetched now)' : '';
  return new ProxyError('UPSTREAM_REJECTED_TOKEN', `The upstream service rejected the access token from "${source}"${which}${reason ? `: ${reason}` : '.'}`);
}
