// The rules that keep each room's log whole: every message once and in order. A room keeps
// `lastSeq`, the highest seq seen with nothing missing below it; a live message past it leaves
// a gap, filled by paging history backwards; a page contiguous with what we have moves it up.

/** Messages asked for per history page. */
export const HISTORY_PAGE = 50;
/** How many missed messages a gap fill pages in before leaving the rest to scrolling up. */
export const GAP_FILL_MAX = 500;

/** Where a live message falls against what the room has. */
export type LiveSeq = 'seen' | 'next' | 'past-gap';

export function placeLive(lastSeq: number, seq: number): LiveSeq {
  if (seq <= lastSeq) return 'seen';
  return seq > lastSeq + 1 ? 'past-gap' : 'next';
}

/** `lastSeq` after a page of history: raised only when the page joins on to what we have. */
export function lastSeqAfterPage(
  lastSeq: number,
  seqs: { first: number; last: number } | undefined,
): number {
  if (seqs && seqs.first <= lastSeq + 1) return Math.max(lastSeq, seqs.last);
  return lastSeq;
}

/** The next page of a gap fill over after < seq < before, with `fetched` paged in so far. */
export type GapPage =
  | { kind: 'none' }
  | { kind: 'enough'; missing: number }
  | { kind: 'page'; before: number; limit: number; after: number; fetched: number };

export function nextGapPage(after: number, before: number, fetched: number): GapPage {
  const missing = before - after - 1;
  if (missing <= 0) return { kind: 'none' };
  if (fetched >= GAP_FILL_MAX) return { kind: 'enough', missing };
  const limit = Math.min(HISTORY_PAGE, missing);
  return { kind: 'page', before, limit, after, fetched: fetched + limit };
}

/** After a page of a gap fill: whether more of the gap is left below its first message. */
export function gapLeft(after: number, firstSeq: number | undefined, more: boolean): boolean {
  return firstSeq !== undefined && more && firstSeq > after + 1;
}

/** Whether the log now reaches the room's first message. */
export function atStart(oldestShown: number | undefined, more: boolean): boolean {
  return oldestShown === undefined ? !more : oldestShown <= 1;
}
