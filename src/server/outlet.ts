// Frames out: each frame is framed once (header and payload in one buffer) and shared by every
// socket it goes to, and each socket gets one write per event-loop turn, however many frames
// the turn produced for it. This is the fan-out hot path.

import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Frame } from '../core/index.js';

const framed = new WeakMap<Frame, Buffer>();

/** The frame as bytes on the wire: an unmasked, final text frame (RFC 6455, 5.2). */
export function wire(frame: Frame): Buffer {
  let buf = framed.get(frame);
  if (buf) return buf;
  const payload = frame.bytes;
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  buf = Buffer.allocUnsafe(head + n);
  buf[0] = 0x81;
  if (n < 126) buf[1] = n;
  else if (n < 65536) {
    buf[1] = 126;
    buf.writeUInt16BE(n, 2);
  } else {
    buf[1] = 127;
    buf.writeBigUInt64BE(BigInt(n), 2);
  }
  buf.set(payload, head);
  framed.set(frame, buf);
  return buf;
}

/** Past this, a socket's frames are written at once rather than at the flush. */
const FLUSH_BYTES = 64 * 1024;

/**
 * When queued frames are written. A socket that has not been written to for `gatherMs` is
 * written at the end of the current event-loop turn, so a lone message is not delayed; a socket
 * written to more recently waits for the next gather tick, so a busy socket gets several
 * messages per write. Writes, not messages, are what cost here: each is a system call and a TCP
 * segment. Two queues and at most one timer serve every socket.
 */
export class FlushSchedule {
  private soon: Outlet[] = [];
  private later: Outlet[] = [];
  private soonArmed = false;
  private laterArmed = false;

  constructor(readonly gatherMs: number) {}

  add(o: Outlet, idleFor: number): void {
    if (idleFor >= this.gatherMs) {
      this.soon.push(o);
      if (!this.soonArmed) {
        this.soonArmed = true;
        setImmediate(this.runSoon);
      }
      return;
    }
    this.later.push(o);
    if (!this.laterArmed) {
      this.laterArmed = true;
      setTimeout(this.runLater, this.gatherMs - idleFor);
    }
  }

  private readonly runSoon = (): void => {
    this.soonArmed = false;
    const queue = this.soon;
    this.soon = [];
    for (const o of queue) o.flush();
  };

  private readonly runLater = (): void => {
    this.laterArmed = false;
    const queue = this.later;
    this.later = [];
    for (const o of queue) o.flush();
  };
}

export abstract class Outlet {
  // Allocated on first use: most connections are idle most of the time.
  private pending: Buffer[] | undefined;
  private pendingBytes = 0;
  private lastWrite = -Infinity;
  private readonly socket: Socket;

  constructor(
    readonly ws: WebSocket,
    private readonly schedule: FlushSchedule,
    /** Unsent bytes a socket may hold before its reader counts as stopped. */
    private readonly limit: number,
  ) {
    // ws keeps the socket private; frames are written to it whole, between ws's own frames
    // (pings, close), which ws also writes whole: permessage-deflate is off, so ws never holds
    // a frame back.
    this.socket = (ws as unknown as { _socket: Socket })._socket;
  }

  /** The socket holds more than the limit: its reader has stopped. */
  protected abstract overflowed(backlog: number): void;

  push(frame: Frame): void {
    const buf = wire(frame);
    if (this.pending) this.pending.push(buf);
    else {
      this.pending = [buf];
      this.schedule.add(this, performance.now() - this.lastWrite);
    }
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** Writes what is pending in one write; called by the schedule, and before a close frame. */
  flush(): void {
    const list = this.pending;
    if (!list) return;
    const bytes = this.pendingBytes;
    this.pending = undefined;
    this.pendingBytes = 0;
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.lastWrite = performance.now();
    this.socket.write(list.length === 1 ? (list[0] as Buffer) : Buffer.concat(list, bytes));
    const backlog = this.socket.writableLength;
    if (backlog > this.limit) this.overflowed(backlog);
  }
}
