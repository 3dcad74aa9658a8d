// The delivery contract: a committed log entry goes to every subscriber exactly one behind it;
// one further behind is caught up from the store, and past the history bound told of a gap.

import { closeWith, isDirect, type LogEntry } from '../protocol/index.js';
import { EntryFrames } from './frames.js';
import type { Identities } from './identities.js';
import type { Member } from './member.js';
import type { CoreDeps } from './ports.js';
import type { Presence } from './presence.js';
import { labelFor, type Room, type Subscription } from './room.js';
import { WINDOW_ENTRIES, type RecentEntries } from './recent-entries.js';
import type { Rooms } from './rooms.js';

/** Most entries one catch-up read takes from the store. */
export const READ_MAX = 200;

export class Delivery {
  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly identities: Identities,
    private readonly presence: Presence,
    private readonly recent: RecentEntries,
  ) {}

  /** Sends a committed entry to every local subscriber that is exactly one behind it. */
  deliver(entry: LogEntry): void {
    if (!isDirect(entry.room)) {
      this.rooms.index.touch(entry.room, entry.ts, true);
      const room = this.rooms.get(entry.room);
      if (room) this.fanOut(room, entry);
      return;
    }
    // A direct entry goes to its room only from one of the two users, under the name known
    // here; else the store is asked first. An entry without a sender id (from a node of an
    // earlier version) is not delivered live: the next one shows the gap, read from the store.
    const { actorId } = entry;
    if (actorId === null) return;
    const room = this.rooms.get(entry.room);
    if (room?.direct?.includes(actorId) && room.keys.get(actorId) === entry.actor) {
      this.fanOut(this.subscribeParticipants(room, entry), entry);
      return;
    }
    void this.deliverChecked(entry, actorId);
  }

  private async deliverChecked(entry: LogEntry, actorId: string): Promise<void> {
    let room: Room | undefined;
    try {
      room = await this.rooms.busDirect(entry.room, entry.actor, actorId);
    } catch (e) {
      // Delivery only: the participants read it from the store when they next catch up.
      this.deps.onError(e, 'store');
      return;
    }
    if (room) this.fanOut(this.subscribeParticipants(room, entry), entry);
  }

  private fanOut(room: Room, entry: LogEntry): void {
    if (entry.seq > room.lastSeq) room.lastSeq = entry.seq;
    const started = this.deps.clock.monotonic();
    let deliveries = 0;
    const framesByLabel = new Map<string, EntryFrames>();
    for (const [session, sub] of room.subs) {
      if (sub.catchingUp || entry.seq <= sub.cursor) continue;
      if (entry.seq !== sub.cursor + 1) {
        void this.catchUp(session, sub);
        continue;
      }
      let frames = framesByLabel.get(sub.label);
      if (!frames) framesByLabel.set(sub.label, (frames = new EntryFrames(entry, sub.label)));
      session.send(session.isText ? frames.forText(session.current === room.id) : frames.forJson());
      sub.cursor = entry.seq;
      deliveries++;
    }
    this.deps.telemetry.fannedOut(deliveries, this.deps.clock.monotonic() - started);
  }

  /** A direct message reaches its participants' sessions even before they open it. */
  private subscribeParticipants(room: Room, entry: LogEntry): Room {
    // The sender first, as it is already there for the one it writes to.
    const users = new Set([entry.actorId, ...(room.direct ?? [])]);
    for (const user of users) {
      if (user === null || !room.direct?.includes(user)) continue;
      const label = labelFor(room, user);
      if (label === undefined) continue;
      for (const s of this.identities.sessionsOf(user)) {
        if (!room.subs.has(s)) this.presence.subscribe(s, room, label, entry.seq - 1, false);
      }
    }
    this.rooms.dropIfIdle(room);
    return room;
  }

  /** Catches up every local subscriber that is behind what the room is known to hold. */
  catchUpAll(room: Room): void {
    for (const [session, sub] of room.subs) {
      if (!sub.catchingUp && sub.cursor < room.lastSeq) void this.catchUp(session, sub);
    }
  }

  /**
   * Reads from the store what a subscriber is missing, until it is level with the room.
   * Past the bound it sends a gap marker and skips to the newest messages.
   */
  async catchUp(session: Member, sub: Subscription): Promise<void> {
    const { room } = sub;
    const bound = this.deps.limits.historyBound;
    sub.catchingUp = true;
    try {
      for (;;) {
        if (session.closed || room.subs.get(session) !== sub) return;
        const target = room.lastSeq;
        if (target <= sub.cursor) {
          sub.catchingUp = false;
          return;
        }
        if (target - sub.cursor > bound) {
          const skipTo = target - bound;
          session.event({ type: 'gap', room: sub.label, after: sub.cursor, before: skipTo + 1 });
          session.line(`* ${skipTo - sub.cursor} older messages not shown; /history shows more`);
          sub.cursor = skipTo;
        }
        // Near the room's end, from the entries every member catching up now shares.
        const rows =
          target - sub.cursor <= WINDOW_ENTRIES
            ? await this.recent.between(room.id, sub.cursor, target)
            : await this.deps.log.after(room.id, sub.cursor, Math.min(bound, READ_MAX));
        if (session.closed || room.subs.get(session) !== sub) return;
        const was = sub.cursor;
        for (const e of rows) {
          if (e.seq <= sub.cursor) continue;
          if (e.seq !== sub.cursor + 1) break;
          const frames = new EntryFrames(e, sub.label);
          session.send(
            session.isText ? frames.forText(session.current === room.id) : frames.forJson(),
          );
          sub.cursor = e.seq;
        }
        if (sub.cursor === was) {
          // The store has nothing newer yet; the next live message will try again.
          sub.catchingUp = false;
          return;
        }
      }
    } catch (e) {
      this.deps.onError(e, 'catch-up');
      closeWith(session.peer, 'RESYNC_FAILED');
    }
  }
}
