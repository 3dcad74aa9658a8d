// Joining and leaving rooms: the per-connection and per-address allowances, the subscription,
// and the replay a join with `since` asks for.

import { ChatError, type ReadState } from '../protocol/index.js';
import { INSTANCE, type AddressLimits } from './address-limits.js';
import type { Delivery } from './delivery.js';
import type { Guard } from './guard.js';
import type { CoreDeps } from './ports.js';
import type { Presence } from './presence.js';
import type { ReadMarkers } from './read-markers.js';
import type { Room } from './room.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

/** What a join tells its caller; the member list is the caller's to read, if it wants it. */
export interface Joined {
  id: string;
  label: string;
  lastSeq: number;
  room: Room;
  /** The person's read marker and what is unread after it, for a session that keeps them. */
  read?: ReadState;
}

export class Membership {
  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly presence: Presence,
    private readonly delivery: Delivery,
    private readonly addresses: AddressLimits,
    private readonly guard: Guard,
    private readonly markers: ReadMarkers,
  ) {}

  async join(
    session: Session,
    label: string,
    since: number | undefined,
    onJoined: (info: Joined) => void,
  ): Promise<void> {
    const r = await this.rooms.resolve(session, label);
    const existing = session.sub(r.id);
    if (existing) {
      // A direct room opened by the other's new name is called by it from now on.
      existing.label = r.label;
      const { lastSeq } = existing.room;
      const read = await this.markers.joined(session, r.id, lastSeq, r.direct !== undefined);
      onJoined({ id: r.id, label: r.label, lastSeq, room: existing.room, read });
      return;
    }
    // Direct conversations the server put a session in never keep it out of a room.
    const counted = r.direct ? session.subs : session.subs.filter((s) => !s.room.direct);
    if (counted.length >= this.deps.limits.roomsPerConnection)
      throw new ChatError('TOO_MANY_ROOMS');
    let muted = false;
    if (!r.direct) {
      const known = this.rooms.get(r.id) !== undefined || this.rooms.index.has(r.id);
      muted = await this.guard.admit(session, r.id, known);
      if (session.closed) return;
      if (session.sub(r.id)) return this.join(session, label, since, onJoined);
      await this.admitJoin(session, r.id);
      if (session.closed) return;
    }
    const room = this.rooms.room(r.id, r.direct, r.keys);
    // A live room of that id that is not this pair's (it cannot be: ids are the pairs') is
    // never entered.
    if (r.direct && room.direct?.join(' ') !== r.direct.join(' ')) {
      throw new ChatError('NO_SUCH_USER');
    }
    const sub = this.presence.subscribe(session, room, r.label, 0, true);
    if (muted) sub.muted = true;
    let latest: number;
    try {
      latest = await readStore(this.deps, () => this.deps.log.lastSeq(r.id));
    } catch (e) {
      if (session.sub(r.id) === sub) this.presence.unsubscribe(session, sub);
      throw e;
    }
    if (session.sub(r.id) !== sub) return;
    room.lastSeq = Math.max(room.lastSeq, latest);
    if (!r.direct && latest > 0) this.rooms.index.touch(r.id, this.deps.clock.now(), true);
    sub.cursor = since === undefined ? latest : Math.min(since, latest);
    if (r.direct) this.presence.addParticipants(room);
    // While this is read the subscription catches up later: nothing live is skipped.
    const read = await this.markers.joined(session, r.id, latest, r.direct !== undefined);
    if (session.sub(r.id) !== sub) return;
    onJoined({ id: r.id, label: r.label, lastSeq: latest, room, read });
    await this.delivery.catchUp(session, sub);
  }

  /**
   * A join tells every member, and its leave will too: the address pays for both at once. A
   * room not in the list (new, or unlisted after idling) also takes a new room from the
   * address's and the instance's allowance.
   */
  private async admitJoin(session: Session, id: string): Promise<void> {
    await this.rooms.loadIndex();
    const { addresses } = this;
    const now = this.deps.clock.now();
    // Another tab of a name already in the room announces nothing, and costs nothing.
    const present = this.rooms.get(id)?.displayOf(session.key) !== undefined;
    if (!present && !addresses.joins.take(session.address, now)) {
      throw new ChatError('RATE_LIMITED', 'Too many joins from your address; wait a minute.');
    }
    if (this.rooms.index.has(id)) return;
    if (!addresses.newRooms.take(session.address, now)) {
      if (!present) addresses.joins.give(session.address, now);
      throw new ChatError(
        'ROOM_LIMIT',
        'Too many new rooms from your address; join an existing one or try later.',
      );
    }
    if (!addresses.instanceRooms.take(INSTANCE, now)) {
      addresses.newRooms.give(session.address, now);
      if (!present) addresses.joins.give(session.address, now);
      throw new ChatError('ROOM_LIMIT');
    }
  }

  async part(session: Session, label: string): Promise<string> {
    const r = await this.rooms.resolve(session, label);
    const sub = session.sub(r.id);
    if (!sub) throw new ChatError('NOT_IN_ROOM');
    this.presence.unsubscribe(session, sub);
    return r.label;
  }

  /** Leaves every room, as a closed connection does. */
  leaveAll(session: Session): void {
    for (const sub of session.subs) this.presence.unsubscribe(session, sub);
  }
}
