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
import { Room, directId, pairOf } from './room.js';
import { RoomIndex } from './room-index.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

const ROOM_PAGE_DEFAULT = 100;
const ROOM_PAGE_MAX = 500;
/** How often the room list drops rooms idle past the limit: the limit is counted in days. */
const ROOM_EXPIRY_EVERY_MS = 60 * 60 * 1000;

/** A room label resolved: its id, how the client calls it, and a direct room's pair. */
export interface Resolved {
  id: string;
  label: string;
  direct?: [string, string];
}

export class Rooms {
  private readonly byId = new Map<string, Room>();
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

  /** The room, made if need be. */
  room(id: string, direct?: [string, string]): Room {
    let room = this.byId.get(id);
    if (!room) {
      room = new Room(id, direct);
      this.byId.set(id, room);
    }
    return room;
  }

  dropIfIdle(room: Room): void {
    if (!room.idle) return;
    this.byId.delete(room.id);
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
      const { id, pair } = directId(session.key, peer.key);
      return { id, label: `@${peer.key}`, direct: pair };
    }
    const room = normalizeRoom(label);
    if (!room) throw new ChatError('ROOM_INVALID');
    return { id: room.key, label: room.key };
  }

  /** A taken name, by its present key or else by the key it was taken under earlier. */
  private async peer(raw: string): Promise<Normalized | null> {
    const exists = async (key: string) =>
      !!this.identities.get(key)?.tokenHash ||
      (await readStore(this.deps, () => this.deps.log.nameExists(key)));
    const now = normalizeName(raw);
    if (now && (await exists(now.key))) return now;
    const earlier = earlierName(raw);
    if (earlier && earlier.key !== now?.key && (await exists(earlier.key))) return earlier;
    return null;
  }

  /**
   * The room another node speaks of, made if need be. A direct room is only taken for names
   * that are in it, only while one of them is connected here (no one else could ever read of
   * it), and always made with its pair, so it never shows as a public room.
   */
  busRoom(id: string, keys: string[]): Room | undefined {
    const pair = pairOf(id);
    if (!pair) return isDirect(id) || !normalizeRoom(id) ? undefined : this.room(id);
    if (directId(pair[0], pair[1]).id !== id) return undefined;
    if (!keys.every((k) => pair.includes(k))) return undefined;
    const existing = this.byId.get(id);
    if (existing) return existing.direct ? existing : undefined;
    return pair.some((k) => this.identities.get(k)?.tokenHash) ? this.room(id, pair) : undefined;
  }

  async who(session: Session, label: string): Promise<{ label: string; members: string[] }> {
    const r = await this.resolve(session, label);
    const room = this.byId.get(r.id);
    if (r.direct) return { label: r.label, members: r.direct };
    return { label: r.label, members: room ? room.members() : [] };
  }

  /**
   * A page of the room list in name order: at most `limit` rooms after the room `after`, how
   * many follow, and the `after` of the next page when some do.
   */
  async list(
    after?: string,
    limit: number = ROOM_PAGE_DEFAULT,
  ): Promise<{ rooms: RoomInfo[]; next?: string; remaining: number }> {
    await this.loadIndex();
    this.expire();
    const page = this.index.page(after, Math.min(Math.max(limit, 1), ROOM_PAGE_MAX));
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
