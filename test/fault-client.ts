// A resilient JSON client model for fault-injection tests: it behaves as the browser client is
// meant to (resume with `since`, page history across a `gap`, keep unacked sends in an outbox and
// resend them with the same cid after every reconnect), and it records everything it sees so a
// test can check the delivery contract afterwards.

import WebSocket from 'ws';
import {
  SUBPROTOCOL,
  type AckEvent,
  type ChatMessage,
  type LifecycleEvent,
  type ServerEvent,
} from '../src/protocol/index.js';

/** A message as a client shows it: folded from the message and every change to it. */
export interface MessageState {
  text: string;
  edited?: number;
  removed: boolean;
  /** Emoji to the names that put it. */
  reactions: Map<string, Set<string>>;
}

/** The state a history or changes answer gives of a message. */
export function stateOf(m: ChatMessage): MessageState {
  return {
    text: m.text,
    ...(m.edited !== undefined && { edited: m.edited }),
    removed: m.removed ?? false,
    reactions: new Map((m.reactions ?? []).map((r) => [r.emoji, new Set(r.by)])),
  };
}

/** A state as a comparable string. */
export function stateKey(s: MessageState): string {
  const reactions = [...s.reactions]
    .filter(([, by]) => by.size > 0)
    .map(([emoji, by]) => [emoji, [...by].sort()] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([s.text, s.edited ?? null, s.removed, reactions]);
}

/** What a client has of one room. */
export class RoomView {
  /** Every seq received (live or from history), in arrival order, repeats included. */
  readonly seqs: number[] = [];
  readonly seen = new Set<number>();
  /** The first copy of each message received, by seq. */
  readonly messages = new Map<number, ChatMessage>();
  /** Each message's state, folded from what came in order. */
  readonly state = new Map<number, MessageState>();
  /** The change entries received (live or replayed), by seq. */
  readonly changes = new Map<number, { cid: string; kind: string }>();
  /** Gaps (their `after`) whose changes to older messages are still to ask for. */
  readonly stale = new Set<number>();
  /** The change entries received, in order: re-applied over a snapshot older than they are. */
  readonly received: LifecycleEvent[] = [];
  /** Seqs of paged holes that history did not return: change entries, never sent on their own. */
  readonly unseen = new Set<number>();
  /** The last seq of the live stream; after a gap marker, `before - 1`. Sent as `since`. */
  liveLast = 0;
  /** Ranges still to page with `history`: the seqs strictly between `after` and `before`. */
  readonly holes: { after: number; before: number }[] = [];
  /** `lastSeq` of the latest join result, and the connection epoch it came on. */
  joinedLastSeq: number | undefined;
  joinedEpoch = -1;

  constructor(readonly room: string) {}
}

/** What an outbox item asks: a send, or a change to message `seq`. */
export type Ask =
  | { type: 'send'; text: string }
  | { type: 'edit'; seq: number; text: string }
  | { type: 'delete'; seq: number }
  | { type: 'react'; seq: number; emoji: string };

export interface OutboxItem {
  room: string;
  cid: string;
  ask: Ask;
  /** How many times it was put on a wire. */
  attempts: number;
  /** Date.now() of the latest transmission. */
  lastSentAt: number;
}

export interface AckRecord {
  room: string;
  cid: string;
  seq: number;
  kind: Ask['type'];
}

export interface FaultClientStats {
  sent: number;
  /** Transmissions of a send after its first one (after a reconnect or a refusal). */
  resent: number;
  /** Connections that reached `welcome`. */
  connects: number;
  /** Connection attempts that closed before `welcome` (server down, refused). */
  failedConnects: number;
  /** Connections cut on purpose with terminate(). */
  drops: number;
  gaps: number;
  historyPages: number;
  /** Acks received for a cid that was already acked. */
  duplicateAcks: number;
  /** Acks thrown away on purpose, with the connection cut (see ackLossRate). */
  lostAcks: number;
  /**
   * Resends answered with the ack of an earlier commit (its ts precedes the resend): the
   * idempotent path, where sending the same cid again must not make a second message.
   */
  idempotentResends: number;
  /** Changes refused for the state of their message (removed, another's): not resent. */
  refusedChanges: number;
  /** `changes` requests made after a gap. */
  changeQueries: number;
}

export interface FaultClientOptions {
  /** Used in cids and messages; letters, digits, - and _ only. */
  name: string;
  rooms: readonly string[];
  /** The server's page port now; undefined while it is down. Read on every attempt. */
  port: () => number | undefined;
  random?: () => number;
  /** Delay before reconnecting, in ms, uniformly in [min, max]. */
  reconnectDelay?: [number, number];
  /**
   * Share of acks to lose: the ack is dropped and the connection cut as it arrives, as if the
   * network died between the commit and the ack. The send is then resent with its cid.
   */
  ackLossRate?: number;
}

type Pending =
  | { kind: 'join'; room: string }
  | { kind: 'send'; cid: string }
  | { kind: 'history'; room: string }
  | { kind: 'changes'; room: string; since: number };

/** Refusals of a change that the state of its message explains: taken as an answer. */
const CHANGE_REFUSALS = new Set([
  'NOT_YOUR_MESSAGE',
  'MESSAGE_REMOVED',
  'NO_SUCH_MESSAGE',
  'TOO_MANY_REACTIONS',
]);

export class FaultClient {
  readonly name: string;
  readonly views = new Map<string, RoomView>();
  /** Unacked sends, in the order they were made. */
  readonly outbox = new Map<string, OutboxItem>();
  readonly acked = new Map<string, AckRecord>();
  /** Contract breaches seen on the wire. Empty when all is well. */
  readonly violations: string[] = [];
  readonly stats: FaultClientStats = {
    sent: 0,
    resent: 0,
    connects: 0,
    failedConnects: 0,
    drops: 0,
    gaps: 0,
    historyPages: 0,
    duplicateAcks: 0,
    lostAcks: 0,
    idempotentResends: 0,
    refusedChanges: 0,
    changeQueries: 0,
  };
  /** Increments on every `welcome`. */
  epoch = 0;

  private readonly random: () => number;
  private readonly delay: [number, number];
  private ws: WebSocket | undefined;
  private ready = false;
  private stopped = false;
  private heldUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();
  private requests = new Map<string, Pending>();
  private readonly filling = new Set<string>();
  private readonly asking = new Set<string>();
  private nextId = 0;
  private nextCid = 0;

  constructor(private readonly opts: FaultClientOptions) {
    this.name = opts.name;
    this.random = opts.random ?? Math.random;
    this.delay = opts.reconnectDelay ?? [10, 100];
    for (const room of opts.rooms) this.views.set(room, new RoomView(room));
  }

  get rooms(): string[] {
    return [...this.views.keys()];
  }

  get reconnects(): number {
    return Math.max(0, this.stats.connects - 1);
  }

  /** True when the current connection got `welcome`. */
  get isReady(): boolean {
    return this.ready;
  }

  start(): void {
    this.connect();
  }

  /** Stops for good: no reconnect, socket closed. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    if (this.ws) this.cut(this.ws);
  }

  /** Cuts the connection abruptly; reconnects after the usual delay, but not before holdMs. */
  drop(holdMs = 0): void {
    if (this.stopped) return;
    this.stats.drops++;
    this.heldUntil = Math.max(this.heldUntil, Date.now() + holdMs);
    if (this.ws) this.cut(this.ws);
    else this.scheduleReconnect();
  }

  /** Makes a send with a fresh cid; it stays in the outbox until acked. */
  send(room: string, text: string): string {
    return this.ask(room, { type: 'send', text });
  }

  /** Makes a request with a fresh cid (a send or a change); it stays in the outbox until acked. */
  ask(room: string, ask: Ask): string {
    if (!this.views.has(room)) throw new Error(`${this.name} is not in ${room}`);
    const cid = `${this.name}-${++this.nextCid}`;
    const item: OutboxItem = { room, cid, ask, attempts: 0, lastSentAt: 0 };
    this.outbox.set(cid, item);
    this.stats.sent++;
    this.transmit(item);
    return cid;
  }

  /**
   * True when this connection joined every room and the client has everything up to the
   * lastSeq each join reported: live stream level with it, no hole left to page.
   */
  caughtUp(sinceEpoch = 0): boolean {
    if (!this.ready || this.epoch <= sinceEpoch) return false;
    for (const v of this.views.values()) {
      if (v.joinedEpoch !== this.epoch || v.joinedLastSeq === undefined) return false;
      if (v.liveLast < v.joinedLastSeq || v.holes.length > 0) return false;
    }
    return true;
  }

  // ---- connection -------------------------------------------------------------------------

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    const [min, max] = this.delay;
    const wait = Math.max(min + this.random() * (max - min), this.heldUntil - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, wait);
  }

  private connect(): void {
    if (this.stopped || this.ws) return;
    const port = this.opts.port();
    if (port === undefined) {
      this.scheduleReconnect();
      return;
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, SUBPROTOCOL, {
      handshakeTimeout: 3000,
    });
    this.ws = ws;
    ws.on('message', (data: WebSocket.RawData) => {
      if (this.ws === ws) this.onFrame(ws, data.toString());
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws === ws) this.cut(ws);
    });
  }

  /** Forgets the connection at once (no frame of it is handled after) and plans the next. */
  private cut(ws: WebSocket): void {
    if (this.ws !== ws) return;
    if (!this.ready) this.stats.failedConnects++;
    this.ws = undefined;
    this.ready = false;
    this.requests = new Map();
    this.filling.clear();
    this.asking.clear();
    ws.terminate();
    this.scheduleReconnect();
  }

  private write(ws: WebSocket, req: Record<string, unknown>): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(req));
  }

  private id(p: Pending): string {
    const id = `r${++this.nextId}`;
    this.requests.set(id, p);
    return id;
  }

  private violation(what: string): void {
    this.violations.push(`${this.name}: ${what}`);
  }

  // ---- frames in --------------------------------------------------------------------------

  private onFrame(ws: WebSocket, raw: string): void {
    let e: ServerEvent;
    try {
      e = JSON.parse(raw) as ServerEvent;
    } catch {
      this.violation(`frame is not JSON: ${raw.slice(0, 80)}`);
      return;
    }
    switch (e.type) {
      case 'welcome':
        return this.onWelcome(ws);
      case 'msg':
        return this.onMessage(e);
      case 'edit':
      case 'delete':
      case 'reaction':
        return this.onChange(e);
      case 'gap':
        return this.onGap(e.room, e.after, e.before);
      case 'ack':
        return this.onAck(ws, e);
      case 'result': {
        const p = e.id === undefined ? undefined : this.requests.get(e.id);
        if (e.id !== undefined) this.requests.delete(e.id);
        if (e.of === 'join' && p?.kind === 'join') {
          const v = this.views.get(p.room);
          if (!v) return;
          if (e.lastSeq < v.liveLast) {
            this.violation(`join ${p.room}: lastSeq ${e.lastSeq} is behind seen ${v.liveLast}`);
          }
          v.joinedLastSeq = e.lastSeq;
          v.joinedEpoch = this.epoch;
        } else if (e.of === 'history' && p?.kind === 'history') {
          this.onHistory(p.room, e.messages, e.more);
        } else if (e.of === 'changes' && p?.kind === 'changes') {
          const v = this.views.get(p.room);
          // The current state of older messages that entries in the gap changed.
          this.asking.delete(p.room);
          if (v) {
            for (const m of e.messages) if (v.seen.has(m.seq)) this.snapshot(v, m, p.since);
            v.stale.delete(p.since);
            this.askChanges(p.room);
          }
        }
        return;
      }
      case 'error':
        return this.onError(ws, e.code, e.id, e.message);
      default:
        return; // presence, rename, typing
    }
  }

  private onWelcome(ws: WebSocket): void {
    if (this.ready) {
      this.violation('second welcome on one connection');
      return;
    }
    this.ready = true;
    this.epoch++;
    this.stats.connects++;
    // Joins first: the server serves a connection's requests in order, so the resends below
    // are handled once every room is joined and replayed.
    for (const v of this.views.values()) {
      this.write(ws, {
        type: 'join',
        id: this.id({ kind: 'join', room: v.room }),
        room: v.room,
        since: v.liveLast,
      });
    }
    for (const item of this.outbox.values()) this.transmit(item);
    for (const room of this.views.keys()) {
      this.fillNext(room);
      this.askChanges(room);
    }
  }

  private record(v: RoomView, m: ChatMessage): void {
    v.seqs.push(m.seq);
    if (v.seen.has(m.seq)) {
      const first = v.messages.get(m.seq);
      if (first && first.cid !== m.cid) {
        this.violation(`${v.room} seq ${m.seq} came as cid ${first.cid} and as cid ${m.cid}`);
      }
      return;
    }
    v.seen.add(m.seq);
    v.messages.set(m.seq, { ...m, room: v.room });
    // A replayed message comes in its current state; the changes after it follow in order.
    v.state.set(m.seq, stateOf(m));
  }

  private onChange(e: LifecycleEvent): void {
    const v = this.views.get(e.room);
    if (!v) {
      this.violation(`${e.type} for a room not joined: ${e.room}`);
      return;
    }
    if (v.seen.has(e.seq)) this.violation(`${e.room}: seq ${e.seq} delivered twice`);
    else if (e.seq !== v.liveLast + 1) {
      this.violation(`${e.room}: live seq ${e.seq} after ${v.liveLast} (out of order)`);
    }
    v.seqs.push(e.seq);
    v.seen.add(e.seq);
    v.changes.set(e.seq, { cid: e.cid, kind: e.type });
    v.received.push(e);
    v.liveLast = Math.max(v.liveLast, e.seq);
    // A change to a message this client has not got yet (in a hole) is applied when it comes.
    const st = v.state.get(e.target);
    if (st) applyChange(st, e);
  }

  /**
   * A snapshot (a history page, a changes answer) of a message, taken at some moment after
   * `since`: the changes received after `since` are applied over it again, in order, since the
   * snapshot may be older than some of them. Each sets what it sets, so the last one wins.
   */
  private snapshot(v: RoomView, m: ChatMessage, since: number): void {
    const st = stateOf(m);
    for (const e of v.received) if (e.target === m.seq && e.seq > since) applyChange(st, e);
    v.state.set(m.seq, st);
  }

  private onMessage(m: ChatMessage): void {
    const v = this.views.get(m.room);
    if (!v) {
      this.violation(`msg for a room not joined: ${m.room}`);
      return;
    }
    if (v.seen.has(m.seq)) this.violation(`${m.room}: seq ${m.seq} delivered twice`);
    else if (m.seq !== v.liveLast + 1) {
      this.violation(`${m.room}: live seq ${m.seq} after ${v.liveLast} (out of order)`);
    }
    this.record(v, m);
    v.liveLast = Math.max(v.liveLast, m.seq);
  }

  private onGap(room: string, after: number, before: number): void {
    this.stats.gaps++;
    const v = this.views.get(room);
    if (!v) {
      this.violation(`gap for a room not joined: ${room}`);
      return;
    }
    if (after !== v.liveLast) {
      this.violation(`${room}: gap after ${after} but the live stream is at ${v.liveLast}`);
    }
    if (before <= after + 1) {
      this.violation(`${room}: empty gap (${after}, ${before})`);
      return;
    }
    v.holes.push({ after, before });
    v.liveLast = Math.max(v.liveLast, before - 1);
    // What entries in the gap did to the messages held already: asked for until answered.
    if (after > 0) v.stale.add(after);
    this.askChanges(room);
    this.fillNext(room);
  }

  /** Asks what changed since the oldest stale gap of a room, one request in flight per room. */
  private askChanges(room: string): void {
    const v = this.views.get(room);
    const ws = this.ws;
    const since = v ? Math.min(...v.stale) : Infinity;
    if (!v || !ws || !this.ready || !Number.isFinite(since) || this.asking.has(room)) return;
    this.asking.add(room);
    this.stats.changeQueries++;
    this.write(ws, {
      type: 'changes',
      id: this.id({ kind: 'changes', room, since }),
      room,
      since,
      before: since + 1,
    });
  }

  /** Pages the oldest open hole of a room, one request in flight per room. */
  private fillNext(room: string): void {
    const v = this.views.get(room);
    const ws = this.ws;
    if (!v || !ws || !this.ready || this.filling.has(room)) return;
    const hole = v.holes[0];
    if (!hole) return;
    this.filling.add(room);
    this.stats.historyPages++;
    this.write(ws, {
      type: 'history',
      id: this.id({ kind: 'history', room }),
      room,
      before: hole.before,
      limit: 200,
    });
  }

  private onHistory(room: string, messages: ChatMessage[], more: boolean): void {
    this.filling.delete(room);
    const v = this.views.get(room);
    const hole = v?.holes[0];
    if (!v || !hole) return;
    const got = new Set<number>();
    let oldest = hole.before;
    for (const m of messages) {
      oldest = Math.min(oldest, m.seq);
      if (m.seq <= hole.after || m.seq >= hole.before) continue;
      if (v.seen.has(m.seq)) this.violation(`${room}: seq ${m.seq} inside a gap was already seen`);
      this.record(v, { ...m, room });
      this.snapshot(v, m, hole.after);
      got.add(m.seq);
    }
    // A page is newest first and whole: once it reaches the hole's start (or the room's), the
    // hole is paged. The seqs it covers and did not return are change entries: history shows
    // their effect on the messages, not them.
    const done = messages.length === 0 || oldest <= hole.after || !more;
    const from = done ? hole.after + 1 : oldest;
    for (let s = from; s < hole.before; s++) if (!got.has(s) && !v.seen.has(s)) v.unseen.add(s);
    if (done) v.holes.shift();
    else hole.before = oldest;
    this.fillNext(room);
  }

  private onAck(ws: WebSocket, e: AckEvent): void {
    const { room, cid, seq } = e;
    if (e.id !== undefined) this.requests.delete(e.id);
    const item = this.outbox.get(cid);
    if (item && this.random() < (this.opts.ackLossRate ?? 0)) {
      this.stats.lostAcks++;
      this.cut(ws);
      return;
    }
    if (item) {
      if (item.attempts > 1 && e.ts < item.lastSentAt) this.stats.idempotentResends++;
      if (item.room !== room)
        this.violation(`ack for ${cid} names room ${room}, sent to ${item.room}`);
      this.outbox.delete(cid);
      this.acked.set(cid, { room: item.room, cid, seq, kind: item.ask.type });
      return;
    }
    const earlier = this.acked.get(cid);
    if (!earlier) {
      this.violation(`ack for unknown cid ${cid}`);
      return;
    }
    this.stats.duplicateAcks++;
    if (earlier.seq !== seq) {
      this.violation(`cid ${cid} acked as seq ${earlier.seq} and again as seq ${seq}`);
    }
  }

  private onError(ws: WebSocket, code: string, id: string | undefined, message: string): void {
    const p = id === undefined ? undefined : this.requests.get(id);
    if (id !== undefined) this.requests.delete(id);
    const retryable = code === 'STORE_UNAVAILABLE' || code === 'RATE_LIMITED';
    const item = p?.kind === 'send' ? this.outbox.get(p.cid) : undefined;
    if (item && item.ask.type !== 'send' && CHANGE_REFUSALS.has(code)) {
      // Refused for the state its message is in: an answer, and nothing was written.
      this.stats.refusedChanges++;
      this.outbox.delete(item.cid);
      return;
    }
    if (!retryable) {
      this.violation(`error ${code} for ${p?.kind ?? 'an unknown request'}: ${message}`);
      return;
    }
    if (p !== undefined && p.kind !== 'send') {
      // A refused join or history page: start over, as a reconnect redoes both.
      ws.terminate();
      return;
    }
    // A refused send stays in the outbox; try it again on this connection a little later.
    // An error with no id (a refused frame whose id could not be read): every unacked send
    // is tried again.
    const cids = p === undefined ? [...this.outbox.keys()] : [p.cid];
    const t = setTimeout(
      () => {
        this.retryTimers.delete(t);
        if (this.ws !== ws || !this.ready) return; // the reconnect resends anyway
        for (const cid of cids) {
          const item = this.outbox.get(cid);
          if (item) this.transmit(item);
        }
      },
      20 + this.random() * 80,
    );
    this.retryTimers.add(t);
  }

  // ---- frames out -------------------------------------------------------------------------

  private transmit(item: OutboxItem): void {
    const ws = this.ws;
    if (!ws || !this.ready) return; // the next welcome resends it
    if (item.attempts > 0) this.stats.resent++;
    item.attempts++;
    item.lastSentAt = Date.now();
    this.write(ws, {
      ...(item.ask.type === 'send' ? { ...item.ask } : item.ask),
      id: this.id({ kind: 'send', cid: item.cid }),
      room: item.room,
      cid: item.cid,
    });
  }
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Applies one change to a message's state; a removed message takes none. */
export function applyChange(s: MessageState, e: LifecycleEvent): void {
  if (s.removed) return;
  switch (e.type) {
    case 'edit':
      s.text = e.text;
      s.edited = e.ts;
      return;
    case 'delete':
      s.text = '';
      s.removed = true;
      s.reactions.clear();
      delete s.edited;
      return;
    case 'reaction': {
      const by = s.reactions.get(e.emoji) ?? new Set<string>();
      if (e.on) by.add(e.from);
      else by.delete(e.from);
      s.reactions.set(e.emoji, by);
      return;
    }
  }
}
