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

/** Past this, a socket's turn is written at once rather than at the end of the turn. */
const FLUSH_BYTES = 64 * 1024;

const dirty = new Set<Outlet>();
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  for (const o of dirty) o.flush();
  dirty.clear();
}

export class Outlet {
  // Allocated on first use: most connections are idle most of the time.
  private pending: Buffer[] | undefined;
  private pendingBytes = 0;
  private readonly socket: Socket;

  constructor(readonly ws: WebSocket) {
    // ws keeps the socket private; frames are written to it whole, between ws's own frames
    // (pings, close), which ws also writes whole: permessage-deflate is off, so ws never holds
    // a frame back.
    this.socket = (ws as unknown as { _socket: Socket })._socket;
  }

  /** Bytes the socket could not hand to the kernel yet: what a reader that stopped grows. */
  get backlog(): number {
    return this.ws.bufferedAmount;
  }

  push(frame: Frame): void {
    const buf = wire(frame);
    (this.pending ??= []).push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= FLUSH_BYTES) {
      this.flush();
      return;
    }
    if (this.pending.length === 1) dirty.add(this);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushAll);
    }
  }

  /** Writes what is pending; called once per turn, and before a close frame. */
  flush(): void {
    const list = this.pending;
    if (!list || list.length === 0) return;
    this.pending = undefined;
    this.pendingBytes = 0;
    dirty.delete(this);
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (list.length === 1) {
      this.socket.write(list[0] as Buffer);
      return;
    }
    this.socket.cork();
    for (const b of list) this.socket.write(b);
    this.socket.uncork();
  }
}
