// A load generator of the instance scenario (bench/instance.ts starts them, 9,500 people each
// at most, on the core the servers do not have). It holds its share of the people of the plan
// (bench/instance-plan.ts), each on a raw WebSocket from the loopback address of its plan, to
// a node (person i to node i mod the nodes), speaking Parley's JSON protocol: a name (hello,
// then hello with the token after a reconnect), its rooms and direct conversations joined, and
// then, at the activity factor it is given, messages (a typing notice first), reactions, edits
// and dropped connections that come back with `since`, as a Poisson process each.
//
// What it measures, at the clients: every frame received, by kind; the latency of each live
// message (send to receive: the send time, on the machine's monotonic clock, is in the text);
// and the delivery contract: per person and room, each log entry's seq must be the one after
// the last seen (a repeat or a jump is counted), and at the end every member must have reached
// the room's last seq (acked to its senders, whichever generator they are on).
//
// It reconnects as the page does (full-jitter backoff, 500 ms doubling to 5 s), and a refused
// handshake's Retry-After is waited out, with jitter (R to 2R seconds).

import { connect, type Socket } from 'node:net';
import { buildPlan, addressOf, personName, roomName, type Plan } from './instance-plan.js';
import { Histogram } from './instance-hist.js';

// ---- IPC ------------------------------------------------------------------------------------

/** A node to connect to: its WebSocket port, and the Origin to send (its page's, or empty). */
export interface Target {
  port: number;
  origin: string;
}

export interface SetupCommand {
  cmd: 'setup';
  /** Person i connects to `targets[i % targets.length]`: every room spans every node. */
  targets: Target[];
  people: number;
  seed: number;
  /** This generator's people: [from, to) of the plan. */
  from: number;
  to: number;
  /** People connecting at once. */
  concurrency: number;
}
export interface JoinCommand {
  cmd: 'join';
  concurrency: number;
}
export interface LoadCommand {
  cmd: 'load';
  /** The activity factor: 1 is a message every two minutes per person. 0 stops. */
  factor: number;
}
export interface SimpleCommand {
  cmd: 'window' | 'watch' | 'backTimes' | 'stats' | 'status' | 'acks' | 'close';
}
export interface VerifyCommand {
  cmd: 'verify';
  /** The last seq of each conversation, by its key, over every generator's acks. */
  final: [number, number][];
}
export type GenCommand = SetupCommand | JoinCommand | LoadCommand | SimpleCommand | VerifyCommand;

export interface GenStats {
  ms: number;
  latency: [number, number][];
  /** Frames received, by kind. */
  frames: Record<string, number>;
  /** Text frames received, by the node their people are on. */
  framesByNode: number[];
  bytes: number;
  sent: Record<string, number>;
  errors: Record<string, number>;
  /** Entries whose seq was not the one after the last (counted as they come). */
  repeated: number;
  jumped: number;
  gaps: number;
  replayed: number;
  /** Handshakes refused with a Retry-After (503), other failed attempts. */
  shed: number;
  failed: number;
  failedBy: Record<string, number>;
  reconnects: number;
}

export interface GenStatus {
  people: number;
  live: number;
  caughtUp: number;
  unacked: number;
  /** ms since the last frame came. */
  quietMs: number;
  /** Since `watch`: when everyone was back and caught up (ms, monotonic clock), if they are. */
  allBackAt: number | undefined;
}

export interface VerifyResult {
  checked: number;
  /** Entries a member never got (its last seq short of the room's), and extra seen. */
  missing: number;
  beyond: number;
  repeated: number;
  jumped: number;
  gaps: number;
  notLive: number;
}

// ---- clock, frames --------------------------------------------------------------------------

/** Microseconds on the machine's monotonic clock: the same in every process. */
function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

/** A masked client text frame. The mask is zero: the server unmasks any mask, and XOR costs. */
function textFrame(text: string): Buffer {
  const n = Buffer.byteLength(text);
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + n);
  out[0] = 0x81;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  out.writeUInt32BE(0, head);
  out.write(text, head + 4);
  return out;
}

function pongFrame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + payload.length);
  out[0] = 0x8a;
  out[1] = 0x80 | payload.length;
  out.writeUInt32BE(0, 2);
  payload.copy(out, 6);
  return out;
}

