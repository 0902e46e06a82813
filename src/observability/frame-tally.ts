import { Histogram, type HistogramConfiguration, type LabelValues } from 'prom-client';

/**
 * Per-frame figures of one (namespace, event): plain numbers on the hot path. prom-client
 * hashes the label set and allocates on every `inc`/`observe`, which measured about a tenth
 * of the inbound pipeline's CPU; these tallies are read into the registry at scrape time
 * instead (`TalliedHistogram`, and the counters' `collect` hooks in `RealtimeMetrics`).
 */
export class FrameTally {
  framesIn = 0;
  framesOut = 0;
  /** Counts already added to the prom-client counters by earlier scrapes. */
  reportedIn = 0;
  reportedOut = 0;

  constructor(
    readonly labels: Readonly<Record<'namespace' | 'event', string>>,
    readonly duration: DurationTally,
  ) {}
}

/** A histogram's state for one label set: per-bucket counts (not cumulative), sum, count. */
export class DurationTally {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    this.sum += seconds;
    this.count += 1;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i += 1) {
      if (seconds <= bounds[i]!) {
        this.counts[i]! += 1;
        return;
      }
    }
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** What prom-client's registry reads from a histogram: its value rows in exposition form. */
interface ExpositionRow {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  metricName?: string;
  exemplar?: null;
}

interface Exposition {
  name: string;
  help: string;
  type: string;
  values: ExpositionRow[];
  aggregator: string;
}

/**
 * A prom-client Histogram that also exposes label sets recorded through `DurationTally`
 * objects. Rows are produced in the same shape as prom-client's own (`_bucket` rows carry
 * `le` with the label set as shared labels, then `_sum` and `_count`), so the output of
 * `/metrics` is unchanged.
 */
export class TalliedHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: readonly number[];
  private readonly rowName: string;
  private readonly tallies: Array<{ labels: LabelValues<T>; tally: DurationTally }> = [];

  constructor(config: HistogramConfiguration<T> & { buckets: number[] }) {
    super(config);
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.rowName = config.name;
  }

  /** A tally for one label set; callers keep it (bounded by their own label sets). */
  tally(labels: LabelValues<T>): DurationTally {
    const tally = new DurationTally(this.bounds);
    this.tallies.push({ labels, tally });
    return tally;
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields are initialised.
    if (this.tallies === undefined) return;
    for (const { tally } of this.tallies) tally.reset();
  }

  // The one private API of a dependency in the layer (no public hook adds rows to a
  // histogram): prom-client's registry prefers this undeclared method over `get()`, and its
  // `get()` is built on it, so both text and JSON output include the tallies.
  // test/unit/frame-tally.spec.ts fails if prom-client renames it or stops calling it.
  async getForPromString(): Promise<Exposition> {
    const own = Histogram.prototype as unknown as { getForPromString(this: Histogram<T>): Promise<Exposition> };
    const base = await own.getForPromString.call(this);
    for (const { labels, tally } of this.tallies) {
      if (tally.count === 0) continue;
      const shared = labels as Record<string, string | number>;
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i += 1) {
        cumulative += tally.counts[i]!;
        base.values.push({ labels: { le: this.bounds[i]! }, sharedLabels: shared, value: cumulative, metricName: `${this.rowName}_bucket`, exemplar: null });
      }
      base.values.push(
        { labels: { le: '+Inf' }, sharedLabels: shared, value: tally.count, metricName: `${this.rowName}_bucket`, exemplar: null },
        { labels: {}, sharedLabels: shared, value: tally.sum, metricName: `${this.rowName}_sum` },
        { labels: {}, sharedLabels: shared, value: tally.count, metricName: `${this.rowName}_count` },
      );
    }
    return base;
  }
}
