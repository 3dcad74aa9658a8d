// Token buckets per key (a client address), on the injected clock: they outlive connections,
// so reconnecting never refills one. The table is bounded: a bucket that has refilled is the
// same as no bucket and is dropped, and past the bound the least recently used one goes.

interface Entry {
  tokens: number;
  last: number;
}

export class KeyedBuckets {
  private readonly entries = new Map<string, Entry>();
  private readonly perMs: number;

  constructor(
    /** Tokens added per `periodMs`, and the most a bucket holds. */
    private readonly size: number,
    periodMs: number,
    private readonly maxKeys: number,
  ) {
    this.perMs = size / periodMs;
  }

  /** Takes `cost` tokens from the key's bucket if it holds them; false (and nothing taken) if not. */
  take(key: string, now: number, cost = 1): boolean {
    const e = this.refilled(key, now);
    if (e.tokens < cost) return false;
    e.tokens -= cost;
    return true;
  }

  /**
   * Takes `cost` tokens even past empty, down to minus a full bucket: for work whose cost is
   * known only once done. The key then waits (`waitMs`) until its debt is paid.
   */
  charge(key: string, now: number, cost: number): void {
    const e = this.refilled(key, now);
    e.tokens = Math.max(-this.size, e.tokens - cost);
  }

  /** Gives back tokens taken for something that turned out not to count. */
  give(key: string, now: number, cost = 1): void {
    const e = this.refilled(key, now);
    e.tokens = Math.min(this.size, e.tokens + cost);
  }

  /** Milliseconds until the key's bucket holds `cost` tokens (0 if it does now). */
  waitMs(key: string, now: number, cost = 1): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    const tokens = Math.min(this.size, e.tokens + (now - e.last) * this.perMs);
    return tokens >= cost ? 0 : Math.ceil((cost - tokens) / this.perMs);
  }

  get keys(): number {
    return this.entries.size;
  }

  private refilled(key: string, now: number): Entry {
    let e = this.entries.get(key);
    if (e) {
      e.tokens = Math.min(this.size, e.tokens + Math.max(0, now - e.last) * this.perMs);
      e.last = now;
      // Re-inserted, so the Map's order is least recently used first.
      this.entries.delete(key);
    } else {
      this.sweep(now);
      e = { tokens: this.size, last: now };
    }
    this.entries.set(key, e);
    return e;
  }

  /** Drops the oldest buckets that have refilled, and the oldest of all past the bound. */
  private sweep(now: number): void {
    let checked = 0;
    for (const [key, e] of this.entries) {
      const full = e.tokens + (now - e.last) * this.perMs >= this.size;
      if (full || this.entries.size >= this.maxKeys) this.entries.delete(key);
      else if (++checked >= 2) break;
    }
  }
}