const Q = 0x22; // "
const D0 = 0x30;
/** `{"type":"` */
const TYPE_AT = 9;

function readInt(buf: Buffer, at: number, end: number): [number, number] {
  let v = 0;
  let i = at;
  for (; i < end; i++) {
    const c = buf[i] ?? 0;
    if (c < D0 || c > D0 + 9) break;
    v = v * 10 + c - D0;
  }
  return [v, i];
}

const SEQ_KEY = Buffer.from('"seq":');
const TEXT_KEY = Buffer.from('"text":"~');
const LAST_SEQ_KEY = Buffer.from('"lastSeq":');
const ROOM_KEY = Buffer.from('"room":"');

// ---- people ---------------------------------------------------------------------------------

const enum State {
  Off,
  Connecting,
  Open,
}

class Conv {
  /** Last seq seen in order; -1 before the first join. */
  last = -1;
  /** The join's lastSeq in this connection: what comes up to it is the replay. */
  joinedAt = 0;
  resumed = false;
  /** The newest message seen (reactions go on it); the person's own newest (edits). */
  lastMsg = 0;
  own = 0;
  constructor(
    /** A room's index, or -1 - the other person's index for a direct conversation. */
    readonly room: number,
    readonly label: string,
    /** Its key among every generator's: the room's index, or rooms + the pair's number. */
    readonly key: number,
  ) {}
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 5000;
const CONNECT_TIMEOUT_MS = 10_000;

let plan: Plan;
/** The nodes. The page's origin is sent as a browser sends it: the server treats these handshakes as a browser's. */
let targets: Target[] = [];
const people: Person[] = [];
const upgradeHead = (p: number, from: string) =>
  `GET / HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: cGFybGV5LWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\n' +
  (from ? `Origin: ${from}\r\n` : '') +
  'Sec-WebSocket-Protocol: parley.v1\r\n\r\n';

// Counters of the current window.
let hist = new Histogram();
let windowStart = performance.now();
let frames: Record<string, number> = {};
let framesByNode: number[] = [];
let bytesIn = 0;
let sent: Record<string, number> = {};
let errors: Record<string, number> = {};
let repeated = 0;
let jumped = 0;
let gaps = 0;
let replayed = 0;
let shed = 0;
let failed = 0;
/** Why the failed attempts failed: a socket error's code, `timeout`, an HTTP status, or how it closed. */
let failedBy: Record<string, number> = {};
let reconnects = 0;
let lastFrameAt = performance.now();
let allBackAt: number | undefined;
/** Highest seq acked to this generator's people, by conversation key. */
const acked = new Map<number, number>();

const count = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

class Person {
  readonly name: string;
  /** Which of the targets this person connects to. */
  readonly node: number;
  token: string | undefined;
  readonly convs: Conv[] = [];
  sock: Socket | undefined;
  state = State.Off;
  attempt = 0;
  buf: Buffer | undefined;
  upgraded = false;
  welcomed = false;
  joinOnWelcome = true;
  /** A wait the server asked for: a 503's Retry-After, or a close `SERVER_BUSY <seconds>`. */
  retryAfterS = 0;
  /** What ended this attempt, if it was not the server's welcome or a wait. */
  failCause = '';
  timer: NodeJS.Timeout | undefined;
  /** Sends not acked yet, by cid: sent again, same cid, after a reconnect. */
  readonly unacked = new Map<string, string>();
  helloDone = false;
  private cids = 0;
  onNamed: (() => void) | undefined;
  onLive: (() => void) | undefined;

  constructor(readonly i: number) {
    this.name = personName(i);
    this.node = i % targets.length;
    for (const r of plan.roomsOf[i] ?? []) this.convs.push(new Conv(r, roomName(r), r));
    for (const d of plan.directOf[i] ?? []) {
      const lo = Math.min(i, d);
      const hi = Math.max(i, d);
      this.convs.push(
        new Conv(-1 - d, `@${personName(d)}`, plan.rooms.length + lo * plan.people + hi),
      );
    }
  }

  get live(): boolean {
    return this.state === State.Open && this.helloDone && this.convs.every((c) => c.resumed);
  }

  get caughtUp(): boolean {
    return this.live && this.convs.every((c) => c.last >= c.joinedAt);
  }

  conv(room: number): Conv | undefined {
    for (const c of this.convs) if (c.room === room) return c;
    return undefined;
  }

  /** `join`: the rooms too, as after a reconnect; not while the instance is set up. */
  connect(join = true): void {
    clearTimeout(this.timer);
    this.state = State.Connecting;
    this.upgraded = false;
    this.welcomed = false;
    this.joinOnWelcome = join;
    this.retryAfterS = 0;
    this.failCause = '';
    this.helloDone = false;
    this.buf = undefined;
    for (const c of this.convs) c.resumed = false;
    const { port, origin } = targets[this.node] ?? { port: 0, origin: '' };
    const sock = connect({ host: '127.0.0.1', port, localAddress: addressOf(this.i) });
    this.sock = sock;
    sock.setNoDelay(true);
    this.timer = setTimeout(() => {
      this.failCause ||= `timeout ${sock.connecting ? 'connecting' : this.upgraded ? 'upgraded' : 'connected'}`;
      sock.destroy();
    }, CONNECT_TIMEOUT_MS);
    sock.on('connect', () => sock.write(upgradeHead(port, origin)));
    sock.on('data', (chunk: Buffer) => {
      if (this.sock !== sock) return;
      bytesIn += chunk.length;
      const buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
      this.buf = undefined;
      if (this.upgraded) return this.parse(buf);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        this.buf = buf;
        return;
      }
      const head = buf.toString('latin1', 0, end);
      if (!head.startsWith('HTTP/1.1 101 ')) {
        const m = /\r\nretry-after: *(\d+)/i.exec(head);
        if (m) {
          this.retryAfterS = Number(m[1]);
          shed++;
        } else this.failCause = `http ${head.slice(9, 12)}`;
        sock.destroy();
        return;
      }
      this.upgraded = true;
      if (buf.length > end + 4) this.parse(buf.subarray(end + 4));
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      this.failCause ||= e.code ?? 'error';
    });
    sock.on('close', () => {
      if (this.sock !== sock || closing) return;
      this.sock = undefined;
      this.state = State.Off;
      clearTimeout(this.timer);
      if (!this.welcomed && this.retryAfterS === 0) {
        failed++;
        count(failedBy, this.failCause || (this.upgraded ? 'closed after upgrade' : 'closed'));
      }
      this.retryLater(this.retryAfterS);
    });
  }

  /** As the page: connected at the welcome; then the name, and the rooms with `since`. */
  private welcome(): void {
    clearTimeout(this.timer);
    this.welcomed = true;
    this.attempt = 0;
    this.state = State.Open;
    this.opened(this.joinOnWelcome);
  }

  /** As the page: full jitter, doubling from 500 ms to 5 s; a Retry-After waited out. */
  private retryLater(retryAfterS: number): void {
    const delay =
      retryAfterS > 0
        ? retryAfterS * 1000 * (1 + Math.random())
        : Math.floor(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt));
    this.attempt = Math.min(this.attempt + 1, 30);
    this.timer = setTimeout(() => {
      reconnects++;
      this.connect();
    }, delay);
  }

  /** Ends the connection as a network would: no close frame. */
  drop(): void {
    this.sock?.destroy();
  }

  send(json: string): void {
    this.sock?.write(textFrame(json));
  }

  private opened(join: boolean): void {
    const hello: Record<string, string> = { type: 'hello', id: 'h', name: this.name };
    if (this.token) hello.token = this.token;
    this.send(JSON.stringify(hello));
    // Requests are served in order: the joins can follow the hello at once.
    if (join) this.convs.forEach((c, k) => this.join(c, k));
    for (const json of this.unacked.values()) this.send(json);
  }

  join(c: Conv, k: number): void {
    const req: Record<string, unknown> = { type: 'join', id: `j${k}`, room: c.label };
    if (c.last >= 0) req.since = c.last;
    this.send(JSON.stringify(req));
  }

  /** A client id: the kind's letter (m: a message), the person, a count, this process. */
  nextCid(kind: string): string {
    return `${kind}${this.i.toString(36)}-${(this.cids++).toString(36)}-${process.pid.toString(36)}`;
  }

  private parse(buf: Buffer): void {
    let off = 0;
    const len = buf.length;
    while (len - off >= 2) {
      const b0 = buf[off] ?? 0;
      let n = (buf[off + 1] ?? 0) & 0x7f;
      let head = 2;
      if (n === 126) {
        if (len - off < 4) break;
        n = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (n === 127) {
        if (len - off < 10) break;
        n = Number(buf.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (len - off < head + n) break;
      const start = off + head;
      const opcode = b0 & 0x0f;
      if (opcode === 0x1) {
        // Text frames only: the server's pings never stop.
        lastFrameAt = performance.now();
        framesByNode[this.node] = (framesByNode[this.node] ?? 0) + 1;
        if (!this.welcomed) this.welcome();
        this.frame(buf, start, start + n);
      } else if (opcode === 0x9) this.sock?.write(pongFrame(buf.subarray(start, start + n)));
      else if (opcode === 0x8) {
        count(frames, 'close');
        const code = n >= 2 ? buf.readUInt16BE(start) : 0;
        const m = /^SERVER_BUSY (\d+)$/.exec(buf.toString('utf8', start + 2, start + n));
        if (code === 1013 && m && !this.welcomed) {
          this.retryAfterS = Number(m[1]);
          shed++;
        }
        this.sock?.destroy();
        return;
      }
      off = start + n;
    }
    if (off < len) this.buf = buf.subarray(off);
  }

  /** The room a frame's label names, from `"room":"` at `at`; and where the label ends. */
  private labelAt(buf: Buffer, at: number): [Conv | undefined, number] {
    const c0 = buf[at];
    if (c0 === 0x72 /* r */) {
      const [r, end] = readInt(buf, at + 1, at + 12);
      return [this.conv(r), end];
    }
    if (c0 === 0x40 /* @ */ && buf[at + 1] === 0x75 /* u */) {
      const [p, end] = readInt(buf, at + 2, at + 13);
      return [this.conv(-1 - p), end];
    }
    return [undefined, buf.indexOf(Q, at)];
  }

