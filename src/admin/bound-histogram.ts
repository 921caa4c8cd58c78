/** One exposition line's worth, in the shape prom-client's registry reads from metric.get(). */
interface Sample {
  metricName: string;
  labels: Record<string, string>;
  value: number;
}

interface Series {
  /** Observations per bucket, not cumulative; the last is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram with one label whose series are bound once, for the per-request
 * path. prom-client's Histogram hashes the label set on every observe, even through
 * labels(); here an observation is a bucket search and three additions. The registry
 * reads it like any prom-client metric (name, help, type, get()).
 */
export class BoundHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly buckets: readonly number[],
  ) {}

  /** The observe function of one label value; binding it again gives the same series. */
  bind(labelValue: string): (value: number) => void {
    let series = this.#series.get(labelValue);
    if (!series) this.#series.set(labelValue, (series = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }));
    const { buckets } = this;
    const target = series;
    return (value) => {
      let index = 0;
      while (index < buckets.length && value > buckets[index]!) index++;
      target.counts[index]!++;
      target.sum += value;
      target.count++;
    };
  }

  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] } {
    const values: Sample[] = [];
    for (const [labelValue, series] of this.#series) {
      // As prom-client does: a series shows once it has an observation.
      if (series.count === 0) continue;
      let cumulative = 0;
      const le = [...this.buckets.map(String), '+Inf'];
      le.forEach((bound, index) => {
        cumulative += series.counts[index]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, [this.labelName]: labelValue }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.labelName]: labelValue }, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.labelName]: labelValue }, value: series.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  reset(): void {
    for (const series of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
