// A room as this node sees it: its local subscribers and who is present by name.

import type { Session, Subscription } from './session.js';

export class Room {
  /** The highest sequence number this node knows of (from commits, the bus or the store). */
  lastSeq = 0;
  readonly subs = new Map<Session, Subscription>();
  /** Present names by key, counting sessions: one person with two tabs is one member. */
  private readonly names = new Map<string, { display: string; count: number }>();

  constructor(
    readonly id: string,
    /** The two participants' keys, for a direct conversation. */
    readonly direct?: [string, string],
  ) {}

  /** Returns true when the name became present. */
  addName(key: string, display: string): boolean {
    const n = this.names.get(key);
    if (n) {
      n.count++;
      return false;
    }
    this.names.set(key, { display, count: 1 });
    return true;
  }

  /** Returns true when the name is no longer present. */
  removeName(key: string): boolean {
    const n = this.names.get(key);
    if (!n) return false;
    if (--n.count > 0) return false;
    this.names.delete(key);
    return true;
  }

  members(): string[] {
    return [...this.names.values()].map((n) => n.display).sort((a, b) => a.localeCompare(b));
  }

  get memberCount(): number {
    return this.names.size;
  }
}

/** The id of the direct conversation between two name keys: the same from either side. */
export function directId(a: string, b: string): { id: string; pair: [string, string] } {
  const pair: [string, string] = a <= b ? [a, b] : [b, a];
  return { id: `@${pair[0]} ${pair[1]}`, pair };
}

/** How a reader with name key `me` calls a room: its name, or `@peer` for a direct one. */
export function labelFor(room: Room, me: string): string {
  if (!room.direct) return room.id;
  const [a, b] = room.direct;
  return `@${a === me ? b : a}`;
}
