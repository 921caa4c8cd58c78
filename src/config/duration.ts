const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from a number of seconds or a string like "500ms", "30s", "10m", "1h", "90" (seconds). */
export function parseDuration(value: number | string): number | undefined {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    ms = Math.round(value * 1000);
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
    if (!match) return undefined;
    ms = Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 's']!);
  }
  // Below half a millisecond rounds to 0, which is no timeout at all: refused like 0 itself.
  return ms > 0 ? ms : undefined;
}
