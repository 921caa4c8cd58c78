import * as oidc from 'openid-client';
import type { Clock } from '../clock.ts';
import type { FetchFunction } from '../http/transport.ts';
import type { TokenSourceConfig } from '../config/schema.ts';
import { ProxyError } from '../errors.ts';
import { basicCredentials, createScrub, type Scrub } from '../http/scrub.ts';
import { boundedFetch, formatBytes, IdpAnswerTooLargeError } from './bounded-fetch.ts';
import { tokenLifetimeMs } from './lifetime.ts';
import { loadSigningKey } from './private-key.ts';
import type { AccessToken, TokenSource } from './token.ts';
import { refuseUnusableToken, unsupportedTokenType } from './usable-token.ts';


export interface ClientCredentialsDeps {
  clock: Clock;
  /** Every IdP request goes through this (openid-client's customFetch seam). */
  fetch?: FetchFunction;
}

/** The OAuth2 client_credentials grant through openid-client, by token URL or by OIDC discovery. */
export function createClientCredentialsSource(name: string, config: TokenSourceConfig, deps: ClientCredentialsDeps): TokenSource {
  let configuration: Promise<oidc.Configuration> | undefined;
  // What the IdP was sent that it must not be quoted back: the secret, and each client assertion signed.
  const sent: SentCredentials = { assertion: undefined };
  const resolveConfiguration = (): Promise<oidc.Configuration> => {
    configuration ??= buildConfiguration(config, deps, sent).catch((error: unknown) => {
      configuration = undefined; // a failed discovery is retried on the next fetch
      throw error;
    });
    return configuration;
  };
  const parameters = grantParameters(config);

  return {
    name,
    async fetchToken() {
      try {
        const response = await oidc.clientCredentialsGrant(await resolveConfiguration(), parameters);
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
        throw classifyTokenError(name, error, createScrub([config.clientSecret, ...(config.clientSecret ? basicCredentials(config.clientId, config.clientSecret) : []), sent.assertion]));
      }
    },
  };
}

interface SentCredentials {
  assertion: string | undefined;
}

async function buildConfiguration(config: TokenSourceConfig, deps: ClientCredentialsDeps, sent: SentCredentials): Promise<oidc.Configuration> {
  const auth = await clientAuthentication(config, sent);
  const execute = config.allowInsecure ? [oidc.allowInsecureRequests] : [];
  // Every IdP answer, discovery included, is read through the size limit.
  const fetch = boundedFetch(deps.fetch ?? globalThis.fetch) as oidc.CustomFetch;
  const configure = (configuration: oidc.Configuration): oidc.Configuration => {
    configuration[oidc.customFetch] = fetch;
    configuration.timeout = config.timeout / 1000;
    return configuration;
  };
  if (config.issuer) {
    return await oidc
      .discovery(new URL(config.issuer), config.clientId, undefined, auth, {
        execute,
        timeout: config.timeout / 1000,
        [oidc.customFetch]: fetch,
      })
      .then(configure);
  }
  const tokenUrl = new URL(config.tokenUrl!);
  // openid-client needs an issuer even without discovery; the token URL's origin stands in.
  const configuration = new oidc.Configuration({ issuer: tokenUrl.origin, token_endpoint: tokenUrl.href }, config.clientId, undefined, auth);
  for (const step of execute) step(configuration);
  return configure(configuration);
}

async function clientAuthentication(config: TokenSourceConfig, sent: SentCredentials): Promise<oidc.ClientAuth> {
  if (config.authMethod === 'client_secret_basic') return oidc.ClientSecretBasic(config.clientSecret!);
  if (config.authMethod === 'client_secret_post') return oidc.ClientSecretPost(config.clientSecret!);
  const { key, kid, alg, ...thumbprints } = await loadSigningKey(config.privateKey!, { keyId: config.keyId, certificate: config.certificate });
  // openid-client addresses the assertion to the issuer; Entra ID, Okta and Keycloak expect the
  // token endpoint (RFC 7523 allows either), so that is the default and assertionAudience overrides it.
  return async (as, client, body, headers) => {
    await oidc.PrivateKeyJwt(kid ? { key, kid } : key, {
      [oidc.modifyAssertion]: (header, payload) => {
        Object.assign(header, thumbprints, { alg });
        payload.aud = config.assertionAudience ?? as.token_endpoint ?? as.issuer;
      },
    })(as, client, body, headers);
    sent.assertion = body.get('client_assertion') ?? undefined;
  };
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
  // The IdP's own words are repeated to callers, logs and /_status: scrubbed of what it was sent, and bounded.
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
    return new ProxyError('TOKEN_FETCH_FAILED', `The identity provider's answer for "${source}" is larger than ${formatBytes(tooLarge.limitBytes)}; it was refused without reading the rest (a token response is a few KB).`, { cause: error });
  }
  // oauth4webapi's own error (openid-client does not export its class) for a type it does not know at all.
  const unsupported = chain.find((candidate) => candidate.name === 'UnsupportedOperationError' && /token_type/.test(String((candidate as { message?: unknown }).message)));
  if (unsupported) return unsupportedTokenType(source, (unsupported as { cause?: { body?: { token_type?: unknown } } }).cause?.body?.token_type);
  const reason = describeFailure(error, scrub);
  return new ProxyError('TOKEN_UNAVAILABLE', `No access token for "${source}": the identity provider ${reason}.`, { cause: error });
}

function describeFailure(error: unknown, scrub: Scrub): string {
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
    level = objects.flatMap((candidate) => [candidate.cause, ...(Array.isArray(candidate.errors) ? candidate.errors : [])]);
  }
  return found;
}
