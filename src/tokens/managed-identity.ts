import type { Clock } from '../clock.ts';
import type { TokenSourceConfig } from '../config/schema.ts';
import { ProxyError } from '../errors.ts';
import { createScrub, type Scrub } from '../http/scrub.ts';
import type { FetchFunction } from '../http/transport.ts';
import { readArcChallengeKey } from './arc-challenge.ts';
import { boundedFetch } from './bounded-fetch.ts';
import { classifyTokenError, describeFailure } from './client-credentials.ts';
import { tokenLifetimeMs } from './lifetime.ts';
import { chooseEndpoint, tokenRequestUrl, type IdentityEndpoint } from './managed-identity-endpoints.ts';
import { parseRetryAfter, RetryLaterError, type AccessToken, type TokenSource } from './token.ts';
import { refuseUnusableToken } from './usable-token.ts';

export interface ManagedIdentityDeps {
  clock: Clock;
  /** Reaches the endpoint directly, never through the outbound proxy (the factory sees to it). */
  fetch?: FetchFunction | undefined;
  /** IDENTITY_ENDPOINT, IDENTITY_HEADER, IMDS_ENDPOINT, AZURE_POD_IDENTITY_AUTHORITY_HOST (and ProgramData on Windows, for Arc). */
  env: Readonly<Record<string, string | undefined>>;
  /** Where the Azure Arc agent writes challenge keys, unless the config names a directory. */
  platform?: NodeJS.Platform;
}

/**
 * Azure managed identity: a token for `managedIdentity.resource` from the platform the proxy
 * runs on, with no secret in the config. One GET per fetch (two on Arc, whose first answer
 * is a challenge); caching, refresh-ahead and backoff are the provider's as for any source.
 * Statuses that may heal (429, 5xx, IMDS's 404/410 while it updates) are TOKEN_UNAVAILABLE,
 * a 429's Retry-After is honoured; a refusal is TOKEN_FETCH_FAILED.
 */
export function createManagedIdentitySource(name: string, config: TokenSourceConfig, deps: ManagedIdentityDeps): TokenSource {
  const identity = config.managedIdentity!;
  const choice = chooseEndpoint(identity, deps.env);
  if ('unsupported' in choice) return failing(name, `managed identity (${choice.platform}, not supported)`, choice.unsupported);
  const { endpoint } = choice;
  const userAssigned = (['clientId', 'objectId', 'resourceId'] as const).find((key) => identity[key] !== undefined);
  if (endpoint.platform === 'Azure Arc' && userAssigned) {
    return failing(name, 'managed identity (Azure Arc)', `Azure Arc servers have only the system-assigned identity: remove managedIdentity.${userAssigned}`);
  }
  const fetch = boundedFetch(deps.fetch ?? globalThis.fetch);
  const url = tokenRequestUrl(endpoint, identity);
  const where = `${endpoint.platform} at ${endpoint.url}`;
  const arcKeyDirectory = identity.arcKeyDirectory ?? defaultArcKeyDirectory(deps.platform ?? process.platform, deps.env);

  const send = (headers: Record<string, string>) =>
    // No redirects: a Location elsewhere would take the identity header with it.
    fetch(url, { headers: { accept: 'application/json', ...endpoint.headers, ...headers }, redirect: 'error', signal: AbortSignal.timeout(config.timeout) });

  return {
    name,
    kind: `managed identity (${endpoint.platform})`,
    async fetchToken() {
      const secrets = [...endpoint.secrets];
      const scrub = () => createScrub(secrets);
      try {
        let response = await send({});
        if (endpoint.platform === 'Azure Arc' && response.status === 401) {
          const key = await readArcChallengeKey(name, response.headers.get('www-authenticate'), arcKeyDirectory, scrub());
          secrets.push(key, Buffer.from(key).toString('base64'));
          response = await send({ authorization: `Basic ${key}` });
        }
        return await tokenFrom(name, response, endpoint, config, deps.clock, scrub());
      } catch (error) {
        if (error instanceof ProxyError) throw error;
        const classified = classifyTokenError(name, error, scrub());
        // Too large (an answer cut off without being read) is classified by the shared rules; the rest is about reaching the endpoint.
        if (classified.code === 'TOKEN_FETCH_FAILED') throw classified;
        throw new ProxyError('TOKEN_UNAVAILABLE', `No access token for "${name}": the managed identity endpoint (${where}) ${describeFailure(error, scrub())}${hint(endpoint)}.`, { cause: error });
      }
    },
  };
}

