// A token bucket per client address, in a map that cannot grow without bound: an address whose
// bucket has filled up again is forgotten (a fresh bucket is the same thing), and past `maxAddresses`
// the one idle longest goes first.

export interface RateVerdict {
  ok: boolean;
  /** When refused: whole seconds until one request would be let through. */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  last: number;
}

export class AddressRateLimit {
  /** Least recently used first: a Map keeps insertion order and each take re-inserts. */
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillMs: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
    private readonly maxAddresses = 100_000,
  ) {
    this.refillMs = (burst / perSecond) * 1000;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** A refused request costs nothing, so a client that waits Retry-After is let through. */
  take(address: string): RateVerdict {
    const now = this.now();
    this.forgetIdle(now);
    const b = this.buckets.get(address);
    let tokens = this.burst;
    if (b) {
      tokens = Math.min(this.burst, b.tokens + ((now - b.last) / 1000) * this.perSecond);
      this.buckets.delete(address);
    }
    const ok = tokens >= 1;
    if (ok) tokens -= 1;
    this.buckets.set(address, { tokens, last: now });
    if (this.buckets.size > this.maxAddresses) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return {
      ok,
      retryAfterSeconds: ok ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.perSecond)),
    };
  }

  private forgetIdle(now: number): void {
    for (const [address, b] of this.buckets) {
      if (now - b.last < this.refillMs) return;
      this.buckets.delete(address);
    }
  }
}
