/**
 * Interleaved rounds: A B C D, A B C D, … so that drift on a shared machine (other load,
 * thermal, page cache, a neighbour's build) hits every system alike instead of whichever
 * ran last; then the median of each system's rounds, and its spread as the harness's noise.
 */

export async function interleave<S extends { key: string }, T>(systems: readonly S[], rounds: number, measure: (system: S, round: number) => Promise<T>): Promise<Map<string, T[]>> {
  const results = new Map<string, T[]>(systems.map((system) => [system.key, []]));
  for (let round = 0; round < rounds; round++) {
    for (const system of systems) results.get(system.key)!.push(await measure(system, round));
  }
  return results;
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** (max − min) / median in percent: how far apart the same system's rounds landed. */
export function spread(values: readonly number[]): number {
  if (values.length < 2) return Number.NaN;
  return ((Math.max(...values) - Math.min(...values)) / median(values)) * 100;
}