/** A source that cannot work on this machine says why on every fetch (check, /_status and requests all show it). */
function failing(name: string, kind: string, reason: string): TokenSource {
  return { name, kind, fetchToken: () => Promise.reject(new ProxyError('TOKEN_FETCH_FAILED', `No access token for "${name}": ${reason}.`)) };
}

async function tokenFrom(name: string, response: Response, endpoint: IdentityEndpoint, config: TokenSourceConfig, clock: Clock, scrub: Scrub): Promise<AccessToken> {
  const text = await response.text();
  const body = parseJson(text);
  if (!response.ok) throw refusal(name, response, endpoint, body, clock, scrub);
  if (!body || typeof body.access_token !== 'string' || body.access_token === '') {
    throw new ProxyError('TOKEN_UNAVAILABLE', `No access token for "${name}": the managed identity endpoint (${endpoint.platform}) sent a response that is not a token response.`);
  }
  // Every platform issues Bearer tokens and says so; one that says nothing is taken at that word.
  const tokenType = typeof body.token_type === 'string' ? body.token_type : 'Bearer';
  refuseUnusableToken(name, { access_token: body.access_token, token_type: tokenType });
  const obtainedAt = clock.now();
  const lifetimeMs = tokenLifetimeMs({ expires_in: body.expires_in, expires_on: body.expires_on }, obtainedAt, { defaultMs: config.defaultExpiresIn, maxMs: config.maxLifetime });
  return { value: body.access_token, tokenType: tokenType.toLowerCase(), obtainedAt, expiresAt: obtainedAt + lifetimeMs };
}

/**
 * IMDS answers errors as {error, error_description}; App Service and Arc as {statusCode,
 * message} or {error: {code, message}}. Their words are scrubbed and bounded like an IdP's.
 */
function refusal(name: string, response: Response, endpoint: IdentityEndpoint, body: Record<string, unknown> | undefined, clock: Clock, scrub: Scrub): ProxyError {
  const said = describeBody(body, scrub);
  const status = response.status;
  const mayHeal = status === 429 || status >= 500 || status === 404 || status === 408 || status === 410;
  if (!mayHeal) {
    return new ProxyError('TOKEN_FETCH_FAILED', `The managed identity endpoint (${endpoint.platform}) refused the token request for "${name}" with HTTP ${status}${said}`);
  }
  const message = `No access token for "${name}": the managed identity endpoint (${endpoint.platform}) answered HTTP ${status}${said}`;
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers.get('retry-after'), clock.now()) : undefined;
  return retryAfterMs === undefined ? new ProxyError('TOKEN_UNAVAILABLE', message) : new RetryLaterError('TOKEN_UNAVAILABLE', message, retryAfterMs);
}

function describeBody(body: Record<string, unknown> | undefined, scrub: Scrub): string {
  if (!body) return '';
  const nested = typeof body.error === 'object' && body.error !== null ? (body.error as Record<string, unknown>) : undefined;
  const code = typeof body.error === 'string' ? body.error : typeof nested?.code === 'string' ? nested.code : undefined;
  const description = [body.error_description, body.message, body.Message, nested?.message].find((candidate): candidate is string => typeof candidate === 'string');
  const words = [code, description].filter(Boolean).join(': ');
  return words ? ` (${scrub(words)})` : '';
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** IMDS answers only on Azure VMs; elsewhere 169.254.169.254 goes unanswered until the timeout. */
function hint(endpoint: IdentityEndpoint): string {
  return endpoint.platform === 'IMDS' ? ' (IMDS exists only on Azure VMs and scale sets with a managed identity assigned)' : '';
}

/** Where the Azure Connected Machine agent writes its challenge keys (the Azure SDKs accept no other place). */
export function defaultArcKeyDirectory(platform: NodeJS.Platform, env: Readonly<Record<string, string | undefined>>): string {
  return platform === 'win32' ? `${env.ProgramData ?? 'C:\\ProgramData'}\\AzureConnectedMachineAgent\\Tokens` : '/var/opt/azcmagent/tokens';
}
