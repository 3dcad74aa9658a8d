// A token bucket on the injected clock: no timers. Going on after being refused digs the bucket
// below zero; at minus a full bucket the connection has earned a policy close.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** 'ok' to serve, 'refuse' to refuse with an error, 'close' when refusals went on too long. */
  take(now: number): 'ok' | 'refuse' | 'close' {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 'ok';
    return this.tokens <= -this.burst ? 'close' : 'refuse';
  }
}