  private frame(buf: Buffer, start: number, end: number): void {
    const t0 = buf[start + TYPE_AT];
    const t1 = buf[start + TYPE_AT + 1];
    // msg, edit, reaction, delete: entries of a room's log.
    const entry =
      t0 === 0x6d /* m */ ||
      (t0 === 0x65 /* e */ && t1 === 0x64) /* ed */ ||
      (t0 === 0x72 /* r */ && t1 === 0x65 && buf[start + TYPE_AT + 2] === 0x61) /* rea */ ||
      (t0 === 0x64 /* d */ && t1 === 0x65);
    if (entry) return this.entry(buf, start, end, t0 === 0x6d);
    if (t0 === 0x74 /* t */) return void count(frames, 'typing');
    if (t0 === 0x70 /* p */) return void count(frames, 'presence');
    if (t0 === 0x72 /* r */ && t1 === 0x65 && buf[start + TYPE_AT + 2] === 0x73 /* res */) {
      count(frames, 'result');
      return this.result(buf, start, end);
    }
    const text = buf.toString('utf8', start, end);
    const ev = JSON.parse(text) as {
      type: string;
      id?: string;
      code?: string;
      room?: string;
      cid?: string;
      seq?: number;
      after?: number;
      before?: number;
    };
    count(frames, ev.type);
    if (ev.type === 'ack') this.ack(ev.room ?? '', ev.cid ?? '', ev.seq ?? 0);
    else if (ev.type === 'error') this.error(ev.code ?? '?', ev.id);
    else if (ev.type === 'gap') {
      gaps++;
      const c = this.byLabel(ev.room ?? '');
      if (c && ev.before !== undefined && ev.after !== undefined) {
        jumped += ev.before - ev.after - 1;
        c.last = Math.max(c.last, ev.before - 1);
      }
    }
  }

