// The rooms this node holds, the room list (the index), and what a client's room label names.

import {
  ChatError,
  LOBBY,
  earlierName,
  isDirect,
  normalizeName,
  normalizeRoom,
  type Normalized,
  type RoomInfo,
} from '../protocol/index.js';
import type { Identities } from './identities.js';
import type { CoreDeps } from './ports.js';
import { Room, directId, idPair, sortPair, type MemberPage } from './room.js';
import { RoomIndex } from './room-index.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

const ROOM_PAGE_DEFAULT = 100;
const ROOM_PAGE_MAX = 500;
/** How often the room list drops rooms idle past the limit: the limit is counted in days. */
const ROOM_EXPIRY_EVERY_MS = 60 * 60 * 1000;

/** Who is in a room, as the client calls it. */
export interface MemberList extends MemberPage {
  label: string;
}

/** A room label resolved: its id, how the client calls it, and a direct room's pair. */
export interface Resolved {
  id: string;
  label: string;
  /** The two participants' user ids, for a direct room. */
  direct?: [string, string];
  /** The participants' name keys by user id, for a direct room. */
  keys?: Map<string, string>;
}

/** A reserved name: its key and its user's id. */
interface Holder {
  key: string;
  userId: string;
}

export class Rooms {
  private readonly byId = new Map<string, Room>();
  /** The live direct rooms by their sorted pair of user ids. */
  private readonly byPair = new Map<string, string>();
  /** The listed rooms: the lobby, rooms with messages not idle too long, rooms with members. */
  readonly index = new RoomIndex();
  private indexLoaded: Promise<void> | undefined;
  private lastExpiry: number;

  constructor(
    private readonly deps: CoreDeps,
    private readonly identities: Identities,
  ) {
    // The first listing expires what idled while the server was down.
    this.lastExpiry = Number.NEGATIVE_INFINITY;
    this.index.touch(LOBBY, deps.clock.now(), false);
  }

  get(id: string): Room | undefined {
    return this.byId.get(id);
  }

  /** A copy: callers may drop rooms while they go through it. */
  all(): Room[] {
    return [...this.byId.values()];
  }

  values(): IterableIterator<Room> {
    return this.byId.values();
  }

  /** The room, made if need be; a direct room learns the participants' keys given. */
  room(id: string, direct?: [string, string], keys?: Map<string, string>): Room {
    let room = this.byId.get(id);
    if (!room) {
      room = new Room(id, direct && sortPair(...direct));
      this.byId.set(id, room);
      if (direct) this.byPair.set(sortPair(...direct).join(' '), id);
    }
    if (keys) for (const [user, key] of keys) room.keys.set(user, key);
    return room;
  }

  dropIfIdle(room: Room): void {
    if (!room.idle) return;
    if (this.byId.get(room.id) !== room) return;
    this.byId.delete(room.id);
    if (room.direct) this.byPair.delete(sortPair(...room.direct).join(' '));
    if (room.direct || room.id === LOBBY) return;
    // A room with no message is listed only while someone is in it; a stored one idles.
    if (this.index.isStored(room.id)) this.index.touch(room.id, this.deps.clock.now(), true);
    else this.index.remove(room.id);
  }

  /** Resolves what a client calls a room (`dev`, `#dev`, `@alice`) to its id. */
  async resolve(session: Session, label: string): Promise<Resolved> {
    if (isDirect(label)) {
      if (!session.claimed) throw new ChatError('NAME_REQUIRED');
      const peer = await this.peer(label.slice(1));
      if (!peer) throw new ChatError('NO_SUCH_USER');
      // The conversation is the two users', whatever names they go by now.
      const pair = sortPair(session.userId, peer.userId);
      const keys = new Map([
        [session.userId, session.key],
        [peer.userId, peer.key],
      ]);
      return { id: await this.directRoomOf(pair), label: `@${peer.key}`, direct: pair, keys };
    }
    const room = normalizeRoom(label);
    if (!room) throw new ChatError('ROOM_INVALID');
    return { id: room.key, label: room.key };
  }

  /** The room of two user ids: the live one, the stored one, or a new one made of the ids. */
  private async directRoomOf(pair: [string, string]): Promise<string> {
    const live = this.byPair.get(pair.join(' '));
    if (live) return live;
    const stored = await readStore(this.deps, () => this.deps.log.directRoom(...pair));
    return stored ?? directId(...pair);
  }

