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

/** What the schedule flushes: an outlet, or anything that writes what it holds. */
export interface Flushable {
  /** Writes what is held, in one write; returns how many frames that was (0: no write). */
  flush(): number;
}

/**
 * The share of the event loop that fan-out writes may take before busy sockets gather longer.
 * Below half, the server has the time to write each message at once, and gathering would trade
 * latency for CPU it is not short of; past it, gathering keeps it from saturating.
 */
const WRITE_SHARE = 0.5;
/**
 * The share aimed at while the load is sustained: while writes would have taken more than
 * WRITE_SHARE without gathering, at every judgement for SUSTAINED_MS. Such a server is near
 * saturation, and at the edge of WRITE_SHARE each burst would tip it over: aiming lower leaves
 * it headroom. It goes back to WRITE_SHARE after as long below it, so a spike changes nothing
 * and a load right at the edge does not switch at every judgement.
 */
const GATHER_SHARE = 0.3;
const SUSTAINED_MS = 1000;
/** How often the gather window is judged again, from the time writes took since. */
const JUDGE_EVERY_MS = 200;
/** The least window: within a burst, a socket just written waits at least this long. */
const MIN_WINDOW_MS = 1;
/** How long a reader may go without confirming progress before being behind counts. */
const PROBE_GRACE_MS = 1000;

/**
 * When queued frames are written. A socket that has not been written to for the current window
 * is written at the end of the current event-loop turn, so a lone message is not delayed; a
 * socket written to more recently waits until the window has passed, so a busy socket gets
 * several messages per write. Writes, not messages, are what cost here: each is a system call
 * and a TCP segment, about the same for one message or ten.
 *
 * The window adapts to load. While writes take less than WRITE_SHARE of the event loop it stays
 * near MIN_WINDOW_MS and latency is that of a write per turn; past it, the window grows (at most
 * doubling per judgement, up to `maxMs`) until they take that share again, so a server under a
 * flood spends its time on more messages per write instead of saturating; under sustained load,
 * until they take GATHER_SHARE. Two queues and at most one timer serve every socket.
 */
export class FlushSchedule {
  private soon: Flushable[] = [];
  private later: Flushable[] = [];
  private soonArmed: NodeJS.Immediate | undefined;
  private laterArmed = false;
  /** How long a recently written socket waits, in ms. */
  windowMs: number;
  /** Set while a run writes: every socket of one run counts as written at its start. */
  runStartedAt: number | undefined;
  private busyMs = 0;
  private frames = 0;
  private writes = 0;
  private judgedAt = performance.now();
  /** Aiming for GATHER_SHARE; and since when the load has been on the other side of WRITE_SHARE. */
  private sustained = false;
  private crossedAt: number | undefined;
  private lastList: readonly Buffer[] = [];
  private lastJoined: Buffer | undefined;

  /** `maxMs` bounds the window; 0 writes every socket at the end of every turn. */
  constructor(readonly maxMs: number) {
    this.windowMs = Math.min(MIN_WINDOW_MS, maxMs);
  }

  add(o: Flushable, lastWrite: number): void {
    const idleFor = performance.now() - lastWrite;
    if (idleFor >= this.windowMs) {
      this.soon.push(o);
      this.soonArmed ??= setImmediate(this.runSoon);
      return;
    }
    this.later.push(o);
    if (!this.laterArmed) {
      this.laterArmed = true;
      setTimeout(this.runLater, this.windowMs - idleFor);
    }
  }

  /**
   * Writes what waits for the end of the turn now. Queued with setImmediate right after the
   * work that produces frames (the group commit), it runs in the same check phase; otherwise
   * the writes would wait for the next loop iteration, behind whatever its poll phase reads.
   */
  readonly writeSoon = (): void => {
    if (!this.soonArmed) return;
    clearImmediate(this.soonArmed);
    this.runSoon();
  };

  private readonly runSoon = (): void => {
    this.soonArmed = undefined;
    const queue = this.soon;
    this.soon = [];
    this.run(queue);
  };

  private readonly runLater = (): void => {
    this.laterArmed = false;
    const queue = this.later;
    this.later = [];
    this.run(queue);
  };

  private run(queue: Flushable[]): void {
    const start = performance.now();
    this.runStartedAt = start;
    for (const o of queue) {
      const n = o.flush();
      this.frames += n;
      if (n > 0) this.writes++;
    }
    this.runStartedAt = undefined;
    const end = performance.now();
    this.busyMs += end - start;
    if (end - this.judgedAt >= JUDGE_EVERY_MS) this.judge(end);
  }

  /**
   * The frames as one buffer. Every member of a room holds the same frames in the same order,
   * so one run joins them once and every socket gets the same bytes.
   */
  joined(list: readonly Buffer[], bytes: number): Buffer {
    const last = this.lastList;
    if (this.lastJoined && last.length === list.length && list.every((b, i) => b === last[i]))
      return this.lastJoined;
    this.lastList = list;
    this.lastJoined = Buffer.concat(list, bytes);
    return this.lastJoined;
  }

