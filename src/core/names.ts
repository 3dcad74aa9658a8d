// A session's name in the rooms it is in: renames announced, and the direct conversations a
// person's name brings with it.

import type { Identities } from './identities.js';
import type { CoreDeps, DirectRoom } from './ports.js';
import type { Presence } from './presence.js';
import { labelFor, sortPair } from './room.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

export class Names {
  constructor(
    private readonly deps: CoreDeps,
    private readonly identities: Identities,
    private readonly rooms: Rooms,
    private readonly presence: Presence,
  ) {}

  /**
   * The person's direct conversations, as `@peer` labels; a text session enters them all (see
   * enterDirect).
   */
  async directOf(session: Session, userId: string): Promise<string[]> {
    const direct = (await this.read(() => this.deps.log.directRooms(userId))).filter(
      (d): d is DirectRoom & { peerKey: string } => d.peerKey !== null,
    );
    if (session.isText) await this.enterDirect(session, direct);
    return direct.map((d) => `@${d.peerKey}`);
  }

  private read<T>(f: () => Promise<T>): Promise<T> {
    return readStore(this.deps, f);
  }

  inPublicRoom(session: Session): boolean {
    return session.subs.some((s) => !s.room.direct);
  }

  /**
   * A text client shows every direct message the moment it comes, in whatever room is current,
   * so it is in all of its conversations at once: the people in them see it as present.
   */
  private async enterDirect(
    session: Session,
    rooms: { room: string; peer: string; peerKey: string }[],
  ): Promise<void> {
    for (const { room: id, peer, peerKey } of rooms) {
      if (session.closed || session.sub(id)) continue;
      let latest: number;
      try {
        latest = await this.deps.log.lastSeq(id);
      } catch (e) {
        // The name is taken already; the next direct message subscribes the session anyway.
        this.deps.onError(e, 'store');
        return;
      }
      // A message committed meanwhile subscribed the session already (subscribeParticipants).
      if (session.closed || session.sub(id)) continue;
      const me = session.userId;
      const keys = new Map([
        [peer, peerKey],
        [me, session.key],
      ]);
      const room = this.rooms.room(id, sortPair(me, peer), keys);
      // A live room of another pair under this id is not this user's to enter.
      const label = room.direct?.includes(me) ? labelFor(room, me) : undefined;
      if (label === undefined) continue;
      room.lastSeq = Math.max(room.lastSeq, latest);
      this.presence.subscribe(session, room, label, room.lastSeq, false);
    }
  }

  /** Moves the session to a name, telling every room it is in. */
  rename(
    session: Session,
    display: string,
    key: string,
    tokenHash: string | undefined,
    userId: string,
  ): void {
    const oldName = session.name;
    const oldKey = session.key;
    const oldUser = session.userId;
    this.identities.move(session, display, key, tokenHash, userId);
    const { presence } = this;
    for (const sub of session.subs) {
      const { room } = sub;
      if (room.direct) {
        // Direct conversations are the user's: another user (a new token) leaves them behind,
        // a new name of the same user keeps them, and the other side knows it by the new name.
        if (oldUser !== userId) presence.unsubscribe(session, sub, oldKey, oldName, oldUser);
        else if (oldKey !== key) {
          room.keys.set(userId, key);
          presence.leaveRoom(room, oldKey, oldName, userId);
          presence.enterRoom(room, key, display, userId);
        }
        continue;
      }
      const quiet = room.quietOf(oldKey);
      const gone = presence.leaveRoom(room, oldKey, oldName, oldUser);
      const came = presence.enterRoom(room, key, display, userId, quiet);
      if (quiet) continue;
      if (gone && came) presence.announceRename(room, session, oldName, display);
      else {
        if (gone) presence.announce(room, session, oldName, 'leave');
        if (came) presence.announce(room, session, display, 'join');
      }
    }
  }
}