  private byLabel(label: string): Conv | undefined {
    return this.convs.find((c) => c.label === label);
  }

  private entry(buf: Buffer, start: number, end: number, isMsg: boolean): void {
    count(frames, isMsg ? 'msg' : 'change');
    const roomAt = buf.indexOf(ROOM_KEY, start + TYPE_AT) + ROOM_KEY.length;
    const [c, labelEnd] = this.labelAt(buf, roomAt);
    const seqAt = buf.indexOf(SEQ_KEY, labelEnd);
    if (!c || seqAt < 0 || seqAt > end) return void count(errors, 'unknown-room');
    const [seq, seqEnd] = readInt(buf, seqAt + SEQ_KEY.length, end);
    // Before its first join a direct conversation the server opened for this person is not
    // followed yet; from the join on, every entry is.
    if (c.last < 0) return;
    if (seq <= c.last) repeated++;
    else {
      if (seq > c.last + 1) jumped += seq - c.last - 1;
      c.last = seq;
    }
    if (!isMsg) return;
    c.lastMsg = Math.max(c.lastMsg, seq);
    if (!c.resumed || seq <= c.joinedAt) {
      replayed++;
      return;
    }
    const at = buf.indexOf(TEXT_KEY, seqEnd);
    if (at < 0 || at > end) return;
    const [sentUs] = readInt(buf, at + TEXT_KEY.length, end);
    hist.add(nowUs() - sentUs);
  }

