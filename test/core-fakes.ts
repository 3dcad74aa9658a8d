// The chat core on fakes: an in-memory log, a bus that records, a clock that moves only when
// told, and peers that keep what they are sent. No sockets, no database, no timers.

import {
  Chat,
  DEFAULT_LIMITS,
  type Bell,
  type Limits,
  type Log,
  type Peer,
} from '../src/core/index.js';
import type {
  ChangeDraft,
  ChangeOutcome,
  Committed,
  DirectRoom,
  Draft,
  Frame,
  MessageDraft,
  MessageState,
  Passwords,
  SearchHit,
  SearchQuery,
} from '../src/core/ports.js';
import { isChange, judge, type Target } from '../src/store/change-rules.js';
import { containsAll } from '../src/core/search-terms.js';
import { DEFAULT_ACCESS } from '../src/core/ports.js';
import type { Directory } from '../src/core/directory.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { serveJson } from '../src/core/json-requests.js';
import { serveText, startText } from '../src/core/text-commands.js';
import type { Session } from '../src/core/session.js';
import {
  decodeEvent,
  foldKey,
  sentEntry,
  wireMessage,
  type ChatMessage,
  type ClientRequest,
  type LogEntry,
  type MessageEntry,
  type ReactionSummary,
  type ServerEvent,
} from '../src/protocol/index.js';

export class FakeClock {
  private wall = 1_700_000_000_000;
  private mono = 0;
  now(): number {
    return this.wall;
  }
  monotonic(): number {
    return this.mono;
  }
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
}

/** The message log in memory; `hold()` keeps commits waiting until released. */
/** Passwords kept as they are: the core's tests check the flow, not the hashing. */
export const PLAIN_PASSWORDS: Passwords = {
  hash: async (p) => `plain:${p}`,
  verify: async (h, p) => h === `plain:${p}`,
  needsRehash: () => false,
};

export class MemoryLog implements Log {
  /** Each room's log entries, in seq order (messages in their current state). */
  readonly messages = new Map<string, LogEntry[]>();
  /** Reactions by `room seq`: emoji to user id to display name, in the order first made. */
  private readonly reacted = new Map<string, Map<string, Map<string, string>>>();
  /** The size of each append (group commit) in order. */
  readonly batches: number[] = [];
  private held: Promise<void> | undefined;
  private readonly names = new Map<string, { hash: string; skeleton: string; userId: string }>();
  /** The sender id of each stored message, by room and cid. */
  private readonly senders = new Map<string, string>();
  private users = 0;
  /** Each direct room's two user ids, as its first message stored them. */
  private readonly pairs = new Map<string, [string, string]>();
  /** The people, when the core's directory is given: names live there now. */
  dir: Directory | undefined;

  hold(): () => void {
    let release!: () => void;
    this.held = new Promise<void>((r) => (release = r));
    return () => {
      this.held = undefined;
      release();
    };
  }

  append = (async (drafts: readonly Draft[], now: number) => {
    this.batches.push(drafts.length);
    if (this.held) await this.held;
    return drafts.map((d) =>
      isChange(d) ? this.appendChange(d, now) : this.appendMessage(d, now),
    );
  }) as Log['append'];

  private list(room: string): LogEntry[] {
    const list = this.messages.get(room) ?? [];
    this.messages.set(room, list);
    return list;
  }

  private appendMessage(d: MessageDraft, now: number): Committed {
    const list = this.list(d.room);
    const stored = list.find((m) => m.cid === d.cid);
    if (stored) {
      return {
        message:
          stored.kind === 'message'
            ? wireMessage(stored)
            : {
                room: d.room,
                seq: stored.seq,
                from: stored.from,
                text: '',
                ts: stored.ts,
                cid: d.cid,
                me: false,
              },
        duplicate: true,
        actorId: this.senders.get(`${d.room} ${d.cid}`) ?? null,
      };
    }
    const message: ChatMessage = {
      room: d.room,
      seq: list.length + 1,
      from: d.from,
      text: d.text,
      ts: now,
      cid: d.cid,
      me: d.me,
    };
    if (d.replyTo !== undefined) message.replyTo = d.replyTo;
    list.push(sentEntry(message, d.fromId));
    if (d.direct && !this.pairs.has(d.room)) this.pairs.set(d.room, d.direct);
    this.senders.set(`${d.room} ${d.cid}`, d.fromId);
    return { message: { ...message }, duplicate: false, actorId: d.fromId };
  }

