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
 * When queued frames are written. After a quiet spell the next flush comes at the end of the
 * current event-loop turn, so a lone message is not delayed; while messages keep coming,
 * flushes are at least `gatherMs` apart, so a busy socket gets several messages per write.
 * Writes, not messages, are what cost here: each is a system call and a TCP segment.
 */
export class FlushSchedule {
  private queue: Outlet[] = [];
  private armed = false;
  private last = -Infinity;

  constructor(private readonly gatherMs: number) {}

  add(o: Outlet): void {
    this.queue.push(o);
    if (this.armed) return;
    this.armed = true;
    const wait = this.last + this.gatherMs - performance.now();
    if (wait <= 0) setImmediate(this.run);
    else setTimeout(this.run, wait);
  }

  private readonly run = (): void => {
    this.armed = false;
    this.last = performance.now();
    const queue = this.queue;
    this.queue = [];
    for (const o of queue) o.flush();
  };
}

export abstract class Outlet {
  // Allocated on first use: most connections are idle most of the time.
  private pending: Buffer[] | undefined;
  private pendingBytes = 0;
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
      this.schedule.add(this);
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
    this.socket.write(list.length === 1 ? (list[0] as Buffer) : Buffer.concat(list, bytes));
    const backlog = this.socket.writableLength;
    if (backlog > this.limit) this.overflowed(backlog);
  }
}
