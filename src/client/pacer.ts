// The page's side of the server's rate limit: a token bucket a little slower and smaller than
// the one the server keeps for the connection (its welcome frame says how big), so that the
// page never sends what the server would refuse, however long its outbox is. Every request
// takes a token, as on the server.

/** Share of the server's rate and burst the page allows itself: frames bunch up in transit. */
export const PACE_MARGIN = 0.75;
/** Before a server says its rate (an older one): well under the default of 20/s, 40 at once. */
export const FALLBACK_RATE = { ratePerSecond: 5, rateBurst: 10 };
/** After a refusal the page is quiet this long: the server's bucket is below empty. */
export const REFUSED_PAUSE_MS = 1000;

export interface Rate {
  ratePerSecond: number;
  rateBurst: number;
}

export class Pacer {
  #perMs = 0;
  #burst = 1;
  #tokens = 0;
  #last = 0;

  constructor(rate: Rate = FALLBACK_RATE, now = Date.now()) {
    this.reset(rate, now);
  }

  /** A new connection: the server's bucket for it starts full, and so does this one. */
  reset(rate: Rate, now: number): void {
    const ok = (n: number): boolean => Number.isFinite(n) && n > 0;
    const r = ok(rate.ratePerSecond) && ok(rate.rateBurst) ? rate : FALLBACK_RATE;
    this.#perMs = (r.ratePerSecond * PACE_MARGIN) / 1000;
    this.#burst = Math.max(1, Math.floor(r.rateBurst * PACE_MARGIN));
    this.#tokens = this.#burst;
    this.#last = now;
  }

  /** Takes a token and returns 0, or returns how many ms until one is there (taking none). */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs));
  }

  /** The server refused a request anyway (another tab, say): wait before the next. */
  refused(now: number): void {
    this.#refill(now);
    this.#tokens = Math.min(this.#tokens, 1 - REFUSED_PAUSE_MS * this.#perMs);
  }

  #refill(now: number): void {
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + Math.max(0, now - this.#last) * this.#perMs,
    );
    this.#last = now;
  }
}
