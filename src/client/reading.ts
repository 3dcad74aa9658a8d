// What the person has read, per room, kept by the server (read markers): the unread and
// mention counts of the sidebar, the "new" line, and telling the server when the person has seen
// a room's newest messages (the tab visible, the room open, its log scrolled to the bottom).
//
// The server counts what is unread after the marker when a room is joined (and when another of
// the person's sessions moves it); the page adds the messages of others that come after that
// count. So a reload, or a second device, shows the same counts as the first.

import type { ChatMessage, ReadRequest, ReadState, RoomRead } from '../protocol/index.js';
import type { RoomState } from './room-state.js';
import type { Roster } from './roster.js';

/** A marker is sent at most this often per room; the last move of a burst always goes. */
export const READ_EVERY_MS = 1000;

export interface ReadingLog {
  /** The room shown is scrolled to its newest line. */
  atBottom(): boolean;
  /** Whether any message of the room is shown. */
  oldestSeq(room: string): number | undefined;
  /** Shows the "new" line above the first message of someone else after `after`; or none. */
  markNew(room: string, after: number | undefined): void;
}

export interface ReadingDeps {
  roster: Roster;
  log: ReadingLog;
  /** True while the tab is not visible. */
  hidden(): boolean;
  /** Sends a marker; false when it could not go (not connected). */
  request(req: ReadRequest): boolean;
}

interface Marks {
  /** The marker as the server last said (or as this page moved it). */
  seq: number;
  /** The server's count of what is unread after `seq`, up to entry `upTo`. */
  upTo: number;
  unread: number;
  mentions: number;
  more: boolean;
  /** Messages of others after `upTo` that came here, and whether each mentions me. */
  live: { seq: number; mention: boolean }[];
  /** The marker this page wants the server to have, and the one it last sent (and when). */
  want: number;
  sent: number;
  sentAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class Reading {
  readonly #d: ReadingDeps;
  readonly #marks = new Map<string, Marks>();

  constructor(deps: ReadingDeps) {
    this.#d = deps;
  }

  #of(room: string): Marks {
    let m = this.#marks.get(room);
    if (!m) {
      m = {
        seq: 0,
        upTo: 0,
        unread: 0,
        mentions: 0,
        more: false,
        live: [],
        want: 0,
        sent: 0,
        sentAt: Number.NEGATIVE_INFINITY,
        timer: undefined,
      };
      this.#marks.set(room, m);
    }
    return m;
  }

  /**
   * A join answered: the server's marker and count. The room shown as the page loads (`first`:
   * its first join here) gets its "new" line; a join again after a reconnect leaves it be.
   */
  joined(r: RoomState, read: ReadState | undefined, first: boolean): void {
    if (!read) return;
    const m = this.#of(r.name);
    this.#take(m, read);
    m.sent = Math.max(m.sent, read.seq);
    // A move made here that the server has not had yet (it went while offline) still holds.
    if (m.want > m.seq) this.#readTo(r.name, m, m.want);
    this.#show(r);
    if (first && r.name === this.#d.roster.current) this.#d.log.markNew(r.name, this.#line(m));
    this.check();
  }

  /** The hello's (or a sign-in's) direct conversations with something unread. */
  direct(reads: RoomRead[] | undefined): void {
    for (const read of reads ?? []) {
      const r = this.#d.roster.get(read.room);
      if (!r) continue;
      this.#take(this.#of(r.name), read);
      this.#show(r);
    }
  }

  /** Another session of mine moved my marker. */
  moved(read: RoomRead): void {
    const r = this.#d.roster.get(read.room);
    if (!r) return;
    const m = this.#of(r.name);
    if (read.seq <= m.seq) return;
    this.#take(m, read);
    m.sent = Math.max(m.sent, read.seq);
    m.want = Math.max(m.want, read.seq);
    this.#show(r);
  }

  /** A new message of someone else was shown. */
  arrived(r: RoomState, msg: ChatMessage, mention: boolean): void {
    const m = this.#of(r.name);
    if (msg.seq <= Math.max(m.seq, m.upTo) || m.live.some((l) => l.seq === msg.seq)) return;
    m.live.push({ seq: msg.seq, mention });
    this.#show(r);
  }

  /**
   * The room is being opened, or the tab came back to it: the "new" line goes where reading
   * stopped (then check() reads it).
   */
  opened(r: RoomState): void {
    const m = this.#marks.get(r.name);
    this.#d.log.markNew(r.name, m && this.#line(m));
    this.check();
  }

  /** Marks the room shown as read, when its newest messages are there to be seen. */
  check(): void {
    const { roster, log, hidden } = this.#d;
    const r = roster.shown;
    if (!r || !r.synced || hidden() || !log.atBottom()) return;
    // Nothing is seen of a room whose messages have not come yet.
    if (r.lastSeq > 0 && log.oldestSeq(r.name) === undefined) return;
    const m = this.#of(r.name);
    if (r.lastSeq <= m.seq) return;
    this.#readTo(r.name, m, r.lastSeq);
    this.#show(r);
  }

  /** Connected again: the moves that could not go, go. */
  resend(): void {
    for (const [room, m] of this.#marks) if (m.want > m.sent) this.#send(room, m);
  }

  /** A room left the page. */
  forget(room: string): void {
    clearTimeout(this.#marks.get(room)?.timer);
    this.#marks.delete(room);
  }

  #take(m: Marks, read: ReadState): void {
    m.seq = read.seq;
    m.upTo = read.upTo;
    m.unread = read.unread;
    m.mentions = read.mentions;
    m.more = read.more === true;
    m.live = m.live.filter((l) => l.seq > read.upTo);
  }

  #readTo(room: string, m: Marks, seq: number): void {
    m.seq = seq;
    m.upTo = Math.max(m.upTo, seq);
    m.unread = m.mentions = 0;
    m.more = false;
    m.live = m.live.filter((l) => l.seq > seq);
    if (seq > m.want) m.want = seq;
    this.#send(room, m);
  }

  /** Sends the wanted marker now, or once READ_EVERY_MS has passed since the last one. */
  #send(room: string, m: Marks): void {
    if (m.want <= m.sent || m.timer !== undefined) return;
    const wait = m.sentAt + READ_EVERY_MS - Date.now();
    if (wait > 0) {
      m.timer = setTimeout(() => {
        m.timer = undefined;
        this.#send(room, m);
      }, wait);
      return;
    }
    if (!this.#d.request({ type: 'read', room, seq: m.want })) return;
    m.sent = m.want;
    m.sentAt = Date.now();
  }

  /** Where the "new" line goes: after the marker, when anything is unread. */
  #line(m: Marks): number | undefined {
    return m.unread + m.live.length > 0 ? m.seq : undefined;
  }

  /** The room's counts, into its state and the sidebar. */
  #show(r: RoomState): void {
    const m = this.#of(r.name);
    const unread = m.unread + m.live.length;
    const mentions = m.mentions + m.live.filter((l) => l.mention).length;
    if (r.unread === unread && r.mentions === mentions && r.unreadMore === m.more) return;
    r.unread = unread;
    r.mentions = mentions;
    r.unreadMore = m.more;
    this.#d.roster.render();
  }
}
