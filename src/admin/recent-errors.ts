import type { Clock } from '../clock.ts';

const BUCKET_MS = 60_000;

/**
 * Error answers by code: since start, and over the last `windowMinutes` in one-minute
 * buckets, so the status page can say "3 in the last 15 minutes" without keeping a list
 * of every error.
 */
export class RecentErrors {
  readonly #total = new Map<string, number>();
  readonly #buckets: Array<{ minute: number; counts: Map<string, number> }> = [];

  constructor(
    private readonly clock: Clock,
    readonly windowMinutes = 15,
  ) {}

  record(code: string): void {
    this.#total.set(code, (this.#total.get(code) ?? 0) + 1);
    const minute = Math.floor(this.clock.now() / BUCKET_MS);
    let bucket = this.#buckets.at(-1);
    if (bucket?.minute !== minute) {
      bucket = { minute, counts: new Map() };
      this.#buckets.push(bucket);
      this.#prune(minute);
    }
    bucket.counts.set(code, (bucket.counts.get(code) ?? 0) + 1);
  }

  /** Every code seen since start: its total and its count within the window, most recent first by count. */
  summary(): Array<{ code: string; total: number; recent: number }> {
    const minute = Math.floor(this.clock.now() / BUCKET_MS);
    this.#prune(minute);
    return [...this.#total.entries()]
      .map(([code, total]) => ({ code, total, recent: this.#buckets.reduce((sum, bucket) => sum + (bucket.counts.get(code) ?? 0), 0) }))
      .sort((a, b) => b.recent - a.recent || b.total - a.total || a.code.localeCompare(b.code));
  }

  #prune(minute: number): void {
    while (this.#buckets.length > 0 && this.#buckets[0]!.minute <= minute - this.windowMinutes) this.#buckets.shift();
  }
}
