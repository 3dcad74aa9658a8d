// A room as this node sees it: its local subscribers and who is present by name.

import { MEMBERS_LISTED } from '../protocol/index.js';
import type { RoomSettings } from './directory.js';
import type { Member } from './member.js';

export interface Subscription {
  room: Room;
  /** The room as this session's client calls it. */
  label: string;
  /** The last sequence number sent to this session. */
  cursor: number;
  /** While true, live messages are skipped: the catch-up loop reads them from the store. */
  catchingUp: boolean;
  lastTyping: number;
  /** Muted in the room: may read, not send or type. Kept up to date by the access feed. */
  muted?: boolean;
}

/** How a name's presence changed: on this node, and in the whole cluster. */
export interface PresenceChange {
  /** The first or last local session of the name: other nodes must hear of it. */
  local: boolean;
  /** The name appeared in or vanished from the room as a whole. */
  cluster: boolean;
}

/** A page of a room's members in name order, and how many there are in all. */
export interface MemberPage {
  members: string[];
  memberCount: number;
}

interface Presence {
  display: string;
  /** Local sessions of the name in this room: one person with two tabs is one member. */
  local: number;
  /** Other nodes that report the name in this room; made when the first one does. */
  nodes?: Set<string>;
  /** Its arrival was not announced (an address flapping in and out), so its leaving is not. */
  quiet?: true;
}

/**
 * Case-insensitive, then by code unit: localeCompare's first call loads ICU's collation data,
 * which stalled the event loop for 70 ms at the first join, in front of everyone.
 */
