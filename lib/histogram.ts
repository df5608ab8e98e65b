/**
 * Log-scale latency histogram: constant memory whatever the run length,
 * percentiles within about 2 % of the true value.
 *
 * @module
 */

/** Smallest value resolved, in milliseconds (1 µs). Smaller values land in bucket 0. */
export const HISTOGRAM_MIN_MS = 0.001;
/** Each bucket's upper bound is this factor times the previous one. */
export const HISTOGRAM_GROWTH = 1.04;
/** Buckets needed to span 1 µs … ~1.8 h, the longest latency we resolve. */
export const HISTOGRAM_BUCKETS = Math.ceil(
  Math.log(1e7 / HISTOGRAM_MIN_MS) / Math.log(HISTOGRAM_GROWTH),
) + 1;

const LOG_GROWTH = Math.log(HISTOGRAM_GROWTH);
/** Buckets per lazily allocated page (a power of two). */
const PAGE_BITS = 5;
const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;
const PAGES = Math.ceil(HISTOGRAM_BUCKETS / PAGE_SIZE);

/**
 * The last few values and their buckets: a fan-out records the same few
 * latencies for every client of a turn (one clock reading, the same
 * messages), and a logarithm per client per message is most of a record.
 */
const MEMO_SIZE = 4;
const memoValues = new Float64Array(MEMO_SIZE).fill(-1);
const memoBuckets = new Int32Array(MEMO_SIZE);
let memoNext = 0;

/** Index of the bucket that holds `ms`. */
function bucketOf(ms: number): number {
  if (!(ms > HISTOGRAM_MIN_MS)) return 0;
  for (let k = 0; k < MEMO_SIZE; k++) {
    if (memoValues[k] === ms) return memoBuckets[k]!;
  }
  const c = Math.ceil(Math.log(ms / HISTOGRAM_MIN_MS) / LOG_GROWTH);
  const i = c < HISTOGRAM_BUCKETS ? c : HISTOGRAM_BUCKETS - 1;
  memoValues[memoNext] = ms;
  memoBuckets[memoNext] = i;
  memoNext = (memoNext + 1) % MEMO_SIZE;
  return i;
}

/** Upper bound, in ms, of bucket `i`. */
function upperBoundOf(i: number): number {
  return HISTOGRAM_MIN_MS * HISTOGRAM_GROWTH ** i;
}

/** A plain snapshot of a histogram, as reports and JSON output carry it. */
export interface LatencySummary {
  /** Values recorded. */
  count: number;
  /** Smallest value, ms (0 when empty). */
  min: number;
  /** Arithmetic mean, ms (0 when empty). */
  avg: number;
  /** Median, ms. */
  p50: number;
  /** 95th percentile, ms. */
  p95: number;
  /** 99th percentile, ms. */
  p99: number;
  /** Largest value, ms (0 when empty). */
  max: number;
}

/**
 * A copy of a histogram's bucket counts, taken by {@link Histogram.snapshot},
 * from which {@link Histogram.since} measures what was recorded afterwards.
 */
export interface HistogramSnapshot {
  /** Count per bucket. */
  readonly counts: Uint32Array;
  /** Values recorded. */
  readonly count: number;
  /** Sum of the values recorded, ms. */
  readonly sum: number;
}

/**
 * Records latencies (milliseconds) into log-scale buckets. Min, max, mean and
 * count are exact; percentiles are the bucket's upper bound clamped to the
 * observed min/max, so they over-estimate by at most {@link HISTOGRAM_GROWTH}.
 * Buckets live in pages of 32 that are allocated on first use: a client's
 * latencies span a few pages, so its two histograms cost well under 1 KiB
 * instead of 2.4 KiB each, which matters at thousands of connections.
 *
 * @example
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * const h = new Histogram();
 * for (let ms = 1; ms <= 100; ms++) h.record(ms);
 * const p50 = h.percentile(50);
 * if (p50 < 48 || p50 > 53) throw new Error(`p50 ${p50}`);
 * ```
 */
export class Histogram {
  /** Page `p` holds buckets `p * PAGE_SIZE …`; undefined until one is hit. */
  readonly #pages: (Uint32Array | undefined)[] = new Array(PAGES);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Number of values recorded. */
  get count(): number {
    return this.#count;
  }

  /** Smallest value recorded, or 0 when empty. */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  /** Largest value recorded, or 0 when empty. */
  get max(): number {
    return this.#count === 0 ? 0 : this.#max;
  }

  /** Mean of the values recorded, or 0 when empty. */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /** Sum of the values recorded, ms. */
  get sum(): number {
    return this.#sum;
  }