  private result(buf: Buffer, start: number, end: number): void {
    // `{"type":"result","id":"j3","of":"join","room":...,"lastSeq":N,"members":[...]}`: the
    // members of a room of thousands are not parsed.
    // Only the joins' and the hello's results carry an id; a typing notice's has none.
    if (buf[start + 18] !== 0x69 /* i */) return;
    const idAt = start + 23;
    if (buf[idAt] === 0x6a /* j */) {
      const [k] = readInt(buf, idAt + 1, end);
      const c = this.convs[k];
      const at = buf.indexOf(LAST_SEQ_KEY, idAt);
      if (!c || at < 0 || at > end) return;
      const [lastSeq] = readInt(buf, at + LAST_SEQ_KEY.length, end);
      c.joinedAt = lastSeq;
      c.resumed = true;
      if (c.last < 0) c.last = lastSeq;
      this.check();
      return;
    }
    const r = JSON.parse(buf.toString('utf8', start, end)) as { of?: string; token?: string };
    if (r.of === 'hello') {
      this.token = r.token;
      this.helloDone = true;
      this.check();
    }
  }

  private check(): void {
    if (this.onNamed && this.helloDone) this.onNamed();
    if (this.onLive && this.live) this.onLive();
  }

  private ack(label: string, cid: string, seq: number): void {
    this.unacked.delete(cid);
    const c = this.byLabel(label);
    if (!c) return;
    if (cid.startsWith('m')) c.own = Math.max(c.own, seq);
    acked.set(c.key, Math.max(acked.get(c.key) ?? 0, seq));
  }

  private error(code: string, id: string | undefined): void {
    count(errors, code);
    if (id === undefined) return;
    if (id.startsWith('j')) {
      // A join refused (its rate, say): again in a second.
      const k = Number(id.slice(1));
      const c = this.convs[k];
      const sock = this.sock;
      if (c)
        setTimeout(() => {
          if (this.sock === sock) this.join(c, k);
        }, 1000);
      return;
    }
    const json = this.unacked.get(id);
    if (json === undefined) return;
    if (code === 'RATE_LIMITED' || code === 'STORE_UNAVAILABLE') {
      const sock = this.sock;
      setTimeout(() => {
        if (this.sock === sock && this.unacked.has(id)) this.send(json);
      }, 1000);
    } else this.unacked.delete(id);
  }
}

/**
 * Watching for the moment everyone has come back and caught up (after a crash), every 50 ms.
 * Each person counts from the first time it is back: the routine drops go on meanwhile, so at
 * any one moment somebody may be reconnecting again.
 */
let watcher: NodeJS.Timeout | undefined;
/** Since `watch`: when each person was first back and caught up (ms, monotonic clock). */
let backAt = new Map<Person, number>();
function watch(): void {
  clearInterval(watcher);
  allBackAt = undefined;
  backAt = new Map<Person, number>();
  // The crash comes after this: only a connection made since counts as coming back.
  const before = new Map(people.map((p) => [p, p.sock]));
  watcher = setInterval(() => {
    const now = nowUs() / 1000;
    for (const p of people)
      if (!backAt.has(p) && p.sock !== before.get(p) && p.caughtUp) backAt.set(p, now);
    if (backAt.size < people.length) return;
    allBackAt = Math.max(...backAt.values());
    clearInterval(watcher);
  }, 50);
}