  private judge(now: number): void {
    const elapsed = now - this.judgedAt;
    const share = this.busyMs / elapsed;
    // What writes would have taken with a write per frame: a write costs about the same for one
    // frame or several, so this slightly overstates it.
    const demand = this.writes > 0 ? (share * this.frames) / this.writes : 0;
    this.busyMs = this.frames = this.writes = 0;
    this.judgedAt = now;
    // The load becomes sustained, or gone, once it has stayed on the other side of WRITE_SHARE
    // for SUSTAINED_MS.
    const over = demand > WRITE_SHARE;
    if (over === this.sustained) this.crossedAt = undefined;
    else {
      this.crossedAt ??= now;
      if (now - this.crossedAt >= SUSTAINED_MS) {
        this.sustained = over;
        this.crossedAt = undefined;
      }
    }
    const target = this.sustained ? GATHER_SHARE : WRITE_SHARE;
    // Grow at most twofold per judgement; shrink at most by half per period that passed, so a
    // quiet minute brings the window all the way down.
    const factor = Math.min(2, Math.max(0.5 ** (elapsed / JUDGE_EVERY_MS), share / target));
    const next = Math.max(this.windowMs, MIN_WINDOW_MS) * factor;
    this.windowMs = Math.min(this.maxMs, Math.max(MIN_WINDOW_MS, next));
  }
}

/** What every outlet of one gateway shares: one field on each outlet, not one per setting. */
export interface OutletShared {
  schedule: FlushSchedule;
  /** Bytes a reader may be behind (unsent, or sent and not confirmed) before it counts as stopped. */
  sendBufferBytes: number;
}

/** What a reader has confirmed, once it has been asked: most connections never are. */
interface Progress {
  /** The position the reader has confirmed; the last probe's. */
  confirmed: number;
  probed: number;
  /** When the reader last confirmed progress, or was last asked with nothing outstanding. */
  at: number;
}

export abstract class Outlet<S extends OutletShared = OutletShared> implements Flushable {
  // Allocated on first use: most connections are idle most of the time.
  private pending: Buffer[] | undefined;
  private pendingBytes = 0;
  private lastWrite = -Infinity;
  protected readonly socket: Socket;
  /** Bytes handed to the socket. */
  private written = 0;
  private progress: Progress | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly shared: S,
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
      this.shared.schedule.add(this, this.lastWrite);
    }
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** Writes what is pending in one write; called by the schedule, and before a close frame. */
  flush(): number {
    const list = this.pending;
    if (!list) return 0;
    const bytes = this.pendingBytes;
    this.pending = undefined;
    this.pendingBytes = 0;
    if (this.ws.readyState !== this.ws.OPEN) return 0;
    const { schedule, sendBufferBytes } = this.shared;
    this.lastWrite = schedule.runStartedAt ?? performance.now();
    this.socket.write(list.length === 1 ? (list[0] as Buffer) : schedule.joined(list, bytes));
    this.written += bytes;
    const backlog = this.socket.writableLength;
    if (backlog > sendBufferBytes) this.overflowed(backlog);
    else this.probe(sendBufferBytes);
    return list.length;
  }

  /**
   * The kernel takes megabytes for a socket whose reader has stopped (its send buffer, up to
   * tcp_wmem's maximum, and the peer's receive window) before `writableLength` grows at all, so
   * that alone would let a stalled reader hold the limit plus several MiB, unnoticed for tens
   * of seconds. A ping carrying the byte position is answered only once the reader has read up
   * to it: a reader more than `limit` bytes behind what it confirmed, and that confirmed nothing
   * for PROBE_GRACE_MS, has stopped, whatever the kernel holds. The grace lets a burst larger
   * than the limit (a replay on reconnect) reach a reader that is keeping up.
   */
  private probe(limit: number): void {
    let p = this.progress;
    if (this.written - (p?.probed ?? 0) >= limit / 4) {
      p ??= this.progress = { confirmed: 0, probed: 0, at: 0 };
      // Nothing was outstanding: the reader was level, so the grace starts now.
      if (p.probed === p.confirmed) p.at = this.lastWrite;
      p.probed = this.written;
      this.ws.ping(String(this.written));
    }
    // Never asked: less than a quarter of the limit was ever written.
    if (!p) return;
    const unconfirmed = this.written - p.confirmed;
    if (unconfirmed > limit && this.lastWrite - p.at > PROBE_GRACE_MS) this.overflowed(unconfirmed);
  }

  /** A pong echoes a probe's position: the reader has read everything before it. */
  confirm(echo: Buffer): void {
    const p = this.progress;
    if (!p || echo.length === 0 || echo.length > 16) return; // a heartbeat's pong, or not ours
    const at = Number(echo.toString('latin1'));
    if (!Number.isSafeInteger(at) || at <= p.confirmed || at > this.written) return;
    p.confirmed = at;
    p.at = performance.now();
  }
}
