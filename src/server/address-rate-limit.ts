// HTTP requests per client address: the chat's keyed buckets (bounded, forgetting addresses that
// have refilled) with the same address grouping as the WebSocket limits, and a Retry-After.

import { KeyedBuckets, addressKey } from '../core/index.js';

export interface RateVerdict {
  ok: boolean;
  /** When refused: whole seconds until one request would be let through. */
  retryAfterSeconds: number;
}

export class AddressRateLimit {
  private readonly buckets: KeyedBuckets;

  constructor(
    perSecond: number,
    burst: number,
    private readonly now: () => number,
    maxAddresses = 100_000,
  ) {
    this.buckets = new KeyedBuckets(burst, (burst / perSecond) * 1000, maxAddresses);
  }

  get size(): number {
    return this.buckets.keys;
  }

  /** A refused request costs nothing, so a client that waits Retry-After is let through. */
  take(address: string): RateVerdict {
    const now = this.now();
    const key = addressKey(address);
    if (this.buckets.take(key, now)) return { ok: true, retryAfterSeconds: 0 };
    const waitMs = this.buckets.waitMs(key, now);
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }
}
