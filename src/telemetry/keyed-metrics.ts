import { format } from 'node:util';
import type { Metric, Registry } from 'prom-client';

/**
 * Counters and histograms for the per-request path, kept in our own structures and
 * handed to prom-client only at scrape time.
 *
 * Why hand-written: prom-client 15 hashes and validates the label object on every
 * inc()/observe() (hashObject over the sorted label names, validateLabel), measured at
 * ~0.5 µs per Counter.inc with 4 labels and ~1 µs per Histogram.observe with 5 labels
 * (CPU time, median of 7 rounds of 300k calls); a request makes 8-10 such calls. A key
 * made by joining the label values (with NUL) was still ~0.4 µs a call, nearly all of it
 * V8 flattening and hashing the new string. So a series is found by walking a small tree
 * with one Map per label, keyed by each label value in turn: those are strings the
 * gateway already holds (config ids, closed sets), whose hashes V8 keeps, so an existing
 * series costs a few Map lookups and no allocation. The label object is built once, when
 * the series first appears.
 *
 * prom-client stays the registry and the exposition format: these objects are
 * registered with Registry.registerMetric and answer get() in the shape prom-client's
 * own Counter and Histogram return, so /metrics renders the same text
 * (test/telemetry/metrics-equivalence.test.ts pins it against plain prom-client).
 *
 * Label values are passed positionally, in the order the labels should appear in each
 * exposition line (which is the order labelNames gives); one to five of them.
 */

type LabelSet = Record<string, string | number>;

interface ExportedValue {
  readonly value: number;
  readonly labels: LabelSet;
  readonly metricName?: string;
}

interface Exported {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: ExportedValue[];
  readonly aggregator: 'sum';
}

/** One level of the label tree; the node reached by the last label value holds the series. */
class LabelNode<S> {
  readonly children = new Map<string, LabelNode<S>>();
  series: S | undefined = undefined;

  child(value: string): LabelNode<S> {
    let n = this.children.get(value);
    if (n === undefined) {
      n = new LabelNode<S>();
      this.children.set(value, n);
    }
    return n;
  }
}

abstract class KeyedMetric<S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  /** Series in the order they first appeared, which is the order prom-client would list them. */
  protected readonly series: S[] = [];
  #root = new LabelNode<S>();
  readonly #labelNames: readonly string[];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    if (labelNames.length < 1 || labelNames.length > 5) throw new Error(`${name}: 1 to 5 label names`);
    this.name = name;
    this.help = help;
    this.#labelNames = labelNames;
    // The typings name only prom-client's own classes; the registry itself needs just
    // name, get() and reset(), which this class provides.
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values, made by create() the first time they are seen. */
  protected find(create: (labels: LabelSet) => S, v0: string, v1?: string, v2?: string, v3?: string, v4?: string): S {
    let n = this.#root.child(v0);
    if (v1 !== undefined) {
      n = n.child(v1);
      if (v2 !== undefined) {
        n = n.child(v2);
        if (v3 !== undefined) {
          n = n.child(v3);
          if (v4 !== undefined) n = n.child(v4);
        }
      }
    }
    if (n.series !== undefined) return n.series;
    const s = create(this.#labelsOf([v0, v1, v2, v3, v4]));
    n.series = s;
    this.series.push(s);
    return s;
  }

  #labelsOf(values: readonly (string | undefined)[]): LabelSet {
    const names = this.#labelNames;
    // A missing or extra value would make a series prom-client could never have had.
    if (values.some((v, i) => (v === undefined) !== (i >= names.length))) throw new Error(`${this.name}: expected values for ${names.join(', ')}`);
    const labels: LabelSet = {};
    names.forEach((n, i) => {
      labels[n] = values[i] as string;
    });
    return labels;
  }

  reset(): void {
    this.series.length = 0;
    this.#root = new LabelNode<S>();
  }

  abstract get(): Promise<Exported>;
}

interface CounterSeries {
  readonly labels: LabelSet;
  value: number;
}

export class KeyedCounter extends KeyedMetric<CounterSeries> {
  readonly type = 'counter' as const;

  /** Adds value (prom-client's checks: finite, not negative) to the series of these label values. */
  inc(value: number, v0: string, v1?: string, v2?: string, v3?: string, v4?: string): void {
    if (value && !Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${format(value)}`);
    if (value < 0) throw new Error('It is not possible to decrease a counter');
    this.find(newCounterSeries, v0, v1, v2, v3, v4).value += value;
  }

  async get(): Promise<Exported> {
    const values: ExportedValue[] = [];
    for (const s of this.series) values.push({ value: s.value, labels: { ...s.labels } });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

function newCounterSeries(labels: LabelSet): CounterSeries {
  return { labels, value: 0 };
}

interface HistogramSeries {
  readonly labels: LabelSet;
  /** Observations per bucket, not cumulative; above the last bound only count grows. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class KeyedHistogram extends KeyedMetric<HistogramSeries> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    if (labelNames.includes('le')) throw new Error('le is a reserved label keyword');
    super(registry, name, help, labelNames);
    this.#bounds = [...buckets];
  }

  readonly #newSeries = (labels: LabelSet): HistogramSeries => ({ labels, counts: new Float64Array(this.#bounds.length), sum: 0, count: 0 });

  /** Counts value in the first bucket whose bound is >= value (le is inclusive), as prom-client does. */
  observe(value: number, v0: string, v1?: string, v2?: string, v3?: string, v4?: string): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${format(value)}`);
    const s = this.find(this.#newSeries, v0, v1, v2, v3, v4);
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.sum += value;
    s.count += 1;
    if (i < bounds.length) s.counts[i] = (s.counts[i] as number) + 1;
  }

  /** prom-client's histogram shape: cumulative _bucket lines with le first, then +Inf, _sum, _count. */
  async get(): Promise<Exported> {
    const bucket = `${this.name}_bucket`;
    const sum = `${this.name}_sum`;
    const count = `${this.name}_count`;
    const values: ExportedValue[] = [];
    for (const s of this.series) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: sum });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
