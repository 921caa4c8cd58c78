import * as oidc from 'openid-client';
import type { Clock } from '../clock.ts';
import type { FetchFunction } from '../http/transport.ts';
import type { TokenSourceConfig } from '../config/schema.ts';
import { ProxyError } from '../errors.ts';
import { basicCredentials, createScrub, type Scrub } from '../http/scrub.ts';
import { boundedFetch, formatBytes, IdpAnswerTooLargeError } from './bounded-fetch.ts';
import { CLIENT_AUTHENTICATION, type SentCredentials } from './client-auth.ts';
import { describeOAuthSource } from './describe.ts';
import { createGrantAssertion, JWT_BEARER_GRANT } from './jwt-bearer.ts';
import { tokenLifetimeMs } from './lifetime.ts';
import { parseRetryAfter, RetryLaterError, type AccessToken, type TokenSource } from './token.ts';
import { refuseUnusableToken, unsupportedTokenType } from './usable-token.ts';

export interface ClientCredentialsDeps {
  clock: Clock;
  /** Every IdP request goes through this (openid-client's customFetch seam). */
  fetch?: FetchFunction;
}

/**
 * An OAuth2 token request through openid-client, by token URL or by OIDC discovery: the
 * client_credentials grant, or with `jwtBearer` the JWT-bearer grant (RFC 7523). How the
 * client authenticates comes from client-auth.ts; mutual TLS, when configured, is in the fetch.
 */
export function createClientCredentialsSource(name: string, config: TokenSourceConfig, deps: ClientCredentialsDeps): TokenSource {
  let configuration: Promise<oidc.Configuration> | undefined;
  // What the IdP was sent that it must not be quoted back: each assertion of the current request.
  const sent: SentCredentials = [];
  const resolveConfiguration = (): Promise<oidc.Configuration> => {
    configuration ??= buildConfiguration(name, config, deps, sent).catch((error: unknown) => {
      configuration = undefined; // a failed discovery is retried on the next fetch
      throw error;
    });
    return configuration;
  };
  const parameters = grantParameters(config);
  const grantAssertion = config.jwtBearer ? createGrantAssertion(config.jwtBearer, deps.clock) : undefined;
  const secrets = config.clientSecret ? [config.clientSecret, ...(config.clientId ? basicCredentials(config.clientId, config.clientSecret) : [])] : [];

  return {
    name,
    kind: describeOAuthSource(config),
    async fetchToken() {
      sent.length = 0;
      try {
        const resolved = await resolveConfiguration();
        const response = grantAssertion ? await jwtBearerGrant(resolved, parameters, grantAssertion, sent) : await oidc.clientCredentialsGrant(resolved, parameters);
        refuseUnusableToken(name, response);
        const obtainedAt = deps.clock.now();
        const lifetimeMs = tokenLifetimeMs(response, obtainedAt, { defaultMs: config.defaultExpiresIn, maxMs: config.maxLifetime });
        return {
          value: response.access_token,
          tokenType: response.token_type,
          obtainedAt,
          expiresAt: obtainedAt + lifetimeMs,
          ...(response.scope ? { scope: response.scope } : {}),
        } satisfies AccessToken;
      } catch (error) {
        throw classifyTokenError(name, error, createScrub([...secrets, ...sent]));
      }
    },
  };
}

async function jwtBearerGrant(
  configuration: oidc.Configuration,
  parameters: Record<string, string>,
  grantAssertion: (tokenEndpoint: string) => Promise<string>,
  sent: SentCredentials,
): Promise<oidc.TokenEndpointResponse> {
  const metadata = configuration.serverMetadata();
  const assertion = await grantAssertion(metadata.token_endpoint ?? metadata.issuer);
  sent.push(assertion);
  return oidc.genericGrantRequest(configuration, JWT_BEARER_GRANT, { ...parameters, assertion });
}