  private target(room: string, seq: number): MessageEntry | undefined {
    const e = this.messages.get(room)?.[seq - 1];
    return e?.kind === 'message' ? e : undefined;
  }

  private appendChange(d: ChangeDraft, now: number): ChangeOutcome {
    const list = this.list(d.room);
    const stored = list.find((m) => m.cid === d.cid);
    if (stored) {
      const t = 'target' in stored ? this.target(d.room, stored.target) : undefined;
      return { entry: stored, duplicate: true, authorId: t?.actorId ?? null };
    }
    const t = this.target(d.room, d.target);
    const key = `${d.room} ${d.target}`;
    const reactions = this.reacted.get(key) ?? new Map<string, Map<string, string>>();
    const state: Target | undefined = t && {
      senderId: t.actorId,
      ts: t.ts,
      removed: t.removed ?? false,
      reactions: new Map([...reactions].map(([emoji, by]) => [emoji, new Set(by.keys())])),
    };
    const v = judge(d, state);
    if ('refused' in v) return v;
    if (!t) return { refused: 'NO_SUCH_MESSAGE' };
    const base = {
      room: d.room,
      seq: list.length + 1,
      cid: d.cid,
      from: d.from,
      ts: now,
      target: d.target,
      actor: foldKey(d.from),
      actorId: d.fromId,
    };
    let entry: LogEntry;
    if (v.kind === 'edit') {
      entry = { kind: 'edit', ...base, text: v.text };
      t.text = v.text;
      t.edited = now;
    } else if (v.kind === 'delete') {
      entry = { kind: 'delete', ...base };
      t.text = '';
      t.removed = true;
      delete t.edited;
      for (const e of list) if (e.kind === 'edit' && e.target === d.target) e.text = '';
      this.reacted.delete(key);
    } else {
      entry = { kind: 'reaction', ...base, emoji: v.emoji, on: v.on };
      const by = reactions.get(v.emoji) ?? new Map<string, string>();
      if (v.on) by.set(d.fromId, d.from);
      else by.delete(d.fromId);
      if (by.size > 0) reactions.set(v.emoji, by);
      else reactions.delete(v.emoji);
      this.reacted.set(key, reactions);
    }
    list.push(entry);
    return { entry: { ...entry }, duplicate: false, authorId: t.actorId };
  }

  async after(room: string, after: number, limit: number): Promise<LogEntry[]> {
    const list = this.messages.get(room) ?? [];
    return list
      .filter((m) => m.seq > after)
      .slice(0, limit)
      .map((m) => ({ ...m }));
  }

  async before(room: string, before: number, limit: number): Promise<LogEntry[]> {
    const list = (this.messages.get(room) ?? []).filter((m) => m.seq < before);
    return list.slice(Math.max(0, list.length - limit)).map((m) => ({ ...m }));
  }

  async lastSeq(room: string): Promise<number> {
    return this.messages.get(room)?.length ?? 0;
  }

  async message(room: string, seq: number): Promise<MessageState | null> {
    const t = this.target(room, seq);
    return t ? { message: wireMessage(t), senderId: t.actorId } : null;
  }

  async reactions(room: string, seqs: readonly number[]): Promise<Map<number, ReactionSummary[]>> {
    const out = new Map<number, ReactionSummary[]>();
    for (const seq of seqs) {
      const r = this.reacted.get(`${room} ${seq}`);
      if (!r || r.size === 0) continue;
      out.set(
        seq,
        [...r].map(([emoji, by]) => ({ emoji, count: by.size, by: [...by.values()] })),
      );
    }
    return out;
  }

  async changed(room: string, since: number, before: number, scan: number) {
    const rows = (this.messages.get(room) ?? [])
      .filter((e) => e.seq > since && e.kind !== 'message')
      .slice(0, scan);
    const targets = [...new Set(rows.map((e) => ('target' in e ? e.target : 0)))]
      .filter((x) => x < before)
      .sort((a, b) => a - b);
    const reactions = await this.reactions(room, targets);
    const messages: ChatMessage[] = [];
    for (const seq of targets) {
      const t = this.target(room, seq);
      if (!t) continue;
      const m = wireMessage(t);
      const r = reactions.get(seq);
      if (r) m.reactions = r;
      messages.push(m);
    }
    const more = rows.length === scan;
    const upTo = more ? (rows.at(-1)?.seq ?? since) : Math.max(since, await this.lastSeq(room));
    return { messages, upTo, more };
  }

