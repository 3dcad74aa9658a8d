// One connection's state in the core.

import { jsonFrame, frame } from './frames.js';
import type { Frame, Peer } from './ports.js';
import { TokenBucket } from './rate-limit.js';
import type { Room } from './room.js';
import type { ServerEvent } from '../protocol/index.js';

export interface Subscription {
  room: Room;
  /** The room as this session's client calls it. */
  label: string;
  /** The last sequence number sent to this session. */
  cursor: number;
  /** While true, live messages are skipped: the catch-up loop reads them from the store. */
  catchingUp: boolean;
  lastTyping: number;
}

const SETTLED: Promise<void> = Promise.resolve();

export class Session {
  name: string;
  key: string;
  /** Hash of the token that owns the name; undefined for a guest. */
  tokenHash: string | undefined;
  token: string | undefined;
  readonly subs = new Map<string, Subscription>();
  /** The room plain lines go to (text mode). */
  current: string | undefined;
  closed = false;
  /** Requests are served one after another, in arrival order. */
  queue: Promise<void> = SETTLED;
  /** Name changes, limited per minute; made on the first change. */
  renames: TokenBucket | undefined;
  readonly bucket: TokenBucket;

  constructor(
    readonly id: number,
    readonly peer: Peer,
    guestName: string,
    bucket: TokenBucket,
  ) {
    this.name = guestName;
    this.key = guestName.toLowerCase();
    this.bucket = bucket;
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
