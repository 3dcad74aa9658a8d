// Liveness for every connection on one timer. A round of pings to thousands of sockets at once
// (and the pongs that come back together) would hold the event loop for milliseconds, so the
// connections are split into slices and each tick, every HEARTBEAT_TICK_MS, pings one slice.

/** How often the timer ticks; each connection is still pinged once per interval. */
export const HEARTBEAT_TICK_MS = 100;

export interface Beating {
  /** Cleared by each ping, set again by any frame or pong. */
  alive: boolean;
  /** The slice it is in, set by the heartbeat. */
  beatSlice: number;
  ping(): void;
}

/** Every open connection, in its slice; iterating it visits them all. */
export class Heartbeat<C extends Beating> implements Iterable<C> {
  private readonly slices: Set<C>[];
  private added = 0;
  private ticks = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  /** `silent` is called for a connection that did not answer its last ping, one interval ago. */
  constructor(intervalMs: number, silent: (c: C) => void) {
    const count = Math.max(1, Math.round(intervalMs / HEARTBEAT_TICK_MS));
    this.slices = Array.from({ length: count }, () => new Set<C>());
    this.timer = setInterval(() => {
      const slice = this.slices[this.ticks++ % count];
      for (const c of slice ?? []) {
        if (!c.alive) {
          silent(c);
          continue;
        }
        c.alive = false;
        c.ping();
      }
    }, intervalMs / count);
    this.timer.unref();
  }

  add(c: C): void {
    c.beatSlice = this.added++ % this.slices.length;
    this.slices[c.beatSlice]?.add(c);
  }

  delete(c: C): void {
    this.slices[c.beatSlice]?.delete(c);
  }

  *[Symbol.iterator](): Iterator<C> {
    for (const slice of this.slices) yield* slice;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
