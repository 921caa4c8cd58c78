/** The soak's readings of what it measured (bench/soak.ts), apart so a test can hold them to known inputs. */

/** Which process did a full GC and the MB of heap it left, from one `node --trace-gc` line; undefined for any other line. */
export function fullGcOf(line: string): { pid: number; afterMb: number } | undefined {
  const match = /^\[(\d+):[^\]]*\].*?Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/.exec(line);
  return match ? { pid: Number(match[1]), afterMb: Number(match[2]) } : undefined;
}

/** The slope of y over x by least squares; undefined when x does not vary. */
export function leastSquaresSlope(points: ReadonlyArray<readonly [number, number]>): number | undefined {
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return variance === 0 ? undefined : covariance / variance;
}

/** A small seeded PRNG, so a run's request mix can be repeated (`--seed`). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