  /** Newest first, every term in the text: the bounds and ranking are the stores' business. */
  async search(q: SearchQuery): Promise<{ hits: SearchHit[]; more: boolean }> {
    const found = [...new Set(q.rooms)]
      .flatMap((room) => this.messages.get(room) ?? [])
      .filter((m): m is MessageEntry => m.kind === 'message')
      .filter((m) => m.text !== '' && containsAll(m.text, q.terms))
      .sort((a, b) => b.ts - a.ts || b.seq - a.seq);
    const page = found.slice(q.offset, q.offset + q.limit);
    return {
      hits: page.map(({ room, seq, from, text, ts, me }) => ({ room, seq, from, text, ts, me })),
      more: found.length > q.offset + q.limit,
    };
  }

  async rooms(): Promise<{ room: string; lastSeq: number; lastTs: number }[]> {
    return [...this.messages]
      .filter(([room]) => !room.startsWith('@'))
      .map(([room, list]) => ({ room, lastSeq: list.length, lastTs: list.at(-1)?.ts ?? 0 }));
  }

  async directRooms(userId: string): Promise<DirectRoom[]> {
    return [...this.pairs]
      .filter(([, pair]) => pair.includes(userId))
      .map(([room, [a, b]]) => {
        const peer = a === userId ? b : a;
        const names = [...this.names].filter(([, n]) => n.userId === peer);
        return { room, peer, peerKey: names.at(-1)?.[0] ?? null };
      })
      .map(async (d) => ({ ...d, peerKey: (await this.dir?.userById(d.peer))?.key ?? d.peerKey }))
      .reduce<Promise<DirectRoom[]>>(
        async (all, d) => [...(await all), await d],
        Promise.resolve([]),
      );
  }

  async directRoom(a: string, b: string): Promise<string | null> {
    for (const [room, [x, y]] of this.pairs) {
      if ((x === a && y === b) || (x === b && y === a)) return room;
    }
    return null;
  }

  async directPair(room: string): Promise<[string, string] | null> {
    return this.pairs.get(room) ?? null;
  }

  async claimName(
    key: string,
    skeleton: string,
    tokenHash: string,
  ): Promise<'claimed' | 'owned' | 'reserved' | 'confusable'> {
    const held = this.names.get(key);
    if (held) return held.hash === tokenHash ? 'owned' : 'reserved';
    for (const [, n] of this.names) if (n.skeleton === skeleton) return 'confusable';
    const same = [...this.names.values()].find((n) => n.hash === tokenHash);
    this.names.set(key, { hash: tokenHash, skeleton, userId: same?.userId ?? `u_${++this.users}` });
    return 'claimed';
  }

  async nameUser(key: string): Promise<string | null> {
    const user = this.dir ? await this.dir.userByName(key) : null;
    return user?.id ?? this.names.get(key)?.userId ?? null;
  }

  async nameExists(key: string): Promise<boolean> {
    return this.names.has(key);
  }

  async nameHolder(key: string): Promise<string | null> {
    return this.names.get(key)?.hash ?? null;
  }
}

/** A connection that keeps every event it is sent, decoded. */
export class FakePeer implements Peer {
  readonly events: ServerEvent[] = [];
  readonly lines: string[] = [];
  closedWith: { code: number; reason: string } | undefined;
  constructor(
    readonly address: string,
    readonly codec: 'json' | 'text' = 'json',
  ) {}
  send(f: Frame): void {
    if (this.codec === 'text') {
      this.lines.push(f.text);
      return;
    }
    const e = decodeEvent(f.text);
    if (!e) throw new Error(`not an event: ${f.text}`);
    this.events.push(e);
  }
  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }
}

type Of<T extends ServerEvent['type']> = Extract<ServerEvent, { type: T }>;

export class FakeClient {
  private ids = 0;
  constructor(
    readonly core: Core,
    readonly session: Session,
    readonly peer: FakePeer,
  ) {}

