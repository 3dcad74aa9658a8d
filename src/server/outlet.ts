// Frames out: each frame is framed once (header and payload in one buffer) and shared by every
// socket it goes to, and each socket gets one write per event-loop turn, however many frames
// the turn produced for it. This is the fan-out hot path.

import { performance } from 'node:perf_hooks';
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
 * How busy the event loop may be before busy sockets gather. Below it the server has the time
 * to write each message at once, and gathering would trade latency for CPU it is not short of:
 * no frame is held. Past it, gathering keeps the server from saturating.
 */
const SATURATED = 0.85;
/**
 * While gathering: the window is set so that the loop is about this busy, and gathering ends
 * once the loop would be less busy than this without it. Between the two, a load at the edge
 * does not switch at every judgement.
 */
const AIM = 0.7;
/** Gathering starts only where writes are at least this share of the loop's work. */
const WRITES_SHARE = 1 / 3;
/** How often the gather window is judged again, from the work done since. */
const JUDGE_EVERY_MS = 200;
/** The window gathering starts from; it then at most doubles per judgement. */
const MIN_WINDOW_MS = 1;
/** How long a reader may go without confirming progress before being behind counts. */
const PROBE_GRACE_MS = 1000;

/** The clock and the event loop's work so far, in ms, as the schedule reads them to judge. */
export interface Work {
  now: number;
  /** Time the event loop spent not waiting for events. */
  active: number;
}

export function loopWork(): Work {
  return { now: performance.now(), active: performance.eventLoopUtilization().active };
}

/**
 * When queued frames are written. While the server has headroom, every socket is written at the
 * end of the event-loop turn that queued its frames: a message is never held. Once the core
 * nears saturation, and writes are much of its work, busy sockets gather: a socket written to
 * less than the window ago waits until the window has passed, so it gets several messages per
 * write. Writes, not messages, are what cost here: each is a system call and a TCP segment,
 * about the same for one message or ten.
 *
 * How busy the loop is: the share of the time it was not waiting for events (its utilization).
 * A loop that other processes keep off the CPU counts as busy too: it falls behind all the same,
 * and gathering is what lets it catch up. While gathering, the window grows (at most doubling
 * per judgement, up to `maxMs`) until the loop is about AIM busy, and gathering ends when what
 * the held frames saved no longer matters: the loop would be less than AIM busy without it. Two
 * queues and at most one timer serve every socket.
 */
export class FlushSchedule {
  private soon: Flushable[] = [];
  private later: Flushable[] = [];
  private soonArmed: NodeJS.Immediate | undefined;
  private laterArmed = false;
  /** How long a recently written socket waits, in ms; 0 while not gathering. */
  windowMs = 0;
  /** Set while a run writes: every socket of one run counts as written at its start. */
  runStartedAt: number | undefined;
  /** Frames written so far at the end of the turn that queued them, and held to gather. */
  promptFrames = 0;
  heldFrames = 0;
  private busyMs = 0;
  private writes = 0;
  /** Held frames and the writes they went out in, since the last judgement. */
  private held = 0;
  private heldWrites = 0;
  private judged: Work;
  private lastList: readonly Buffer[] = [];
  private lastJoined: Buffer | undefined;

  /** `maxMs` bounds the window; 0 writes every socket at the end of every turn. */
  constructor(
    readonly maxMs: number,
    private readonly work: () => Work = loopWork,
  ) {
    this.judged = work();
  }

  add(o: Flushable, lastWrite: number): void {
    const idleFor = this.windowMs > 0 ? performance.now() - lastWrite : 0;
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
    this.run(queue, false);
  };

  private readonly runLater = (): void => {
    this.laterArmed = false;
    const queue = this.later;
    this.later = [];
    this.run(queue, true);
  };

  private run(queue: Flushable[], held: boolean): void {
    const start = performance.now();
    this.runStartedAt = start;
    let frames = 0;
    let writes = 0;
    for (const o of queue) {
      const n = o.flush();
      frames += n;
      if (n > 0) writes++;
    }
    this.runStartedAt = undefined;
    this.writes += writes;
    if (held) {
      this.heldFrames += frames;
      this.held += frames;
      this.heldWrites += writes;
    } else this.promptFrames += frames;
    const end = performance.now();
    this.busyMs += end - start;
    if (end - this.judged.now >= JUDGE_EVERY_MS) this.judge();
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

  private judge(): void {
    const now = this.work();
    const was = this.judged;
    this.judged = now;
    this.windowMs = nextWindow(this.windowMs, this.maxMs, {
      elapsedMs: now.now - was.now,
      activeMs: now.active - was.active,
      writeMs: this.busyMs,
      writes: this.writes,
      held: this.held,
      heldWrites: this.heldWrites,
    });
    this.busyMs = this.writes = this.held = this.heldWrites = 0;
  }
}

/** What the schedule saw between two judgements. */
export interface Judgement {
  elapsedMs: number;
  /** Of which the event loop was not waiting for events. */
  activeMs: number;
  /** Of which it spent in the schedule's writes; how many, and the held frames among them. */
  writeMs: number;
  writes: number;
  held: number;
  /** The writes the held frames went out in. */
  heldWrites: number;
}

/** The gather window after a judgement (see FlushSchedule). */
export function nextWindow(windowMs: number, maxMs: number, j: Judgement): number {
  if (maxMs === 0 || j.elapsedMs <= 0) return 0;
  const busy = j.activeMs / j.elapsedMs;
  const writing = j.writeMs / j.elapsedMs;
  // What the loop would do without gathering: each held frame its own write.
  const perWrite = j.writes > 0 ? writing / j.writes : 0;
  const demand = busy + perWrite * (j.held - j.heldWrites);
  if (windowMs === 0)
    return demand > SATURATED && writing >= WRITES_SHARE * busy
      ? Math.min(maxMs, MIN_WINDOW_MS)
      : 0;
  if (demand < AIM) return 0;
  // Twofold while still saturated (how far past it, a loop busy all the time cannot tell);
  // towards AIM otherwise, shrinking at most by half.
  const factor = busy >= SATURATED ? 2 : Math.max(0.5, busy / AIM);
  return Math.min(maxMs, Math.max(MIN_WINDOW_MS, windowMs * factor));
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
