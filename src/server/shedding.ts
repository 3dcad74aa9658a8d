// Handshakes the server cannot take yet. After a restart every client comes back within
// seconds, and each one's resume (a name, its rooms, what it missed) is work on the event loop:
// taken all at once, it would hold every connection, and every live message, behind it. While
// the loop runs late by more than a bound, new handshakes are told when to come back instead.

/** How often the loop's lateness is sampled. */
const TICK_MS = 10;
/** The longest wait a refusal asks for. */
const MAX_RETRY_S = 10;

export interface Shedding {
  /** 0 to take a handshake now; otherwise the seconds to tell it to wait. */
  retryAfter(): number;
  /** How late the event loop runs now, in ms. */
  lagMs(): number;
  stop(): void;
}

/**
 * `boundMs` 0 never sheds. The wait asked for grows with the lag, a second per second of it:
 * a loop that far behind has at least that much queued.
 */
export function createShedding(
  boundMs: number,
  now: () => number = () => performance.now(),
): Shedding {
  let last = now();
  let lag = 0;
  const timer = setInterval(() => {
    const t = now();
    lag = Math.max(0, t - last - TICK_MS);
    last = t;
  }, TICK_MS);
  timer.unref();
  // A turn still running when a handshake is read counts as late as it is so far.
  const lagMs = () => Math.max(lag, now() - last - TICK_MS);
  return {
    lagMs,
    retryAfter() {
      if (boundMs <= 0) return 0;
      const late = lagMs();
      if (late <= boundMs) return 0;
      return Math.min(MAX_RETRY_S, 1 + Math.floor(late / 1000));
    },
    stop() {
      clearInterval(timer);
    },
  };
}
