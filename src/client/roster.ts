// The rooms and direct conversations the sidebar lists: one RoomState each, which one is
// current, and the direct conversations closed from the sidebar. It draws
// the list and remembers it through the view and storage passed in. Settings of a room belong
// with the room they change, found here.

import { LOBBY, isDirect, normalizeRoom } from '../protocol/index.js';
import { RoomState } from './room-state.js';
import type { RoomList } from './storage.js';
import type { RoomItem } from './view.js';

export interface RosterView {
  setRooms(items: RoomItem[], current: string): void;
  showRoom(room: string): void;
}

export interface RosterStorage {
  saveRooms(list: RoomList): void;
  saveClosed(closed: Set<string>): void;
}

export class Roster {
  readonly #rooms = new Map<string, RoomState>();
  readonly #view: RosterView;
  readonly #storage: RosterStorage;
  /** Direct conversations closed from the sidebar. */
  readonly #closed: Set<string>;
  #current: string;

  /** The rooms remembered (and the extra ones sends waiting in the outbox are for). */
  constructor(
    view: RosterView,
    storage: RosterStorage,
    saved: RoomList,
    closed: Set<string>,
    wanted: string[],
  ) {
    this.#view = view;
    this.#storage = storage;
    this.#closed = closed;
    const cur = saved.current;
    this.#current = isDirect(cur) || normalizeRoom(cur) ? cur : LOBBY;
    for (const r of saved.rooms) {
      const n = normalizeRoom(r);
      if (n) this.room(n.key).want();
    }
    for (const r of wanted) this.room(r).want();
    this.room(this.#current);
    view.showRoom(this.#current);
    this.render();
  }

  get current(): string {
    return this.#current;
  }

  /** The room shown, when the page knows it. */
  get shown(): RoomState | undefined {
    return this.#rooms.get(this.#current);
  }

  get(name: string): RoomState | undefined {
    return this.#rooms.get(name);
  }

  /** The room by that name, added (and listed) when it is new. */
  room(name: string): RoomState {
    let r = this.#rooms.get(name);
    if (!r) {
      r = new RoomState(name);
      this.#rooms.set(name, r);
      this.render();
    }
    return r;
  }

  all(): RoomState[] {
    return [...this.#rooms.values()];
  }

  /** Makes a room the current one (its counts go once it is seen: reading.ts). */
  select(name: string): RoomState {
    const r = this.room(name);
    this.#current = r.name;
    this.#view.showRoom(r.name);
    this.render();
    return r;
  }

  /** The room `step` places up or down the sidebar from the current one (rooms, then people). */
  neighbour(step: number): string | undefined {
    const all = this.all();
    const list = [...all.filter((r) => !r.direct), ...all.filter((r) => r.direct)].map(
      (r) => r.name,
    );
    const i = list.indexOf(this.#current);
    return list[(i + step + list.length) % list.length];
  }

  /** Drops a room from the list; false when it was not in it. */
  remove(name: string): boolean {
    if (!this.#rooms.delete(name)) return false;
    this.render();
    return true;
  }

  /** Where to go when the current room goes: the first room still joined, else the lobby. */
  fallback(): string {
    return this.all().find((r) => r.joined && !r.direct)?.name ?? LOBBY;
  }

  isClosed(room: string): boolean {
    return this.#closed.has(room);
  }

  /** A direct conversation closed from the sidebar. */
  close(room: string): void {
    this.#closed.add(room);
    this.#storage.saveClosed(this.#closed);
  }

  /** A closed direct conversation is listed again (a message came, or it was opened). */
  reopen(room: string): void {
    if (this.#closed.delete(room)) this.#storage.saveClosed(this.#closed);
  }

  /** Forgets that a direct conversation was closed, without remembering it. */
  unclose(room: string): void {
    this.#closed.delete(room);
  }

  render(): void {
    if (!this.#rooms.size) return;
    const list = this.all();
    this.#view.setRooms(list, this.#current);
    this.#storage.saveRooms({
      rooms: list.filter((r) => r.joined && !r.direct).map((r) => r.name),
      current: this.#current,
    });
  }
}
