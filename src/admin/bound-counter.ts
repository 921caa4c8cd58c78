/** One exposition line's worth, in the shape prom-client's registry reads from metric.get(). */
interface Sample {
  labels: Record<string, string>;
  value: number;
}

interface Series {
  readonly labels: Record<string, string>;
  value: number;
  /** Shown once counted, as prom-client shows a series once it was incremented. */
  counted: boolean;
}

/**
 * A Prometheus counter whose series are bound once, for the per-request path: prom-client's
 * Counter hashes and validates the label set on every inc, even through labels(). Here an
 * increment is one addition. The registry reads it like any prom-client metric.
 */
export class BoundCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {}

  /** The increment function of one label set, values in the order of the label names; binding it again gives the same series. */
  bind(...labelValues: string[]): (by?: number) => void {
    if (labelValues.length !== this.labelNames.length) throw new Error(`${this.name} has labels ${this.labelNames.join(', ')}; got ${labelValues.length} values`);
    const key = labelValues.join('\0');
    let series = this.#series.get(key);
    if (!series) this.#series.set(key, (series = { labels: Object.fromEntries(this.labelNames.map((name, at) => [name, labelValues[at]!])), value: 0, counted: false }));
    const target = series;
    return (by = 1) => {
      target.value += by;
      target.counted = true;
    };
  }

  get(): { name: string; help: string; type: 'counter'; aggregator: 'sum'; values: Sample[] } {
    const values: Sample[] = [];
    for (const series of this.#series.values()) if (series.counted) values.push({ labels: { ...series.labels }, value: series.value });
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values };
  }

  reset(): void {
    for (const series of this.#series.values()) {
      series.value = 0;
      series.counted = false;
    }
  }
}