// ---- the load -------------------------------------------------------------------------------

/** Per person, at factor 1: a message every 120 s; reactions and edits as shares of that. */
const MESSAGE_RATE = 1 / 120;
const REACTION_SHARE = 0.2;
const EDIT_SHARE = 0.05;
/** Connections dropped a minute, as a share of all, at factor 1. */
const DROP_SHARE_PER_MIN = 0.005;
/** How long a person types before the message goes: 1 to 3 s. */
const TYPING_MIN_MS = 1000;
const TYPING_SPREAD_MS = 2000;
const TEXT_BYTES = 64;
const EMOJI = ['👍', '🎉', '😂', '❤️'];

let factor = 0;
/** Set by `close`: nobody reconnects any more. */
let closing = false;
let ticker: NodeJS.Timeout | undefined;

interface Arrivals {
  next: number;
  perS: number;
  fire(): void;
}

function pick(): Person | undefined {
  const p = people[Math.floor(Math.random() * people.length)];
  return p?.live ? p : undefined;
}

function pickConv(p: Person): Conv | undefined {
  return p.convs[Math.floor(Math.random() * p.convs.length)];
}

function sendMessage(p: Person, c: Conv): void {
  if (!p.live) return void count(sent, 'skipped');
  const cid = p.nextCid('m');
  const stamp = String(Math.round(nowUs())).padStart(16, '0');
  const text = `~${stamp}|${p.name}|`.padEnd(TEXT_BYTES, 'x');
  const json = JSON.stringify({ type: 'send', id: cid, room: c.label, cid, text });
  p.unacked.set(cid, json);
  p.send(json);
  count(sent, 'msg');
}

const processes: Arrivals[] = [
  {
    next: 0,
    perS: MESSAGE_RATE,
    fire() {
      const p = pick();
      if (!p) return void count(sent, 'skipped');
      const c = pickConv(p);
      if (!c) return;
      p.send(JSON.stringify({ type: 'typing', room: c.label }));
      count(sent, 'typing');
      setTimeout(() => sendMessage(p, c), TYPING_MIN_MS + Math.random() * TYPING_SPREAD_MS);
    },
  },
  {
    next: 0,
    perS: MESSAGE_RATE * REACTION_SHARE,
    fire() {
      // On the newest message of one of the person's conversations, if it has any.
      const p = pick();
      const c = p && pickConv(p);
      if (!p || !c || c.lastMsg === 0) return;
      const cid = p.nextCid('r');
      const emoji = EMOJI[Math.floor(Math.random() * EMOJI.length)];
      const json = JSON.stringify({
        type: 'react',
        id: cid,
        room: c.label,
        cid,
        seq: c.lastMsg,
        emoji,
      });
      p.unacked.set(cid, json);
      p.send(json);
      count(sent, 'reaction');
    },
  },
  {
    next: 0,
    perS: MESSAGE_RATE * EDIT_SHARE,
    fire() {
      const p = pick();
      const c = p && pickConv(p);
      if (!p || !c || c.own === 0) return;
      const cid = p.nextCid('e');
      const text = `edited ${p.name}`.padEnd(TEXT_BYTES, 'y');
      const json = JSON.stringify({ type: 'edit', id: cid, room: c.label, cid, seq: c.own, text });
      p.unacked.set(cid, json);
      p.send(json);
      count(sent, 'edit');
    },
  },
  {
    next: 0,
    perS: DROP_SHARE_PER_MIN / 60,
    fire() {
      const p = pick();
      if (!p) return;
      p.drop();
      count(sent, 'drop');
    },
  },
];

function startLoad(f: number): void {
  factor = f;
  clearInterval(ticker);
  if (f <= 0) return;
  const t0 = performance.now();
  const exp = (perS: number) => (-Math.log(1 - Math.random()) * 1000) / perS;
  for (const a of processes) a.next = t0 + exp(a.perS * people.length * factor);
  ticker = setInterval(() => {
    const now = performance.now();
    for (const a of processes) {
      const rate = a.perS * people.length * factor;
      while (a.next <= now) {
        a.fire();
        a.next += exp(rate);
      }
    }
  }, 2);
}

