/** Milliseconds since the epoch; injected so tests move time instead of sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * An instant as ISO 8601 for logs and pages, or a plain description when no Date can hold it
 * (toISOString throws a RangeError beyond ±8.64e15 ms, which must never end a request or the process).
 */
export function formatInstant(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `(not a valid time: ${String(ms)})` : date.toISOString();
}
