// One connection's state in the core.

import { jsonFrame, frame } from './frames.js';
import type { Frame, Peer } from './ports.js';
import { addressKey } from './address.js';
import type { TokenBucket } from './rate-limit.js';
import type { Member } from './member.js';
import type { Room, Subscription } from './room.js';
import type { ServerEvent } from '../protocol/index.js';
import type { ServerRole } from './directory.js';
import { GUEST_PREFIX, guestId } from './guest.js';

const SETTLED: Promise<void> = Promise.resolve();
const NONE: readonly Subscription[] = [];

export class Session implements Member {
  name: string;
  key: string;
  /**
   * The person's id, which no rename changes: `u_` and random for a reserved name, `g_` and
   * the guest name's own suffix for a guest.
   */
  userId: string;
  /** Hash of the token of the person's login session; undefined for a guest. */
  tokenHash: string | undefined;
  /** The person's server role; null for a guest (not logged in). */
  role: ServerRole | null = null;
  token: string | undefined;
  /**
   * The rooms this session is in, in the order joined. An array replaced on change, not a Map:
   * most sessions are in one room or a few, and a Map's table alone costs about 250 bytes.
   */
  subs: readonly Subscription[] = NONE;
  /** The room plain lines go to (text mode). */
  current: string | undefined;
  closed = false;
  /**
   * Requests are served one after another, in arrival order. Back to SETTLED once the last has
   * been served, so that an idle session holds no promise of its own.
   */
  queue: Promise<void> = SETTLED;
  /** Name changes, limited per minute; made on the first change. */
  renames: TokenBucket | undefined;
  /**
   * Frames per second; made on the first frame, full, as it would be by then had it been made
   * at connect: most connections are idle most of the time.
   */
  bucket: TokenBucket | undefined;
  /** The key of the client's address limits (an IPv6 address by its /64). */
  readonly address: string;

  constructor(
    readonly id: number,
    readonly peer: Peer,
    guestName: string,
  ) {
    this.name = guestName;
    this.key = guestName.toLowerCase();
    this.userId = guestId(guestName.slice(GUEST_PREFIX.length));
    this.address = addressKey(peer.address);
  }

  /** Runs `work` after the session's earlier requests; a failure goes to `onError`. */
  enqueue(work: () => Promise<void>, onError: (e: unknown) => void): void {
    const next: Promise<void> = this.queue
      .then(work)
      .catch(onError)
      .then(() => {
        if (this.queue === next) this.queue = SETTLED;
      });
    this.queue = next;
  }

  /** The subscription to a room, by its id. */
  sub(room: string): Subscription | undefined {
    for (const s of this.subs) if (s.room.id === room) return s;
    return undefined;
  }

  /** Adds a room the session is not in: the chat checks that before it subscribes. */
  addSub(sub: Subscription): void {
    this.subs = this.subs.concat(sub);
  }

  removeSub(room: Room): void {
    const i = this.subs.findIndex((s) => s.room === room);
    if (i < 0) return;
    const rest = this.subs.slice();
    rest.splice(i, 1);
    this.subs = rest;
  }

  get claimed(): boolean {
    return this.tokenHash !== undefined;
  }

  get isText(): boolean {
    return this.peer.codec === 'text';
  }

  send(f: Frame): void {
    if (!this.closed) this.peer.send(f);
  }

  /** JSON clients only; text clients are written to with line(). */
  event(e: ServerEvent): void {
    if (!this.isText) this.send(jsonFrame(e));
  }

  line(text: string): void {
    if (this.isText) this.send(frame(text));
  }
}