// ---- commands -------------------------------------------------------------------------------

async function setup(cmd: SetupCommand): Promise<{ ms: number; people: number }> {
  const t0 = performance.now();
  targets = cmd.targets;
  plan = buildPlan(cmd.people, cmd.seed);
  for (let i = cmd.from; i < cmd.to; i++) people.push(new Person(i));
  await inTurn(cmd.concurrency, (p, done) => {
    p.onNamed = done;
    p.connect(false);
  });
  return { ms: performance.now() - t0, people: people.length };
}

/** Once everyone has a name (every generator's people): everyone joins. */
async function joinAll(concurrency: number): Promise<{ ms: number }> {
  const t0 = performance.now();
  await inTurn(concurrency, (p, done) => {
    p.onLive = done;
    p.convs.forEach((c, k) => p.join(c, k));
  });
  return { ms: performance.now() - t0 };
}

/** `start` for each person, `concurrency` at a time: the next starts when one says it is done. */
function inTurn(concurrency: number, start: (p: Person, done: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    let left = people.length;
    if (left === 0) return resolve();
    const launch = () => {
      const p = people[next++];
      if (!p) return;
      let once = false;
      start(p, () => {
        if (once) return;
        once = true;
        if (--left === 0) resolve();
        else launch();
      });
    };
    for (let k = 0; k < concurrency; k++) launch();
  });
}

function stats(): GenStats {
  return {
    ms: performance.now() - windowStart,
    latency: hist.sparse(),
    frames: { ...frames },
    framesByNode: targets.map((_, k) => framesByNode[k] ?? 0),
    bytes: bytesIn,
    sent: { ...sent },
    errors: { ...errors },
    repeated,
    jumped,
    gaps,
    replayed,
    shed,
    failed,
    failedBy,
    reconnects,
  };
}

function resetWindow(): void {
  hist = new Histogram();
  windowStart = performance.now();
  frames = {};
  framesByNode = [];
  sent = {};
  errors = {};
  bytesIn = 0;
  replayed = shed = failed = reconnects = 0;
  failedBy = {};
}

function status(): GenStatus {
  let live = 0;
  let caughtUp = 0;
  let unacked = 0;
  for (const p of people) {
    if (p.live) live++;
    if (p.caughtUp) caughtUp++;
    unacked += p.unacked.size;
  }
  return {
    people: people.length,
    live,
    caughtUp,
    unacked,
    quietMs: performance.now() - lastFrameAt,
    allBackAt,
  };
}

function verify(cmd: VerifyCommand): VerifyResult {
  const final = new Map(cmd.final);
  let checked = 0;
  let missing = 0;
  let beyond = 0;
  let notLive = 0;
  for (const p of people) {
    if (!p.live) notLive++;
    for (const c of p.convs) {
      if (c.last < 0) continue;
      checked++;
      const last = final.get(c.key) ?? 0;
      if (c.last < last) missing += last - c.last;
      else beyond += c.last - last;
    }
  }
  return { checked, missing, beyond, repeated, jumped, gaps, notLive };
}

async function handle(cmd: GenCommand): Promise<unknown> {
  switch (cmd.cmd) {
    case 'setup':
      return setup(cmd);
    case 'join':
      return joinAll(cmd.concurrency);
    case 'load':
      startLoad(cmd.factor);
      return { factor };
    case 'window':
      resetWindow();
      return {};
    case 'watch':
      watch();
      return {};
    case 'backTimes':
      return [...backAt.values()];
    case 'stats':
      return stats();
    case 'status':
      return status();
    case 'acks':
      return [...acked];
    case 'verify':
      return verify(cmd);
    case 'close':
      closing = true;
      startLoad(0);
      for (const p of people) {
        clearTimeout(p.timer);
        p.sock?.destroy();
      }
      return {};
  }
}

if (!process.send) {
  console.error('bench/instance-gen.ts is started by bench/instance.ts');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));
process.on('message', (m: GenCommand & { id: number }) => {
  handle(m).then(
    (result) => process.send?.({ id: m.id, ok: true, result }),
    (err: unknown) =>
      process.send?.({
        id: m.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      }),
  );
});
process.send({ ready: true });
