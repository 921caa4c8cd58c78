/**
 * The token lifecycle's defaults, in one place: the config schema fills them in for every
 * source, and a TokenProvider built without options (tests, the demo) gets the same.
 */
export const DEFAULT_REFRESH_AHEAD = 0.8;
export const DEFAULT_BACKOFF_MS = { initial: 1_000, max: 60_000 } as const;
export const DEFAULT_EXPIRY_SKEW_MS = 30_000;
