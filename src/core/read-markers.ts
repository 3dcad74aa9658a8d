// Read markers: each person's last-read entry per room, kept in the store and told to that
// person's own JSON sessions (here, and on other nodes through the bus), never to anyone else.
//
// A page may mark a room read many times a minute, and a busy room's members all at once, so a
// move is taken in memory and written with the others in one transaction per flush (the
// server's timer, and a graceful stop). A kill -9 loses the moves since the last flush: the
// marker stays where it was, and the next move puts it right.

import { ChatError, type ReadState, type RoomRead } from '../protocol/index.js';
import { mentionsName } from '../protocol/markup.js';
import type { Identities } from './identities.js';
import type { Bell, CoreDeps, MarkerWrite } from './ports.js';
import { WINDOW_ENTRIES, type RecentEntries } from './recent-entries.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

/** Entries after a marker looked through to count what is unread: past them, "at least". */
export const UNREAD_SCAN = WINDOW_ENTRIES;
/** Moves held before a flush is due at once rather than on the timer. */
const PENDING_MAX = 5000;
/**
 * How long a move heard of is trusted over the store: longer than a flush of the node that made
 * it takes to come round (the nodes flush every second).
 */
const RECENT_MS = 10_000;

/** The counts of a read state, computed from the log. */
type Counts = Omit<ReadState, 'seq'>;

/** Who reads, as the counts need it: own messages are not unread, mentions are of the name. */
interface ReaderOf {
  userId: string;
  key: string;
  name: string;
}

const keyOf = (userId: string, room: string) => `${userId} ${room}`;