  /** Sends a request as the client would; its reply comes later, among `events`. */
  request(req: ClientRequest): string {
    const id = `r${++this.ids}`;
    serveJson(this.core.chat, this.session, JSON.stringify({ ...req, id }), (e) => {
      throw e;
    });
    return id;
  }

  /** Sends a request and waits until everything it set off has settled. */
  async call(req: ClientRequest): Promise<ServerEvent | undefined> {
    const id = this.request(req);
    await this.core.settle();
    return this.peer.events.find((e) => 'id' in e && e.id === id);
  }

  /** Types a line, as a plain-text client would, and waits until what it set off settles. */
  async line(text: string): Promise<void> {
    serveText(this.core.chat, this.session, text, (e) => {
      throw e;
    });
    await this.core.settle();
  }

  of<T extends ServerEvent['type']>(type: T): Of<T>[] {
    return this.peer.events.filter((e): e is Of<T> => e.type === type);
  }

  clear(): void {
    this.peer.events.length = 0;
  }
}

export class Core {
  readonly clock = new FakeClock();
  readonly log = new MemoryLog();
  /** The directory: SQLite in memory, the same code the server runs. */
  readonly store = openSqliteStore(':memory:');
  readonly bells: Bell[] = [];
  readonly errors: unknown[] = [];
  readonly chat: Chat;
  readonly limits: Limits;
  private deferred: (() => void)[] = [];
  private guests = 0;
  /** What the core is told of the server's load: true holds notices until flushNotices. */
  overloaded = false;

  constructor(
    limits: Partial<Limits> = {},
    readonly nodeId = 'n1',
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.log.dir = this.store;
    let users = 0;
    this.chat = new Chat({
      log: this.log,
      dir: this.store,
      markers: this.store,
      passwords: PLAIN_PASSWORDS,
      access: { ...DEFAULT_ACCESS, guests: 'open' },
      newUserId: () => `u_${++users}`,
      bus: { publish: (e) => this.bells.push(e) },
      clock: this.clock,
      defer: (fn) => this.deferred.push(fn),
      overloaded: () => this.overloaded,
      hashToken: (t) => `hash:${t}`,
      newToken: () => `token-${++this.guests}-${'t'.repeat(16)}`,
      randomSuffix: () => String(++this.guests),
      guestSuffix: (t) => `g${t.length}${t.slice(0, 8)}`,
      nodeId,
      limits: this.limits,
      telemetry: {
        messageIn: () => {},
        committed: () => {},
        fannedOut: () => {},
        replayed: () => {},
        refused: () => {},
      },
      onError: (e) => this.errors.push(e),
    });
  }

  /** Runs deferred work and pending promises until nothing is left to run. */
  async settle(): Promise<void> {
    for (let quiet = 0; quiet < 3;) {
      await new Promise<void>((r) => setImmediate(r));
      const run = this.deferred;
      this.deferred = [];
      for (const fn of run) fn();
      quiet = run.length === 0 ? quiet + 1 : 0;
    }
  }

  connect(address = '192.0.2.1', codec: 'json' | 'text' = 'json'): FakeClient {
    const peer = new FakePeer(address, codec);
    return new FakeClient(this, this.chat.connect(peer), peer);
  }

  /** A plain-text client, welcomed: what it is sent is in `peer.lines`. */
  async connectText(address = '192.0.2.1'): Promise<FakeClient> {
    const c = this.connect(address, 'text');
    startText(this.chat, c.session, (e) => {
      throw e;
    });
    await this.settle();
    return c;
  }

  /** A connected client that took `name` and joined `rooms`, its events cleared. */
  async named(name: string, rooms: string[] = ['lobby'], address?: string): Promise<FakeClient> {
    const c = this.connect(address);
    const hello = await c.call({ type: 'hello', name, token: `${name}-token-${'x'.repeat(16)}` });
    if (hello?.type !== 'result') throw new Error(`hello failed: ${JSON.stringify(hello)}`);
    for (const room of rooms) {
      const r = await c.call({ type: 'join', room });
      if (r?.type !== 'result') throw new Error(`join failed: ${JSON.stringify(r)}`);
    }
    c.clear();
    return c;
  }
}
