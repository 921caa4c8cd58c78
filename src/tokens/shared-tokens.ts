import { ERRORS, ProxyError, type ErrorCode } from '../errors.ts';
import type { TokenProvider } from './provider.ts';
import type { AccessToken, FetchContext, TokenSource } from './token.ts';

/**
 * With `serve --workers N`, the primary process holds the one real provider of each token
 * source and the workers ask it, so the host makes one IdP request per source per refresh
 * however many workers serve. Each worker keeps its own provider around the relayed
 * source, so requests are answered from the worker's cache and ask across only when a
 * token is missing, due for renewal or refused.
 */

/** A message link between two processes (a cluster worker and the primary). */
export interface Channel {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

interface TokenRequest {
  type: 'bearer-proxy:token';
  id: number;
  source: string;
  /** expiresAt of the token the worker holds and wants renewed. */
  renewing?: number;
  /** The value of the token an upstream refused. */
  rejected?: string;
}

interface TokenReply {
  type: 'bearer-proxy:token-reply';
  id: number;
  token?: AccessToken;
  error?: { code: ErrorCode; message: string; headers: Record<string, string> };
}

/** In a worker: a token source per name that asks the primary over the channel. */
export function sharedTokenSources(channel: Channel): (name: string) => TokenSource {
  const pending = new Map<number, { resolve: (token: AccessToken) => void; reject: (error: ProxyError) => void }>();
  let nextId = 0;
  channel.on('message', (message) => {
    if (!isReply(message)) return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.token) waiter.resolve(message.token);
    else waiter.reject(toProxyError(message.error));
  });
  return (name) => ({
    name,
    fetchToken(context?: FetchContext) {
      const id = ++nextId;
      const request: TokenRequest = {
        type: 'bearer-proxy:token',
        id,
        source: name,
        ...(context?.renewing ? { renewing: context.renewing.expiresAt } : {}),
        ...(context?.rejected ? { rejected: context.rejected.value } : {}),
      };
      return new Promise<AccessToken>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        channel.send(request);
      });
    },
  });
}

/** In the primary: answers one worker's token requests from the primary's providers. */
export function answerTokenRequests(channel: Channel, providerFor: (name: string) => TokenProvider | undefined): void {
  channel.on('message', (message) => {
    if (!isRequest(message)) return;
    const reply = (body: Omit<TokenReply, 'type' | 'id'>) => channel.send({ type: 'bearer-proxy:token-reply', id: message.id, ...body } satisfies TokenReply);
    const provider = providerFor(message.source);
    if (!provider) {
      reply({
        error: { code: 'TOKEN_UNAVAILABLE', message: `No token source named "${message.source}" in the primary process's config (a reload may be under way).`, headers: { 'retry-after': '1' } },
      });
      return;
    }
    tokenFor(provider, message).then(
      (token) => reply({ token }),
      (error: unknown) => {
        const proxyError = error instanceof ProxyError ? error : new ProxyError('TOKEN_UNAVAILABLE', undefined, { cause: error });
        reply({ error: { code: proxyError.code, message: proxyError.message, headers: proxyError.headers } });
      },
    );
  });
}

async function tokenFor(provider: TokenProvider, request: TokenRequest): Promise<AccessToken> {
  // The worker's 401 counts here, where the one-drop-per-interval rule is kept for the host.
  const held = provider.current();
  if (request.rejected !== undefined && held?.value === request.rejected) provider.invalidate(held);
  const token = await provider.getToken();
  // The worker is renewing ahead of expiry and this is the token it has: wait for a newer one.
  if (request.renewing !== undefined && token.expiresAt <= request.renewing) return provider.refresh();
  return token;
}

function toProxyError(error: TokenReply['error']): ProxyError {
  if (!error || !(error.code in ERRORS)) return new ProxyError('TOKEN_UNAVAILABLE', 'The primary process answered without a token.');
  return new ProxyError(error.code, error.message, { headers: error.headers });
}

function isRequest(message: unknown): message is TokenRequest {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'bearer-proxy:token';
}

function isReply(message: unknown): message is TokenReply {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'bearer-proxy:token-reply';
}