  /**
   * Records one value. Negative values (clock skew between hosts) count as 0.
   * @param ms the latency in milliseconds
   */
  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    const b = bucketOf(v);
    const page = this.#pages[b >>> PAGE_BITS] ??
      (this.#pages[b >>> PAGE_BITS] = new Uint32Array(PAGE_SIZE));
    page[b & PAGE_MASK]!++;
    this.#count++;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /**
   * Records `n` values of 0 at once (what {@link record} of 0, `n` times,
   * would do).
   */
  recordZeros(n: number): void {
    if (!(n > 0)) return;
    const page = this.#pages[0] ??
      (this.#pages[0] = new Uint32Array(PAGE_SIZE));
    page[0]! += n;
    this.#count += n;
    this.#min = 0;
    if (this.#max < 0) this.#max = 0;
  }

  /**
   * The value below which `q` percent of the recorded values fall.
   * @param q percentile in [0, 100]
   * @returns the estimate in ms, or 0 when the histogram is empty
   */
  percentile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((q / 100) * this.#count));
    let seen = 0;
    for (let p = 0; p < PAGES; p++) {
      const page = this.#pages[p];
      if (!page) continue;
      for (let j = 0; j < PAGE_SIZE; j++) {
        seen += page[j]!;
        if (seen >= rank) {
          const i = p * PAGE_SIZE + j;
          return Math.min(this.#max, Math.max(this.#min, upperBoundOf(i)));
        }
      }
    }
    return this.#max;
  }

  /** Adds every value recorded in `other` to this histogram. */
  merge(other: Histogram): void {
    if (other.#count === 0) return;
    for (let p = 0; p < PAGES; p++) {
      const from = other.#pages[p];
      if (!from) continue;
      const to = this.#pages[p] ??
        (this.#pages[p] = new Uint32Array(PAGE_SIZE));
      for (let j = 0; j < PAGE_SIZE; j++) to[j]! += from[j]!;
    }
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  /** Forgets every value. */
  reset(): void {
    this.#pages.fill(undefined);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
  }

  /**
   * Count of values ≤ `ms`, for exporting cumulative buckets (Prometheus).
   * Exact at bucket bounds, otherwise rounded to the enclosing bucket.
   */
  countAtOrBelow(ms: number): number {
    const last = bucketOf(ms);
    let n = 0;
    for (let p = 0; p <= last >>> PAGE_BITS; p++) {
      const page = this.#pages[p];
      if (!page) continue;
      const end = Math.min(PAGE_SIZE - 1, last - p * PAGE_SIZE);
      for (let j = 0; j <= end; j++) n += page[j]!;
    }
    return n;
  }

  /** Copies the bucket counts (≈600 numbers), to diff against later with {@link since}. */
  snapshot(): HistogramSnapshot {
    const counts = new Uint32Array(HISTOGRAM_BUCKETS);
    for (let p = 0; p < PAGES; p++) {
      const page = this.#pages[p];
      if (page) {
        counts.set(
          page.subarray(0, HISTOGRAM_BUCKETS - p * PAGE_SIZE),
          p * PAGE_SIZE,
        );
      }
    }
    return { counts, count: this.#count, sum: this.#sum };
  }

  /**
   * The values recorded since `earlier` was taken from this histogram, as a
   * new histogram: a sliding window over a cumulative histogram, the way
   * Prometheus takes quantiles of a rate. Counts and sum are exact; min and
   * max are the bounds of the outermost buckets used, so percentiles keep
   * their accuracy.
   *
   * @param earlier a {@link snapshot} of this histogram (after a reset, the
   *   buckets that shrank count as empty)
   * @returns a histogram of the values recorded since `earlier`
   * @example
   * ```ts
   * import { Histogram } from "./histogram.ts";
   * const h = new Histogram();
   * h.record(1000);
   * const before = h.snapshot();
   * h.record(5);
   * if (h.since(before).percentile(99) > 5.2) throw new Error("window");
   * ```
   */
  since(earlier: HistogramSnapshot): Histogram {
    const out = new Histogram();
    let first = -1;
    let last = -1;
    for (let p = 0; p < PAGES; p++) {
      const page = this.#pages[p];
      if (!page) continue;
      for (let j = 0; j < PAGE_SIZE; j++) {
        const i = p * PAGE_SIZE + j;
        const d = page[j]! - (earlier.counts[i] ?? 0);
        if (d <= 0) continue;
        const to = out.#pages[p] ??
          (out.#pages[p] = new Uint32Array(PAGE_SIZE));
        to[j] = d;
        out.#count += d;
        if (first < 0) first = i;
        last = i;
      }
    }
    if (out.#count === 0) return out;
    out.#sum = Math.max(0, this.#sum - earlier.sum);
    out.#min = first === 0 ? 0 : upperBoundOf(first - 1);
    out.#max = Math.min(this.#max, upperBoundOf(last));
    return out;
  }

  /** A plain snapshot: count, min, avg, p50, p95, p99, max (ms, 3 decimals). */
  summary(): LatencySummary {
    return {
      count: this.#count,
      min: round3(this.min),
      avg: round3(this.mean),
      p50: round3(this.percentile(50)),
      p95: round3(this.percentile(95)),
      p99: round3(this.percentile(99)),
      max: round3(this.max),
    };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
