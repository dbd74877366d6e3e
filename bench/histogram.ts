/**
 * An HDR-like latency histogram with fixed buckets (microseconds), so recording never allocates and a worker's
 * histogram can be shipped to the main thread and merged exactly.
 *
 * Values below 128 get one bucket each; above, every power of two is split into 64 linear sub-buckets, so a reported
 * percentile is at most 1/64 (1.6 %) above the true value. Values are clamped to [0, 2^32 - 1] µs (71 minutes).
 */

const SUB_BITS = 7; // 128 exact buckets, then 64 sub-buckets per power of two
const SUB_COUNT = 1 << SUB_BITS;
const HALF = SUB_COUNT >> 1;
const MAX_VALUE = 0xffffffff;
export const BUCKETS = SUB_COUNT + (32 - SUB_BITS) * HALF;

/** The bucket a value (µs, integer) falls into. */
export function bucketOf(value: number): number {
  if (value < SUB_COUNT) return value < 0 ? 0 : value;
  const v = value > MAX_VALUE ? MAX_VALUE : value >>> 0;
  const shift = 32 - Math.clz32(v) - SUB_BITS; // v >>> shift lands in [64, 127]
  return SUB_COUNT + (shift - 1) * HALF + ((v >>> shift) - HALF);
}

/** The highest value that falls into a bucket (what HDR calls the highest equivalent value). */
export function bucketHigh(index: number): number {
  if (index < SUB_COUNT) return index;
  const shift = Math.floor((index - SUB_COUNT) / HALF) + 1;
  const sub = ((index - SUB_COUNT) % HALF) + HALF;
  return (sub + 1) * 2 ** shift - 1;
}

/** The plain data of a histogram: what crosses a thread boundary and goes into the JSON results. */
export interface HistogramData {
  counts: Float64Array;
  count: number;
  min: number;
  max: number;
  sum: number;
}

export class Histogram implements HistogramData {
  // Float64 rather than Uint32: a long run at millions of deliveries per second overflows 32-bit counters.
  counts = new Float64Array(BUCKETS);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  record(valueUs: number): void {
    const v = valueUs < 0 ? 0 : Math.round(valueUs);
    const i = bucketOf(v);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(other: HistogramData): void {
    const c = other.counts;
    for (let i = 0; i < BUCKETS; i++) {
      const n = c[i] ?? 0;
      if (n !== 0) this.counts[i] = (this.counts[i] ?? 0) + n;
    }
    this.count += other.count;
    this.sum += other.sum;
    if (other.count > 0) {
      if (other.min < this.min) this.min = other.min;
      if (other.max > this.max) this.max = other.max;
    }
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = 0;
    this.sum = 0;
  }

  /** The value at or below which `p` percent of the recorded values lie (0 when empty). */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(bucketHigh(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** A copy that can be posted to another thread. */
  snapshot(): HistogramData {
    return { counts: this.counts.slice(), count: this.count, min: this.min, max: this.max, sum: this.sum };
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    h.merge(data);
    return h;
  }
}

/** The percentiles every scenario reports, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  samples: number;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    p50: ms(h.percentile(50)),
    p90: ms(h.percentile(90)),
    p99: ms(h.percentile(99)),
    max: ms(h.count === 0 ? 0 : h.max),
    mean: ms(h.mean()),
    samples: h.count,
  };
}