async function buildConfiguration(name: string, config: TokenSourceConfig, deps: ClientCredentialsDeps, sent: SentCredentials): Promise<oidc.Configuration> {
  const auth = await CLIENT_AUTHENTICATION[config.authMethod](config, { source: name, clock: deps.clock, sent });
  const execute = config.allowInsecure ? [oidc.allowInsecureRequests] : [];
  // Every IdP answer, discovery included, is read through the size limit.
  const fetch = boundedFetch(deps.fetch ?? globalThis.fetch) as oidc.CustomFetch;
  const configure = (configuration: oidc.Configuration): oidc.Configuration => {
    configuration[oidc.customFetch] = fetch;
    configuration.timeout = config.timeout / 1000;
    return configuration;
  };
  // A jwtBearer grant may name no client; openid-client needs an id all the same, and clientIdOnly sends none then.
  const clientId = config.clientId ?? config.jwtBearer?.issuer ?? '';
  // With a client certificate, an IdP's mtls_endpoint_aliases (RFC 8705 §5) are where mutual TLS is accepted.
  const metadata: Partial<oidc.ClientMetadata> | undefined = config.tls ? { use_mtls_endpoint_aliases: true } : undefined;
  if (config.issuer) {
    return await oidc
      .discovery(new URL(config.issuer), clientId, metadata, auth, {
        execute,
        timeout: config.timeout / 1000,
        [oidc.customFetch]: fetch,
      })
      .then(configure);
  }
  const tokenUrl = new URL(config.tokenUrl!);
  // openid-client needs an issuer even without discovery; the token URL's origin stands in.
  const configuration = new oidc.Configuration({ issuer: tokenUrl.origin, token_endpoint: tokenUrl.href }, clientId, metadata, auth);
  for (const step of execute) step(configuration);
  return configure(configuration);
}

/** scope, resource and audience are each sent only when configured: IdPs refuse what they do not expect. */
function grantParameters(config: TokenSourceConfig): Record<string, string> {
  return {
    ...config.params,
    ...(config.scope ? { scope: config.scope } : {}),
    ...(config.resource ? { resource: config.resource } : {}),
    ...(config.audience ? { audience: config.audience } : {}),
  };
}

/**
 * An IdP that answered with an OAuth error refused us (502 TOKEN_FETCH_FAILED: retrying
 * will not help until the config changes); anything else means it could not be reached
 * or did not answer sensibly (503 TOKEN_UNAVAILABLE: retrying may help). Retry-After is
 * left to the TokenProvider, which knows when it will try again.
 */
export function classifyTokenError(source: string, error: unknown, scrub: Scrub = createScrub([])): ProxyError {
  if (error instanceof ProxyError) return error;
  // One of ours from inside openid-client (an unreadable client assertion file), which wraps it in a ClientError.
  const own = nestedErrors(error).find((candidate): candidate is ProxyError => candidate instanceof ProxyError);
  if (own) return own;
  // The IdP's own words are repeated to callers, logs and /_status: scrubbed of what it was sent, and bounded.
  const throttled = throttling(source, error, scrub);
  if (throttled) return throttled;
  if (error instanceof oidc.ResponseBodyError && error.status < 500) {
    const description = error.error_description ? `: ${scrub(error.error_description)}` : '';
    return new ProxyError('TOKEN_FETCH_FAILED', `The identity provider refused the token request for "${source}" with ${scrub(error.error)}${description}`, { cause: error });
  }
  if (error instanceof oidc.WWWAuthenticateChallengeError && error.status < 500) {
    const challenge = error.cause[0]?.parameters;
    const code = challenge?.error ? scrub(challenge.error) : `HTTP ${error.status}`;
    const description = challenge?.error_description ? `: ${scrub(challenge.error_description)}` : '';
    return new ProxyError('TOKEN_FETCH_FAILED', `The identity provider refused the token request for "${source}" with ${code}${description}`, { cause: error });
  }
  const chain = nestedErrors(error);
  const tooLarge = chain.find((candidate): candidate is IdpAnswerTooLargeError => candidate instanceof IdpAnswerTooLargeError);
  if (tooLarge) {
    return new ProxyError(
      'TOKEN_FETCH_FAILED',
      `The identity provider's answer for "${source}" is larger than ${formatBytes(tooLarge.limitBytes)}; it was refused without reading the rest (a token response is a few KB).`,
      { cause: error },
    );
  }
  // oauth4webapi's own error (openid-client does not export its class) for a type it does not know at all.
  const unsupported = chain.find((candidate) => candidate.name === 'UnsupportedOperationError' && /token_type/.test(String((candidate as { message?: unknown }).message)));
  if (unsupported) return unsupportedTokenType(source, (unsupported as { cause?: { body?: { token_type?: unknown } } }).cause?.body?.token_type);
  const reason = describeFailure(error, scrub);
  return new ProxyError('TOKEN_UNAVAILABLE', `No access token for "${source}": the identity provider ${reason}.`, { cause: error });
}