export class ReadMarkers {
  /** Markers of people with sessions here, by user id then room: the store's, or newer. */
  private readonly known = new Map<string, Map<string, number>>();
  /** Moves made here and not yet written. */
  private pending = new Map<string, MarkerWrite>();
  /** Moves heard of from other nodes, which their store writes may not have reached yet. */
  private readonly heard = new Map<string, { seq: number; at: number }>();
  private flushing: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly identities: Identities,
    private readonly recent: RecentEntries,
  ) {}

  /** Whether the session has markers: a JSON client that said hello (its id is kept). */
  private keeps(session: Session): boolean {
    return !session.isText && session.token !== undefined;
  }

  /**
   * The read state of a room a session joins, for the join's result; undefined for a session
   * that keeps no markers, or when the store could not say (the join goes on without it).
   * A first join of a room starts the marker at its end: what came before the person is not new
   * to them. A direct conversation starts at 0: all of it was written to them.
   */
  async joined(
    session: Session,
    room: string,
    latest: number,
    direct: boolean,
  ): Promise<ReadState | undefined> {
    if (!this.keeps(session)) return undefined;
    try {
      let seq = await this.markerOf(session.userId, room);
      if (seq === undefined) {
        seq = direct ? 0 : latest;
        this.remember(session.userId, room, seq);
        this.queue(session.userId, room, seq);
      }
      return { seq, ...(await this.count(room, seq, latest, reader(session), direct)) };
    } catch (e) {
      this.deps.onError(e, 'read markers');
      return undefined;
    }
  }

  /**
   * The person's direct conversations that have something unread, for the hello (a reload lists
   * them before it opens any).
   */
  async directReads(session: Session): Promise<RoomRead[]> {
    if (!this.keeps(session) || !session.claimed) return [];
    const { log, markers } = this.deps;
    try {
      const direct = (await log.directRooms(session.userId)).filter((d) => d.peerKey !== null);
      if (direct.length === 0) return [];
      const stored = await markers.markers(
        session.userId,
        direct.map((d) => d.room),
      );
      const out: RoomRead[] = [];
      for (const d of direct) {
        const latest = Math.max(this.rooms.get(d.room)?.lastSeq ?? 0, await log.lastSeq(d.room));
        const seq = this.newest(session.userId, d.room, stored.get(d.room) ?? 0);
        this.remember(session.userId, d.room, seq);
        if (latest <= seq) continue;
        const counts = await this.count(d.room, seq, latest, reader(session), true);
        if (counts.unread > 0) out.push({ room: `@${d.peerKey ?? ''}`, seq, ...counts });
      }
      return out;
    } catch (e) {
      this.deps.onError(e, 'read markers');
      return [];
    }
  }

  /**
   * The person has read the room up to entry `seq`: the marker moves there, never back, and
   * never past the room's last entry. Their other sessions are told. Nothing waits for the
   * store: the move is written with the next flush.
   */
  async read(
    session: Session,
    label: string,
    seq: number,
  ): Promise<{ label: string; seq: number }> {
    if (!this.keeps(session)) {
      throw new ChatError('NAME_REQUIRED', 'Say hello first: read markers are kept for a token.');
    }
    const r = await this.rooms.resolve(session, label);
    // Being in the room is being let in by the policy, on every node (the access feed puts
    // out whoever may no longer read it): a room one is not in gets the same answer, whatever
    // it is.
    const sub = session.sub(r.id);
    if (!sub) throw new ChatError('NOT_IN_ROOM');
    const { userId } = session;
    const current = (await readStore(this.deps, () => this.markerOf(userId, r.id))) ?? 0;
    const target = Math.min(seq, sub.room.lastSeq);
    if (target <= current) {
      this.remember(userId, r.id, current);
      return { label: sub.label, seq: current };
    }
    this.remember(userId, r.id, target);
    this.queue(userId, r.id, target);
    this.deps.bus.publish({
      kind: 'read',
      node: this.deps.nodeId,
      userId,
      room: r.id,
      seq: target,
    });
    this.tell(userId, r.id, target, session);
    return { label: sub.label, seq: target };
  }

  /** Another node's session moved a person's marker. */
  onBell(event: Extract<Bell, { kind: 'read' }>): void {
    const { userId, room, seq } = event;
    const key = keyOf(userId, room);
    if ((this.heard.get(key)?.seq ?? -1) < seq) {
      this.heard.set(key, { seq, at: this.deps.clock.now() });
    }
    const mine = this.known.get(userId);
    if (!mine) return;
    if ((mine.get(room) ?? -1) >= seq) return;
    mine.set(room, seq);
    this.tell(userId, room, seq, undefined);
  }

  /** After the bus was cut off, moves on other nodes may have been missed: ask the store again. */
  resync(): void {
    this.known.clear();
  }

  /**
   * Writes the moves made since the last flush, in one transaction; on failure they wait for
   * the next one. Also forgets what no session here needs any more.
   */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.write().finally(() => {
        this.flushing = undefined;
      });
      return this.flushing;
    }
    // One more write once the one under way is done, for what came meanwhile; callers share it.
    this.next ??= this.flushing.then(() => {
      this.next = undefined;
      return this.flush();
    });
    return this.next;
  }

  private async write(): Promise<void> {
    const now = this.deps.clock.now();
    for (const [key, h] of this.heard) if (now - h.at > RECENT_MS) this.heard.delete(key);
    for (const userId of this.known.keys()) {
      if (this.identities.sessionsOfPerson(userId).length === 0) this.known.delete(userId);
    }
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.deps.markers.saveMarkers([...batch.values()]);
    } catch (e) {
      this.deps.onError(e, 'read markers');
      // Kept for the next flush, unless a newer move of the same marker came meanwhile.
      for (const [key, w] of batch) {
        const newer = this.pending.get(key);
        if (!newer || newer.seq < w.seq) this.pending.set(key, w);
      }
    }
  }

  /** The person's marker: a move known here, or the store's; undefined when they have none. */
  private async markerOf(userId: string, room: string): Promise<number | undefined> {
    const cached = this.known.get(userId)?.get(room);
    if (cached !== undefined) return cached;
    const stored = (await this.deps.markers.markers(userId, [room])).get(room);
    const heard = this.heard.get(keyOf(userId, room))?.seq;
    const pending = this.pending.get(keyOf(userId, room))?.seq;
    const best = Math.max(stored ?? -1, heard ?? -1, pending ?? -1);
    return best < 0 ? undefined : best;
  }

  /** The highest of a stored marker and the moves known here. */
  private newest(userId: string, room: string, stored: number): number {
    const key = keyOf(userId, room);
    return Math.max(
      stored,
      this.known.get(userId)?.get(room) ?? 0,
      this.heard.get(key)?.seq ?? 0,
      this.pending.get(key)?.seq ?? 0,
    );
  }

  private remember(userId: string, room: string, seq: number): void {
    let mine = this.known.get(userId);
    if (!mine) {
      mine = new Map();
      this.known.set(userId, mine);
    }
    if ((mine.get(room) ?? -1) < seq) mine.set(room, seq);
  }

  private queue(userId: string, room: string, seq: number): void {
    const key = keyOf(userId, room);
    const had = this.pending.get(key);
    if (had && had.seq >= seq) return;
    this.pending.set(key, { userId, room, seq, at: this.deps.clock.now() });
    if (this.pending.size >= PENDING_MAX && !this.flushing) void this.flush();
  }

  /** Tells the person's other JSON sessions here that are in the room. */
  private tell(userId: string, room: string, seq: number, except: Session | undefined): void {
    const to = this.identities
      .sessionsOfPerson(userId)
      .filter((s) => s !== except && this.keeps(s) && s.sub(room) !== undefined);
    if (to.length === 0) return;
    void this.tellCounted(to, room, seq).catch((e: unknown) =>
      this.deps.onError(e, 'read markers'),
    );
  }

  private async tellCounted(to: Session[], room: string, seq: number): Promise<void> {
    const live = this.rooms.get(room);
    const upTo = Math.max(seq, live?.lastSeq ?? seq);
    const direct = live?.direct !== undefined;
    // One count per name the sessions go by (almost always one).
    const counted = new Map<string, Counts>();
    for (const s of to) {
      let counts = counted.get(s.key);
      if (!counts) {
        counts = await this.count(room, seq, upTo, reader(s), direct);
        counted.set(s.key, counts);
      }
      const sub = s.sub(room);
      if (sub && !s.closed) s.event({ type: 'read', room: sub.label, seq, ...counts });
    }
  }

  /**
   * What is unread after `seq` up to entry `upTo`: the messages of others not removed, and those
   * of them that mention the reader (all of them in a direct conversation), among the newest
   * UNREAD_SCAN entries at most.
   */
  private async count(
    room: string,
    seq: number,
    upTo: number,
    who: ReaderOf,
    direct: boolean,
  ): Promise<Counts> {
    if (upTo <= seq) return { unread: 0, mentions: 0, upTo: Math.max(seq, upTo) };
    const from = Math.max(seq, upTo - UNREAD_SCAN);
    const entries = await this.recent.between(room, from, upTo);
    let unread = 0;
    let mentions = 0;
    for (const e of entries) {
      if (e.seq > upTo || e.kind !== 'message' || e.removed) continue;
      if (e.actorId === null ? e.actor === who.key : e.actorId === who.userId) continue;
      unread++;
      if (direct || mentionsName(e.text, who.name)) mentions++;
    }
    return from > seq ? { unread, mentions, upTo, more: true } : { unread, mentions, upTo };
  }
}

function reader(session: Session): ReaderOf {
  return { userId: session.userId, key: session.key, name: session.name };
}
