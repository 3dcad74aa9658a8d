// Latency histograms for the instance scenario: log-linear buckets of microseconds (64 per
// power of two, about 1.5% wide), so that millions of deliveries cost a fixed array, and the
// load generators' histograms add up.

const SUB = 64;
const SUB_BITS = 6;
/** Up to 2^31 µs (about 36 minutes). */
export const BUCKETS = SUB + (31 - SUB_BITS) * SUB;

export function bucketOf(us: number): number {
  const v = us < 0 ? 0 : Math.min(Math.floor(us), 2 ** 31 - 1);
  if (v < SUB) return v;
  const e = 31 - Math.clz32(v);
  return SUB + (e - SUB_BITS) * SUB + ((v >>> (e - SUB_BITS)) & (SUB - 1));
}

/** The middle of a bucket, in µs. */
export function bucketValue(i: number): number {
  if (i < SUB) return i;
  const e = Math.floor((i - SUB) / SUB) + SUB_BITS;
  const lo = (SUB + ((i - SUB) % SUB)) * 2 ** (e - SUB_BITS);
  return lo + 2 ** (e - SUB_BITS) / 2;
}

export class Histogram {
  counts = new Float64Array(BUCKETS);
  n = 0;

  add(us: number): void {
    const b = bucketOf(us);
    this.counts[b] = (this.counts[b] ?? 0) + 1;
    this.n++;
  }

  merge(counts: ArrayLike<number>): void {
    for (let i = 0; i < BUCKETS; i++) {
      const c = counts[i] ?? 0;
      this.counts[i] = (this.counts[i] ?? 0) + c;
      this.n += c;
    }
  }

  clear(): void {
    this.counts.fill(0);
    this.n = 0;
  }

  /** The q-quantile (0..1) in ms; NaN when empty. */
  quantileMs(q: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return bucketValue(i) / 1000;
    }
    return NaN;
  }

  /** The counts as a short list of [bucket, count] pairs (for IPC and the JSON results). */
  sparse(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i] ?? 0;
      if (c > 0) out.push([i, c]);
    }
    return out;
  }

  static fromSparse(pairs: [number, number][]): Histogram {
    const h = new Histogram();
    for (const [i, c] of pairs) {
      h.counts[i] = (h.counts[i] ?? 0) + c;
      h.n += c;
    }
    return h;
  }
}
