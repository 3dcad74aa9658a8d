// The rules that keep each room's log whole: every message once and in order. A room keeps
// `lastSeq`, the highest seq seen with nothing missing below it; a live message past it leaves
// a gap, filled by paging history backwards; a page contiguous with what we have moves it up.

import type { ChatMessage, HistoryRequest } from '../protocol/index.js';
import { roomLabel } from './dom.js';
import type { ChatLog } from './ports.js';
import type { ContextOf, HistoryKind, Pending } from './requests.js';
import type { RoomState } from './room-state.js';

/** Messages asked for per history page. */
export const HISTORY_PAGE = 50;
/** The most the server sends in one page. */
const HISTORY_PAGE_MAX = 200;
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

export interface HistoryLink {
  readonly log: ChatLog;
  /** Asks for a page; false when it could not go. */
  request(req: HistoryRequest, ctx: ContextOf['history']): boolean;
  /** Shows messages once. */
  show(r: RoomState, messages: ChatMessage[], live: boolean): void;
  say(text: string, room: string): void;
  /**
   * Entries after `after` were missed (a gap): a page of history brings the messages of the
   * gap as they are now, but the messages held up to it may have been edited, removed or
   * reacted to meanwhile.
   */
  missed(r: RoomState, after: number): void;
}

/** Keeps each room's log whole by the rules above, asking for history as they need. */
export class HistorySync {
  readonly #link: HistoryLink;

  constructor(link: HistoryLink) {
    this.#link = link;
  }

  /** Asks for a page of `kind`: the latest, or those before `before`. */
  page(
    r: RoomState,
    kind: HistoryKind,
    before?: number,
    limit = HISTORY_PAGE,
    extra: Omit<ContextOf['history'], 'history'> = {},
  ): boolean {
    const req: HistoryRequest =
      before === undefined
        ? { type: 'history', room: r.name, limit }
        : { type: 'history', room: r.name, before, limit };
    return this.#link.request(req, { history: kind, ...extra });
  }

  /** Pages history backwards over after < seq < before. */
  fillGap(r: RoomState, after: number, before: number, fetched: number): void {
    const page = nextGapPage(after, before, fetched);
    if (page.kind === 'enough') {
      this.#link.say(`${page.missing} earlier messages not loaded; /history shows more.`, r.name);
    } else if (page.kind === 'page') {
      this.page(r, 'gap', page.before, page.limit, {
        gapAfter: page.after,
        gapFetched: page.fetched,
      });
    }
  }

  /**
   * A join result: the first loads the latest page, reaching `reach` entries back (to the read
   * marker) as far as one page goes; a server log behind ours starts over.
   */
  joined(r: RoomState, serverLastSeq: number, reach = 0): void {
    if (!r.everSynced) {
      r.lastSeq = Math.max(r.lastSeq, serverLastSeq);
      this.#latest(r, reach);
    } else if (serverLastSeq < r.lastSeq) {
      // The server's log is behind what we saw (its data was reset): start over.
      this.#link.say(`The history of ${roomLabel(r.name)} was reset on the server.`, r.name);
      this.#link.log.clear(r.name);
      r.lastSeq = serverLastSeq;
      this.#latest(r, reach);
    }
  }

  #latest(r: RoomState, reach: number): void {
    if (r.lastSeq === 0) {
      this.#link.log.setOlder(r.name, 'start');
      return;
    }
    // A page counts messages, and entries between them count for nothing: `reach` messages
    // cover that many entries.
    this.page(r, 'latest', undefined, Math.min(Math.max(reach, HISTORY_PAGE), HISTORY_PAGE_MAX));
  }

  /** A resume was cut at the server's bound: after < seq < before were not sent. */
  gapMarked(r: RoomState, after: number, before: number): void {
    r.lastSeq = Math.max(r.lastSeq, before - 1);
    this.#link.missed(r, after);
    this.fillGap(r, after, before, 0);
  }

  /** A live message: 'seen' when the room has it (or has moved past it), else it is new. */
  live(r: RoomState, seq: number): 'seen' | 'new' {
    const place = placeLive(r.lastSeq, seq);
    if (place === 'seen') return 'seen';
    // A hole in the live stream: fetch what is missing.
    if (r.synced && place === 'past-gap') {
      this.#link.missed(r, r.lastSeq);
      this.fillGap(r, r.lastSeq, seq, 0);
    }
    r.lastSeq = seq;
    if (!r.synced) {
      // A direct message subscribes us on the server: it is live from here on.
      r.live();
      if (this.#link.log.oldestSeq(r.name) === undefined) {
        this.#link.log.setOlder(r.name, seq > 1 ? 'more' : 'start');
      }
    }
    return 'new';
  }

  /** A history result. */
  received(
    r: RoomState,
    messages: ChatMessage[],
    more: boolean,
    ctx: Pending<'history'> | undefined,
  ): void {
    const first = messages[0];
    const last = messages[messages.length - 1];
    this.#link.show(r, messages, false);
    // Contiguous with what we have, so nothing below its top is missing.
    r.lastSeq = lastSeqAfterPage(
      r.lastSeq,
      first && last ? { first: first.seq, last: last.seq } : undefined,
    );
    switch (ctx?.history) {
      case 'gap':
        if (ctx.gapAfter !== undefined && first && gapLeft(ctx.gapAfter, first.seq, more)) {
          this.fillGap(r, ctx.gapAfter, first.seq, ctx.gapFetched ?? 0);
        }
        return;
      case 'older':
      case 'latest': {
        r.loadingOlder = false;
        const oldest = this.#link.log.oldestSeq(r.name);
        this.#link.log.setOlder(r.name, atStart(oldest, more) ? 'start' : 'more');
        return;
      }
      case 'user':
        if (messages.length === 0) this.#link.say('No messages.', r.name);
        return;
      default:
        return;
    }
  }

  /** The reader wants older messages of a live room. */
  older(r: RoomState): void {
    if (r.loadingOlder || !r.synced) return;
    const room = r.name;
    const oldest = this.#link.log.oldestSeq(room);
    if (oldest === undefined || oldest <= 1) {
      this.#link.log.setOlder(room, oldest === undefined && r.lastSeq > 0 ? 'unknown' : 'start');
      return;
    }
    r.loadingOlder = true;
    this.#link.log.setOlder(room, 'loading');
    if (!this.page(r, 'older', oldest)) this.stopOlder(r);
  }

  /**
   * The reader wants a message older than those shown (a search result): one page reaching
   * down to it, as far as a page goes. False when no page went.
   */
  olderTo(r: RoomState, seq: number): boolean {
    const oldest = this.#link.log.oldestSeq(r.name);
    if (r.loadingOlder || !r.synced || oldest === undefined || oldest <= seq) return false;
    r.loadingOlder = true;
    this.#link.log.setOlder(r.name, 'loading');
    const limit = Math.min(Math.max(oldest - seq + 10, HISTORY_PAGE), HISTORY_PAGE_MAX);
    if (this.page(r, 'older', oldest, limit)) return true;
    this.stopOlder(r);
    return false;
  }

  /** A page of older messages will not come (the connection closed, or it was refused). */
  stopOlder(r: RoomState): void {
    if (!r.loadingOlder) return;
    r.loadingOlder = false;
    this.#link.log.setOlder(r.name, 'more');
  }
}
