/** The longest token lifetime believed by default (maxLifetime): tokens for client credentials live minutes to hours. */
export const DEFAULT_MAX_LIFETIME_MS = 24 * 3_600_000;

export interface LifetimeLimits {
  /** Assumed when the IdP says nothing usable. */
  defaultMs: number;
  /** Never believed beyond this. */
  maxMs: number;
}

/**
 * How long a token may be used, from expires_in (seconds; openid-client already turns
 * Azure AD v1's string into a number), else expires_on (Azure AD v1 and managed identity
 * endpoints: epoch seconds, as a number or a string, or a date string such as App Service's
 * older "09/14/2017 00:00:00 PM +00:00"), else the configured default; always finite and at
 * most maxMs. An IdP saying
 * `expires_in: 1e15` would otherwise leave an expiry no Date can hold (toISOString throws)
 * and a token that is never renewed, even after the IdP revoked it.
 */
export function tokenLifetimeMs(response: { expires_in?: unknown; expires_on?: unknown }, now: number, limits: LifetimeLimits): number {
  return Math.min(announcedLifetimeMs(response, now) ?? limits.defaultMs, limits.maxMs);
}

function announcedLifetimeMs(response: { expires_in?: unknown; expires_on?: unknown }, now: number): number | undefined {
  const expiresIn = Number(response.expires_in);
  if (response.expires_in !== undefined && Number.isFinite(expiresIn) && expiresIn > 0) return expiresIn * 1000;
  const expiresAt = instantOf(response.expires_on);
  return expiresAt !== undefined && expiresAt > now ? expiresAt - now : undefined;
}

/** Epoch milliseconds of an expires_on: epoch seconds (number or digits), else a date string. */
function instantOf(expiresOn: unknown): number | undefined {
  if (typeof expiresOn === 'number') return Number.isFinite(expiresOn) ? expiresOn * 1000 : undefined;
  if (typeof expiresOn !== 'string' || expiresOn.trim() === '') return undefined;
  const seconds = Number(expiresOn);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const parsed = Date.parse(expiresOn);
  return Number.isFinite(parsed) ? parsed : undefined;
}
