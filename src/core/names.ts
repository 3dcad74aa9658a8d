// Taking a name: guests, names reserved to a token's hash, renames announced in rooms, and the
// direct conversations a name brings with it.

import { ChatError, earlierName, normalizeName, type Normalized } from '../protocol/index.js';
import { nameSkeleton } from '../protocol/skeleton.js';
import type { AddressLimits } from './address-limits.js';
import { GUEST_PREFIX, GUEST_SKELETON, guestId } from './guest.js';
import type { Identities } from './identities.js';
import type { CoreDeps, DirectRoom, Log } from './ports.js';
import type { Presence } from './presence.js';
import { labelFor, sortPair } from './room.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';
import { TokenBucket } from './rate-limit.js';

export class Names {
  constructor(
    private readonly deps: CoreDeps,
    private readonly identities: Identities,
    private readonly rooms: Rooms,
    private readonly presence: Presence,
    private readonly addresses: AddressLimits,
  ) {}

  /**
   * Takes a name for the session. A name once taken is reserved to the hash of its token; the
   * same token takes it again from any connection, so one person may have several tabs.
   */
  async hello(
    session: Session,
    rawName: string | undefined,
    rawToken: string | undefined,
  ): Promise<{ name: string; token: string; direct: string[] }> {
    if (rawToken !== undefined && !/^[\x21-\x7e]{16,128}$/.test(rawToken)) {
      throw new ChatError('BAD_REQUEST', 'A token is 16 to 128 printable ASCII characters.');
    }
    const token = rawToken ?? session.token ?? this.deps.newToken();
    session.token = token;
    if (rawName === undefined && !session.claimed) {
      // A guest keeps one guest name per token, so a reconnect does not make a new person.
      const suffix = this.deps.guestSuffix(token);
      const guest = GUEST_PREFIX + suffix;
      if (guest === session.key) return { name: session.name, token, direct: [] };
      // A new token in a room is a rename everyone there is told of.
      if (this.inPublicRoom(session) && !this.takeName(session)) throw namesLimited();
      this.rename(session, guest, guest, undefined, guestId(suffix));
      return { name: session.name, token, direct: [] };
    }
    const hash = this.deps.hashToken(token);
    const raw = rawName ?? session.name;
    const taken = await this.takenEarlier(raw, hash);
    const n = taken ?? normalizeName(raw);
    if (!n) throw new ChatError('NAME_INVALID');
    // On the skeleton: `ｇuest-` or `ɡuest-` would pass for a name the server gave.
    const look = nameSkeleton(n.key);
    if (!taken && look.startsWith(GUEST_SKELETON)) {
      throw new ChatError('NAME_INVALID', 'Names starting with guest- are given by the server.');
    }
    const { renamesPerMinute } = this.deps.limits;
    const now = this.deps.clock.now();
    session.renames ??= new TokenBucket(renamesPerMinute / 60, renamesPerMinute, now);
    if (n.key !== session.key && session.renames.take(now) !== 'ok') {
      throw new ChatError('RATE_LIMITED', 'Too many name changes; wait a minute.');
    }
    const live = this.identities.get(n.key);
    if (
      live &&
      live.tokenHash !== hash &&
      !(live.sessions.length === 1 && live.sessions[0] === session)
    ) {
      throw new ChatError('NAME_TAKEN');
    }
    // The address pays for a name reserved anew (kept for ever) or a change announced in a
    // room; taking back one's own name on a fresh connection is free, so reconnects cost nothing.
    const announced = this.inPublicRoom(session);
    let charged = false;
    if (n.key !== session.key) {
      charged = this.takeName(session);
      // With nothing left, only a name already reserved may be asked for: the claim below
      // then reserves nothing, and says whether it is this token's.
      if (
        !charged &&
        (announced || (await this.read(() => this.deps.log.nameHolder(n.key))) === null)
      ) {
        throw namesLimited();
      }
    }
    let claim: Awaited<ReturnType<Log['claimName']>>;
    try {
      claim = await this.read(() =>
        this.deps.log.claimName(n.key, look, hash, this.deps.clock.now()),
      );
    } catch (e) {
      if (charged) this.addresses.names.give(session.address, this.deps.clock.now());
      throw e;
    }
    if (charged && claim !== 'claimed' && (claim !== 'owned' || !announced)) {
      this.addresses.names.give(session.address, this.deps.clock.now());
    }
    if (claim === 'reserved') throw new ChatError('NAME_RESERVED');
    if (claim === 'confusable') {
      throw new ChatError('NAME_RESERVED', 'That name looks like one already taken; pick another.');
    }
    const userId = await this.read(() => this.deps.log.nameUser(n.key));
    if (userId === null) throw new Error(`the name ${n.key} was claimed but has no user id`);
    if (session.closed) return { name: n.display, token, direct: [] };
    this.rename(session, n.display, n.key, hash, userId);
    // The conversations are the user's, whichever of its names it took them under.
    const direct = (await this.read(() => this.deps.log.directRooms(userId))).filter(
      (d): d is DirectRoom & { peerKey: string } => d.peerKey !== null,
    );
    if (session.isText) await this.enterDirect(session, direct);
    return { name: n.display, token, direct: direct.map((d) => `@${d.peerKey}`) };
  }

  private read<T>(f: () => Promise<T>): Promise<T> {
    return readStore(this.deps, f);
  }

  private takeName(session: Session): boolean {
    return this.addresses.names.take(session.address, this.deps.clock.now());
  }

  private inPublicRoom(session: Session): boolean {
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

  /**
   * The name as this token took it under the earlier rules, when the present rules read it
   * otherwise (refuse it, or give it another key); else null.
   */
  private async takenEarlier(raw: string, hash: string): Promise<Normalized | null> {
    const earlier = earlierName(raw);
    if (!earlier || earlier.key === normalizeName(raw)?.key) return null;
    const holder = await this.read(() => this.deps.log.nameHolder(earlier.key));
    return holder === hash ? earlier : null;
  }

  private rename(
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
      const gone = presence.leaveRoom(room, oldKey, oldName, oldUser);
      const came = presence.enterRoom(room, key, display, userId);
      if (gone && came) presence.announceRename(room, session, oldName, display);
      else {
        if (gone) presence.announce(room, session, oldName, 'leave');
        if (came) presence.announce(room, session, display, 'join');
      }
    }
  }
}

function namesLimited(): ChatError {
  return new ChatError('RATE_LIMITED', 'Too many new names from your address; wait a while.');
}