export function byName(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Where `name` goes in a list sorted by byName: the first entry not before it. */
function firstNotBefore(list: readonly string[], name: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byName(list[mid] ?? '', name) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Room {
  /** The highest sequence number this node knows of (from commits, the bus or the store). */
  lastSeq = 0;
  /** When a typing notice of this room was last relayed, for crowded rooms. */
  lastTyping = -Infinity;
  /** The room's settings as last read from the store (null: none stored), once read. */
  settings: RoomSettings | null | undefined;
  readonly subs = new Map<Member, Subscription>();
  /** Moves whenever this node's own members change: the heartbeat sends them only then. */
  localVersion = 0;
  private readonly names = new Map<string, Presence>();
  /**
   * members(), kept in order as people come and go once it has been asked for: every join of a
   * room answers it, and a rejoin storm would otherwise sort a room of thousands per member.
   */
  private sorted: string[] | undefined;

  /**
   * A direct room's participants' name keys by user id, as this node last learnt them (from a
   * resolve, the store, or a bus event the store confirmed): each calls the room by the other's.
   */
  readonly keys = new Map<string, string>();

  constructor(
    readonly id: string,
    /** The two participants' user ids, for a direct conversation. */
    readonly direct?: [string, string],
  ) {}

  addLocal(key: string, display: string, quiet = false): PresenceChange {
    const p = this.names.get(key);
    if (!p) {
      this.names.set(key, { display, local: 1, ...(quiet && { quiet }) });
      this.placeSorted(display);
      this.localVersion++;
      return { local: true, cluster: true };
    }
    if (++p.local === 1) this.localVersion++;
    return { local: p.local === 1, cluster: false };
  }

  removeLocal(key: string): PresenceChange {
    const p = this.names.get(key);
    if (!p || p.local === 0) return { local: false, cluster: false };
    p.local--;
    if (p.local > 0) return { local: false, cluster: false };
    this.localVersion++;
    const remote = p.nodes?.size ?? 0;
    if (remote === 0) {
      this.names.delete(key);
      this.unplaceSorted(p.display);
    }
    return { local: true, cluster: remote === 0 };
  }

  /** Returns true when the name became present in the room. */
  addRemote(key: string, display: string, node: string, quiet = false): boolean {
    const p = this.names.get(key);
    if (!p) {
      this.names.set(key, { display, local: 0, nodes: new Set([node]), ...(quiet && { quiet }) });
      this.placeSorted(display);
      return true;
    }
    (p.nodes ??= new Set()).add(node);
    return false;
  }

  /** Returns true when the name is no longer present in the room. */
  removeRemote(key: string, node: string): boolean {
    const p = this.names.get(key);
    if (!p?.nodes?.delete(node)) return false;
    if (p.local > 0 || p.nodes.size > 0) return false;
    this.names.delete(key);
    this.unplaceSorted(p.display);
    return true;
  }

  displayOf(key: string): string | undefined {
    return this.names.get(key)?.display;
  }

  /** Whether the name came in unannounced: then it goes, or changes, unannounced too. */
  quietOf(key: string): boolean {
    return this.names.get(key)?.quiet === true;
  }

  /** Keys of the names another node reports here. */
  remoteKeys(node: string): string[] {
    return [...this.names].filter(([, p]) => p.nodes?.has(node)).map(([k]) => k);
  }

  /** This node's own members, as [key, display] pairs, for snapshots. */
  localMembers(): [string, string][] {
    return [...this.names].filter(([, p]) => p.local > 0).map(([k, p]) => [k, p.display]);
  }

  /** The display names present, sorted; shared, so callers must not change it. */
  members(): string[] {
    this.sorted ??= [...this.names.values()].map((n) => n.display).sort(byName);
    return this.sorted;
  }

  /** At most MEMBERS_LISTED of members(), those after `after` when it is given, and how many. */
  listed(after?: string): MemberPage {
    const list = this.members();
    let from = 0;
    if (after !== undefined) {
      from = firstNotBefore(list, after);
      if (list[from] === after) from++;
    }
    const members =
      from === 0 && list.length <= MEMBERS_LISTED ? list : list.slice(from, from + MEMBERS_LISTED);
    return { members, memberCount: list.length };
  }

  private placeSorted(display: string): void {
    const list = this.sorted;
    if (list) list.splice(firstNotBefore(list, display), 0, display);
  }

  private unplaceSorted(display: string): void {
    const list = this.sorted;
    if (!list) return;
    const at = firstNotBefore(list, display);
    if (list[at] === display) list.splice(at, 1);
    else this.sorted = undefined;
  }

  /** The name keys present, on every node. */
  memberKeys(): string[] {
    return [...this.names.keys()];
  }

  get memberCount(): number {
    return this.names.size;
  }

  /** Nothing keeps the room: no local subscriber and no one present anywhere. */
  get idle(): boolean {
    return this.subs.size === 0 && this.names.size === 0;
  }
}

/** Two user ids in the one order, the same from either side. */
export function sortPair(a: string, b: string): [string, string] {
  return a <= b ? [a, b] : [b, a];
}

/**
 * The id of a new direct conversation between two user ids. Rooms made before user ids keep
 * the ids they had (`@` and the two name keys): the store knows whose they are.
 */
export function directId(a: string, b: string): string {
  const [x, y] = sortPair(a, b);
  return `@${x} ${y}`;
}

/** The other participant of a direct room, seen by user id `me`. */
export function peerOf(room: Room, me: string): string | undefined {
  if (!room.direct) return undefined;
  const [a, b] = room.direct;
  return a === me ? b : a;
}

/**
 * How the reader with user id `me` calls a room: its name, or `@` and the other person's name
 * key for a direct one; undefined while that key is not known here.
 */
export function labelFor(room: Room, me: string): string | undefined {
  if (!room.direct) return room.id;
  const peer = peerOf(room, me);
  const key = peer === undefined ? undefined : room.keys.get(peer);
  return key === undefined ? undefined : `@${key}`;
}

/**
 * The user ids in the id of a direct room made from them, or undefined for any other id (a
 * room made before user ids names its participants in the store alone).
 */
export function idPair(id: string): [string, string] | undefined {
  const m = /^@(u_[0-9a-z]+) (u_[0-9a-z]+)$/.exec(id);
  if (!m?.[1] || !m[2] || directId(m[1], m[2]) !== id) return undefined;
  return [m[1], m[2]];
}