/**
 * An IdP that is throttling (429, as Entra ID does) or briefly down (503) and says when to
 * come back: TOKEN_UNAVAILABLE, since it heals, and the provider waits as long as it asked.
 */
function throttling(source: string, error: unknown, scrub: Scrub): RetryLaterError | undefined {
  if (!(error instanceof oidc.ResponseBodyError) || (error.status !== 429 && error.status !== 503)) return undefined;
  const retryAfterMs = parseRetryAfter(error.response.headers.get('retry-after'), Date.now());
  if (retryAfterMs === undefined) return undefined;
  const description = error.error_description ? `: ${scrub(error.error_description)}` : '';
  return new RetryLaterError('TOKEN_UNAVAILABLE', `No access token for "${source}": the identity provider answered HTTP ${error.status} (${scrub(error.error)}${description}).`, retryAfterMs, {
    cause: error,
  });
}

/** Why an endpoint could not be reached or did not answer sensibly, in words (managed identity sources say it too). */
export function describeFailure(error: unknown, scrub: Scrub): string {
  if (error instanceof oidc.ResponseBodyError) return `failed with HTTP ${error.status} (${scrub(error.error)})`;
  const chain = nestedErrors(error);
  // A timeout arrives as a DOMException (numeric code 23) on the error or on its cause, depending on where fetch was when it fired.
  if (chain.some((candidate) => ['TimeoutError', 'AbortError'].includes(candidate.name as string))) return 'did not answer in time';
  const code = chain.map((candidate) => candidate.code).find((candidate): candidate is string => typeof candidate === 'string');
  if (code === 'ECONNREFUSED') return 'refused the connection';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name could not be resolved';
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_INVALID_RESPONSE' || code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
    return 'sent a response that is not a valid token response';
  }
  return `could not be reached (${code ?? (error instanceof Error ? error.name : 'unknown error')})`;
}

/**
 * The error, its causes and an AggregateError's errors, nearest first, a few levels deep:
 * where the errno code sits differs between Node and undici versions (error.cause.code,
 * error.cause.cause.code, or only on each of a failed Happy Eyeballs attempt's errors).
 */
function nestedErrors(error: unknown, depth = 4): Array<{ name?: unknown; code?: unknown }> {
  const found: Array<{ name?: unknown; code?: unknown; cause?: unknown; errors?: unknown }> = [];
  let level: unknown[] = [error];
  for (let i = 0; i <= depth && level.length > 0; i++) {
    const objects = level.filter((candidate): candidate is (typeof found)[number] => typeof candidate === 'object' && candidate !== null);
    found.push(...objects);
    level = objects.flatMap((candidate): unknown[] => [candidate.cause, ...(Array.isArray(candidate.errors) ? (candidate.errors as unknown[]) : [])]);
  }
  return found;
}
