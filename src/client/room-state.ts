// One room as the page knows it. Whether we are in it is one state, changed in one place:
//   out ──want──▶ joining ──live──▶ synced ──unwant──▶ leaving ──(part result)──▶ forgotten
// "joining" means we mean to be in it (joined again after every reconnect) but it is not live
// on this connection yet; a lost connection takes synced back to joining, leaving to out.

import { foldKey, isDirect } from '../protocol/index.js';

export type RoomPhase = 'out' | 'joining' | 'synced' | 'leaving';

export type Presence = 'online' | 'offline' | 'unknown';

export function sameName(a: string, b: string): boolean {
  return !!a && !!b && foldKey(a) === foldKey(b);
}

function byName(a: string, b: string): number {
  return a.localeCompare(b);
}

export class RoomState {
  readonly direct: boolean;
  #state: RoomPhase = 'out';
  /** Live at least once: later joins ask only for what came after lastSeq. */
  everSynced = false;
  /** Highest seq seen with nothing missing below it since we joined. */
  lastSeq = 0;
  members: string[] = [];
  /** How many are present: more than `members` names in a crowded room. */
  memberCount = 0;
  /** `members` came from the server on this connection (a join result or who). */
  membersKnown = false;
  /** Name → when the indicator ends (epoch ms). */
  readonly typing = new Map<string, number>();
  /** Unread messages of others and those naming me, after my read marker (reading.ts). */
  unread = 0;
  mentions = 0;
  /** The server stopped counting: there are at least `unread`. */
  unreadMore = false;
  loadingOlder = false;
  /** The other person's name as they write it, in a direct conversation. */
  peer?: string;

  constructor(readonly name: string) {
    this.direct = isDirect(name);
  }

  /** We mean to be in it. */
  get joined(): boolean {
    return this.#state === 'joining' || this.#state === 'synced';
  }

  /** In it on the current connection (its join result came, or the server subscribed us). */
  get synced(): boolean {
    return this.#state === 'synced' || this.#state === 'leaving';
  }

  want(): void {
    this.#setPhase(this.synced ? 'synced' : 'joining');
  }

  unwant(): void {
    this.#setPhase(this.synced ? 'leaving' : 'out');
  }

  /** Joined on this connection, or subscribed by the server (a direct message came). */
  live(): void {
    this.#setPhase('synced');
    this.everSynced = true;
  }

  /** The connection is gone: nothing about it holds any more. */
  disconnected(): void {
    this.#setPhase(this.joined ? 'joining' : 'out');
    this.membersKnown = false;
    this.typing.clear();
  }

  #setPhase(next: RoomPhase): void {
    this.#state = next;
  }

  setMembers(names: readonly string[], count = names.length): void {
    this.members = [...names];
    this.memberCount = Math.max(count, names.length);
    this.membersKnown = true;
  }

  memberCame(name: string): void {
    if (!this.members.includes(name)) this.memberCount++;
    this.members = this.members.filter((n) => n !== name);
    this.members.push(name);
    this.members.sort(byName);
  }

  memberLeft(name: string): void {
    // In a room listed in part, whoever leaves was counted.
    if (this.members.includes(name) || this.memberCount > this.members.length)
      this.memberCount = Math.max(this.memberCount - 1, 0);
    this.members = this.members.filter((n) => n !== name);
    this.typing.delete(name);
    this.members.sort(byName);
  }

  memberRenamed(from: string, to: string): void {
    this.members = this.members.map((n) => (n === from ? to : n)).sort(byName);
    this.typing.delete(from);
  }

  /** Connected now, not connected, or unknown (while we are not connected ourselves). */
  presenceOf(name: string, me: string, ready: boolean): Presence {
    if (!ready || !this.membersKnown) return sameName(name, me) && ready ? 'online' : 'unknown';
    return this.members.some((m) => sameName(m, name)) || sameName(name, me) ? 'online' : 'offline';
  }
}