  /** A taken name, by its present key or else by the key it was taken under earlier. */
  private async peer(raw: string): Promise<Holder | null> {
    const holder = async (n: Normalized): Promise<Holder | null> => {
      const local = this.identities.get(n.key)?.sessions.find((s) => s.claimed);
      if (local) return { key: n.key, userId: local.userId };
      const userId = await readStore(this.deps, () => this.deps.log.nameUser(n.key));
      return userId === null ? null : { key: n.key, userId };
    };
    const now = normalizeName(raw);
    const found = now && (await holder(now));
    if (found) return found;
    const earlier = earlierName(raw);
    return earlier && earlier.key !== now?.key ? holder(earlier) : null;
  }

  /**
   * The room another node speaks of, made if need be. A direct room is taken only when it is
   * live here and every name spoken of is one its participants are known here to go by; a name
   * not yet known goes through `busDirect`, which asks the store.
   */
  busRoom(id: string, keys: string[]): Room | undefined {
    if (!isDirect(id)) return normalizeRoom(id) ? this.room(id) : undefined;
    const existing = this.byId.get(id);
    if (!existing?.direct) return undefined;
    const known = new Set(existing.keys.values());
    return keys.every((k) => known.has(k)) ? existing : undefined;
  }

  /**
   * A direct room another node speaks of for a user under a name: taken only when the store
   * says the room is that user's (or its id is made of that user's id) and that the name is
   * that user's, and only while one of its participants is connected here (no one else could
   * ever read of it). A bus message alone is never proof.
   */
  async busDirect(id: string, key: string, userId: string): Promise<Room | undefined> {
    const live = this.byId.get(id);
    if (live?.direct && live.keys.get(userId) === key) return live;
    const pair = live?.direct ?? (await this.deps.log.directPair(id)) ?? idPair(id);
    if (!pair?.includes(userId)) return undefined;
    if (!pair.some((u) => this.identities.sessionsOf(u).length > 0)) return undefined;
    if ((await this.deps.log.nameUser(key)) !== userId) return undefined;
    const room = this.room(id, pair, new Map([[userId, key]]));
    // The local participants' own names, for their labels' other side.
    for (const u of pair) {
      const s = this.identities.sessionsOf(u)[0];
      if (s && !room.keys.has(u)) room.keys.set(u, s.key);
    }
    return room.direct ? room : undefined;
  }

  async who(session: Session, label: string, after?: string): Promise<MemberList> {
    const r = await this.resolve(session, label);
    const room = this.byId.get(r.id);
    if (r.direct) {
      const pair = sortPair(session.key, r.label.slice(1));
      return { label: r.label, members: pair, memberCount: pair.length };
    }
    if (!room) return { label: r.label, members: [], memberCount: 0 };
    return { label: r.label, ...room.listed(after) };
  }

  /**
   * A page of the room list in name order: at most `limit` rooms after the room `after`, how
   * many follow, and the `after` of the next page when some do.
   */
  async list(
    after?: string,
    limit: number = ROOM_PAGE_DEFAULT,
    hidden?: (id: string) => boolean,
  ): Promise<{ rooms: RoomInfo[]; next?: string; remaining: number }> {
    await this.loadIndex();
    this.expire();
    const page = this.index.page(after, Math.min(Math.max(limit, 1), ROOM_PAGE_MAX), hidden);
    const rooms = page.ids.map((room) => ({
      room,
      members: this.byId.get(room)?.memberCount ?? 0,
    }));
    const last = rooms[rooms.length - 1];
    return page.remaining > 0 && last
      ? { rooms, next: last.room, remaining: page.remaining }
      : { rooms, remaining: 0 };
  }

  /** Reads the stored rooms into the list once (again after a bus resync); a failure retries. */
  loadIndex(reload = false): Promise<void> {
    if (this.indexLoaded && !reload) return this.indexLoaded;
    const loading = readStore(this.deps, () => this.deps.log.rooms()).then((rows) => {
      for (const r of rows) this.index.touch(r.room, r.lastTs, true);
    });
    this.indexLoaded = loading;
    loading.catch(() => {
      if (this.indexLoaded === loading) this.indexLoaded = undefined;
    });
    return loading;
  }

  private expire(): void {
    const now = this.deps.clock.now();
    if (now - this.lastExpiry < ROOM_EXPIRY_EVERY_MS) return;
    this.lastExpiry = now;
    this.index.expire(
      now - this.deps.limits.roomIdleMs,
      (id) => id === LOBBY || !(this.byId.get(id)?.idle ?? true),
    );
  }
}
