// The chat session over one connection after another: handshake (welcome → hello → join each
// room → resend the outbox), per-room sequence bookkeeping so each message shows once and in
// order, gap filling, commands, presence and typing.

import {
  ERRORS,
  LOBBY,
  TEXT_HELP,
  decodeEvent,
  isDirect,
  isValidText,
  normalizeName,
  normalizeRoom,
  parseLine,
  type ChatMessage,
  type ClientRequest,
  type ErrorCode,
  type ErrorEvent as ErrorFrame,
  type RequestResult,
} from '../protocol/index.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import { randomId, saveIdentity, saveRooms, type Identity } from './storage.js';
import { roomLabel, type View } from './view.js';

const HISTORY_PAGE = 50;
const GUEST_PREFIX = 'guest-';
/** How many missed messages a gap fill pages in before leaving the rest to /history. */
const GAP_FILL_MAX = 500;
const TYPING_EVERY_MS = 3000;
/** Wait before resending a send the server refused for now (rate limit, store down). */
const RETRY_SEND_MS = 3000;

interface RoomState {
  name: string;
  direct: boolean;
  /** We mean to be in it: joined again after every reconnect. */
  joined: boolean;
  /** Joined on the current connection (its join result came). */
  synced: boolean;
  /** Joined at least once: later joins ask only for what came after lastSeq. */
  everSynced: boolean;
  /** History was fetched (direct rooms are fetched when first shown). */
  loaded: boolean;
  /** Highest seq seen with nothing missing below it since we joined. */
  lastSeq: number;
  members: string[];
  /** Name → when the indicator ends (epoch ms). */
  typing: Map<string, number>;
  unread: number;
}

/** What a request was for, so its reply or error can be handled. */
interface Pending {
  req: ClientRequest;
  /** Handshake hello: 0 with the stored name, 1 token only, 2 a fresh token. */
  handshake?: number;
  /** The user asked (command or form), so say what happened. */
  user?: boolean;
  /** History paging to fill a gap down to this seq. */
  gapAfter?: number;
  gapFetched?: number;
}

export interface ChatDeps {
  view: View;
  outbox: Outbox;
  identity: Identity;
  rooms: { rooms: string[]; current: string };
  /** Hands a frame to the socket; false when not connected. */
  transmit(frame: string): boolean;
}

export class Chat {
  private readonly view: View;
  private readonly outbox: Outbox;
  private readonly transmit: (frame: string) => boolean;
  private identity: Identity;
  private readonly rooms = new Map<string, RoomState>();
  private current: string;
  private myName = '';
  /** Hello answered on this connection. */
  private ready = false;
  private nextId = 1;
  private readonly requests = new Map<string, Pending>();
  private readonly typingSent = new Map<string, number>();
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(deps: ChatDeps) {
    this.view = deps.view;
    this.outbox = deps.outbox;
    this.transmit = deps.transmit;
    this.identity = deps.identity;
    this.current = deps.rooms.current;
    for (const r of deps.rooms.rooms) this.room(r).joined = true;
    this.room(this.current);
    this.view.showRoom(this.current);
    this.renderRooms();
    this.renderPending();
  }

  // ---- connection -----------------------------------------------------------------------------

  onOpen(): void {
    this.ready = false;
    this.requests.clear();
    this.sys('Connection opened.', 'conn');
  }

  onClose(code: number, reason: string): void {
    this.ready = false;
    this.requests.clear();
    for (const r of this.rooms.values()) {
      r.synced = false;
      r.typing.clear();
    }
    this.sys('Connection lost.', 'conn');
    if (reason) {
      const known = Object.hasOwn(ERRORS, reason) ? ERRORS[reason as ErrorCode].message : reason;
      this.sys(`${known} (${code})`, 'conn');
    }
    this.renderRoomDetails();
  }

  onFrame(frame: string): void {
    const ev = decodeEvent(frame);
    if (!ev) {
      this.sys(frame);
      return;
    }
    switch (ev.type) {
      case 'welcome':
        this.sys(ev.text, 'welcome');
        this.hello(0);
        return;
      case 'result':
        this.onResult(ev);
        return;
      case 'ack':
        this.take(ev.id);
        this.dropPending(ev.cid);
        return;
      case 'msg':
        this.onMessage(ev);
        return;
      case 'gap': {
        const r = this.room(ev.room);
        r.lastSeq = Math.max(r.lastSeq, ev.before - 1);
        this.fillGap(r, ev.after, ev.before, 0);
        return;
      }
      case 'presence':
        this.onPresence(ev.room, ev.name, ev.event);
        return;
      case 'rename':
        this.onRename(ev.room, ev.from, ev.to);
        return;
      case 'typing':
        this.onTyping(ev.room, ev.name, ev.ttlMs);
        return;
      case 'error':
        this.onError(ev);
        return;
    }
  }

  // ---- user actions -----------------------------------------------------------------------------

  /** A line from the input box: a message, or a command when it starts with `/`. */
  submit(line: string): void {
    if (!line.trim()) return;
    const c = parseLine(line);
    switch (c.cmd) {
      case 'say':
        this.say(this.current, c.text, c.me);
        return;
      case 'msg': {
        const to = normalizeName(c.to);
        if (!to) this.sys(ERRORS.NAME_INVALID.message, 'error');
        else this.say(`@${to.display}`, c.text, false);
        return;
      }
      case 'nick': {
        if (!normalizeName(c.name)) this.sys(ERRORS.NAME_INVALID.message, 'error');
        else if (this.online()) {
          const token = c.key ?? this.identity.token;
          this.request({ type: 'hello', name: c.name, token }, { user: true });
        }
        return;
      }
      case 'join':
        this.joinRoom(c.room);
        return;
      case 'part':
        this.part(c.room ?? this.current);
        return;
      case 'rooms':
        if (this.online()) this.request({ type: 'rooms' }, { user: true });
        return;
      case 'who': {
        const room = c.room ? normalizeRoom(c.room)?.key : this.current;
        if (room === undefined) this.sys(ERRORS.ROOM_INVALID.message, 'error');
        else if (this.online()) this.request({ type: 'who', room }, { user: true });
        return;
      }
      case 'history':
        if (this.online()) {
          const shown = this.room(this.current);
          this.requestHistory(shown, undefined, c.limit ?? HISTORY_PAGE, { user: true });
        }
        return;
      case 'help':
        for (const l of TEXT_HELP.split('\n')) this.sys(l, 'help');
        return;
      case 'quit':
        this.sys('To leave, close this tab.');
        return;
      case 'usage':
        this.sys(`Usage: ${c.usage}`, 'error');
        return;
      case 'unknown':
        this.sys(`Unknown command /${c.name}; /help lists them.`, 'error');
        return;
    }
  }

  joinRoom(raw: string): void {
    const n = normalizeRoom(raw);
    if (!n) {
      this.sys(ERRORS.ROOM_INVALID.message, 'error');
      return;
    }
    const r = this.room(n.key);
    const wasJoined = r.joined;
    r.joined = true;
    this.switchTo(r.name);
    if (this.ready && !(wasJoined && r.synced)) this.join(r, true);
  }

  switchTo(room: string): void {
    const r = this.room(room);
    this.current = r.name;
    r.unread = 0;
    this.view.showRoom(r.name);
    if (r.direct && !r.loaded && this.ready) this.requestHistory(r, undefined, HISTORY_PAGE);
    this.renderRooms();
    this.renderRoomDetails();
    this.renderPending();
  }

  /** Called on every input event: tells the room at most once per TYPING_EVERY_MS. */
  typed(text: string): void {
    const r = this.rooms.get(this.current);
    if (!this.ready || !r?.synced || !text.trim() || text.startsWith('/')) return;
    const now = Date.now();
    if (now - (this.typingSent.get(r.name) ?? 0) < TYPING_EVERY_MS) return;
    this.typingSent.set(r.name, now);
    this.request({ type: 'typing', room: r.name });
  }

  // ---- handshake and requests ---------------------------------------------------------------------

  private hello(step: number): void {
    if (step === 2) this.identity = { token: randomId() };
    const { name, token } = this.identity;
    // Guest names are handed out per connection and cannot be claimed; ask again for a chosen one.
    const claim = step === 0 && name && !name.startsWith(GUEST_PREFIX) ? name : undefined;
    this.request(claim ? { type: 'hello', name: claim, token } : { type: 'hello', token }, {
      handshake: step,
    });
  }

  /** Hello answered: join the rooms again, then resend what was not acknowledged. */
  private onReady(): void {
    this.ready = true;
    for (const r of this.rooms.values()) {
      if (r.joined && !r.direct) this.join(r, false);
      else if (r.direct && r.loaded) this.requestHistory(r, undefined, HISTORY_PAGE);
    }
    this.flushOutbox();
  }

  private join(r: RoomState, user: boolean): void {
    this.request(
      r.everSynced
        ? { type: 'join', room: r.name, since: r.lastSeq }
        : { type: 'join', room: r.name },
      { user },
    );
  }

  private request(req: ClientRequest, ctx: Omit<Pending, 'req'> = {}): boolean {
    const id = `r${this.nextId++}`;
    if (!this.transmit(JSON.stringify({ ...req, id }))) return false;
    this.requests.set(id, { req, ...ctx });
    return true;
  }

  private take(id: string | undefined): Pending | undefined {
    if (id === undefined) return undefined;
    const p = this.requests.get(id);
    this.requests.delete(id);
    return p;
  }

  private online(): boolean {
    if (this.ready) return true;
    this.sys('Not connected yet; try again in a moment.', 'error');
    return false;
  }

  private requestHistory(
    r: RoomState,
    before: number | undefined,
    limit: number,
    ctx: Omit<Pending, 'req'> = {},
  ): void {
    r.loaded = true;
    const req: ClientRequest =
      before === undefined
        ? { type: 'history', room: r.name, limit }
        : { type: 'history', room: r.name, before, limit };
    this.request(req, ctx);
  }

  /** Pages history backwards over after < seq < before. */
  private fillGap(r: RoomState, after: number, before: number, fetched: number): void {
    const missing = before - after - 1;
    if (missing <= 0) return;
    if (fetched >= GAP_FILL_MAX) {
      this.sys(`${missing} earlier messages not loaded; /history shows more.`, '', r.name);
      return;
    }
    const limit = Math.min(HISTORY_PAGE, missing);
    this.requestHistory(r, before, limit, { gapAfter: after, gapFetched: fetched + limit });
  }

  // ---- sending ----------------------------------------------------------------------------------

  private say(room: string, text: string, me: boolean): void {
    if (!isValidText(text)) {
      this.sys(ERRORS.TEXT_INVALID.message, 'error');
      return;
    }
    const entry: OutboxEntry = { cid: randomId(), room, text, me, createdAt: Date.now() };
    this.outbox.add(entry);
    this.renderPending();
    if (this.ready) this.sendEntry(entry);
  }

  private sendEntry(e: OutboxEntry): void {
    this.request({ type: 'send', room: e.room, cid: e.cid, text: e.text, me: e.me });
  }

  private flushOutbox(): void {
    clearTimeout(this.retryTimer);
    for (const e of this.outbox.entries()) this.sendEntry(e);
  }

  private dropPending(cid: string): void {
    if (this.outbox.remove(cid)) this.renderPending();
  }

  // ---- events -----------------------------------------------------------------------------------

  private onResult(ev: RequestResult): void {
    const ctx = this.take(ev.id);
    switch (ev.of) {
      case 'hello': {
        this.identity = { name: ev.name, token: ev.token };
        saveIdentity(this.identity);
        this.myName = ev.name;
        this.view.setMe(ev.name);
        for (const d of ev.direct) this.room(d);
        if (ctx?.handshake !== undefined) {
          this.sys(`You are ${ev.name}.`);
          this.onReady();
        } else {
          this.sys(`You are now known as ${ev.name}.`);
        }
        this.renderRooms();
        this.renderPending();
        return;
      }
      case 'join': {
        const r = this.room(ev.room);
        r.joined = true;
        r.members = [...ev.members];
        if (!r.everSynced) {
          r.lastSeq = Math.max(r.lastSeq, ev.lastSeq);
          this.requestHistory(r, undefined, HISTORY_PAGE);
        } else if (ev.lastSeq < r.lastSeq) {
          // The server's log is behind what we saw (its data was reset): start over.
          this.sys(`The history of ${roomLabel(r.name)} was reset on the server.`, '', r.name);
          this.view.clearMessages(r.name);
          r.lastSeq = ev.lastSeq;
          this.requestHistory(r, undefined, HISTORY_PAGE);
        }
        r.synced = r.everSynced = true;
        if (ctx?.user) this.sys(`Joined ${roomLabel(r.name)}.`, '', r.name);
        this.renderRooms();
        this.renderRoomDetails();
        return;
      }
      case 'part': {
        this.rooms.delete(ev.room);
        this.view.removeRoom(ev.room);
        if (this.current === ev.room) {
          const next = [...this.rooms.values()].find((r) => r.joined);
          this.switchTo(next?.name ?? LOBBY);
        }
        this.sys(`Left ${roomLabel(ev.room)}.`);
        this.renderRooms();
        return;
      }
      case 'history': {
        const r = this.room(ev.room);
        const first = ev.messages[0];
        const last = ev.messages[ev.messages.length - 1];
        for (const m of ev.messages) this.show(r, m);
        // Contiguous with what we have, so nothing below its top is missing.
        if (first && last && first.seq <= r.lastSeq + 1) r.lastSeq = Math.max(r.lastSeq, last.seq);
        if (ctx?.gapAfter !== undefined && first && ev.more && first.seq > ctx.gapAfter + 1) {
          this.fillGap(r, ctx.gapAfter, first.seq, ctx.gapFetched ?? 0);
        }
        if (ctx?.user && ev.messages.length === 0) this.sys('No messages.', '', r.name);
        return;
      }
      case 'rooms': {
        const list = ev.rooms.map((x) => `${roomLabel(x.room)} (${x.members})`).join(', ');
        this.sys(`Rooms: ${list || 'none'}`);
        return;
      }
      case 'who': {
        const r = this.rooms.get(ev.room);
        if (r) r.members = [...ev.members];
        this.sys(`In ${roomLabel(ev.room)}: ${ev.members.join(', ') || 'no one'}`);
        this.renderRoomDetails();
        return;
      }
      case 'typing':
        return;
    }
  }

  private onMessage(m: ChatMessage): void {
    const r = this.room(m.room);
    if (this.outbox.get(m.cid) && m.from === this.myName) this.dropPending(m.cid);
    if (m.seq <= r.lastSeq) return;
    // A hole in the live stream: fetch what is missing.
    if (r.synced && m.seq > r.lastSeq + 1) this.fillGap(r, r.lastSeq, m.seq, 0);
    r.lastSeq = m.seq;
    if (r.typing.delete(m.from)) this.renderTyping();
    if (this.show(r, m) && r.name !== this.current) {
      r.unread++;
      this.renderRooms();
    }
  }

  private show(r: RoomState, m: ChatMessage): boolean {
    return this.view.insertMessage(r.name, m, m.from === this.myName);
  }

  private onPresence(room: string, name: string, event: 'join' | 'leave'): void {
    const r = this.rooms.get(room);
    if (!r || name === this.myName) return;
    r.members = r.members.filter((n) => n !== name);
    if (event === 'join') r.members.push(name);
    else r.typing.delete(name);
    this.sys(
      `${name} ${event === 'join' ? 'joined' : 'left'} ${roomLabel(room)}.`,
      'presence',
      room,
    );
    this.renderRoomDetails();
  }

  private onRename(room: string, from: string, to: string): void {
    const r = this.rooms.get(room);
    if (!r) return;
    r.members = r.members.map((n) => (n === from ? to : n));
    r.typing.delete(from);
    this.sys(`${from} is now known as ${to}.`, 'presence', room);
    this.renderRoomDetails();
  }

  private onTyping(room: string, name: string, ttlMs: number): void {
    const r = this.rooms.get(room);
    if (!r || name === this.myName) return;
    r.typing.set(name, Date.now() + ttlMs);
    this.renderTyping();
  }

  private onError(ev: ErrorFrame): void {
    const ctx = this.take(ev.id);
    const req = ctx?.req;
    if (ctx?.handshake !== undefined && ctx.handshake < 2) {
      const name = req?.type === 'hello' ? req.name : undefined;
      this.sys(name ? `Could not take the name ${name}: ${ev.message}` : ev.message, 'error');
      this.hello(ctx.handshake + 1);
      return;
    }
    if (req?.type === 'send') {
      if (ev.code === 'RATE_LIMITED' || ev.code === 'STORE_UNAVAILABLE') {
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.ready && this.flushOutbox(), RETRY_SEND_MS);
      } else {
        this.dropPending(req.cid);
      }
    }
    if (req?.type === 'join' && ctx?.user) {
      const r = this.rooms.get(req.room);
      if (r && !r.everSynced) {
        this.rooms.delete(r.name);
        this.view.removeRoom(r.name);
        if (this.current === r.name) this.switchTo(LOBBY);
      }
    }
    this.sys(`Error: ${ev.message}`, 'error');
    this.renderRooms();
  }

  // ---- state and rendering ------------------------------------------------------------------------

  private room(name: string): RoomState {
    let r = this.rooms.get(name);
    if (!r) {
      r = {
        name,
        direct: isDirect(name),
        joined: false,
        synced: false,
        everSynced: false,
        loaded: false,
        lastSeq: 0,
        members: [],
        typing: new Map(),
        unread: 0,
      };
      this.rooms.set(name, r);
      this.renderRooms();
    }
    return r;
  }

  private part(raw: string): void {
    const room = isDirect(raw) ? raw : normalizeRoom(raw)?.key;
    const r = room === undefined ? undefined : this.rooms.get(room);
    if (!r) {
      this.sys(ERRORS.NOT_IN_ROOM.message, 'error');
      return;
    }
    r.joined = false;
    if (r.direct || !this.ready) {
      // Nothing to tell the server: forget it locally.
      this.onResult({ type: 'result', of: 'part', room: r.name });
    } else {
      this.request({ type: 'part', room: r.name }, { user: true });
    }
  }

  private sys(text: string, cls = '', room = this.current): void {
    this.view.sys(room, text, cls);
  }

  private renderRooms(): void {
    if (!this.rooms.size) return;
    const list = [...this.rooms.values()];
    this.view.setRooms(list, this.current);
    saveRooms({
      rooms: list.filter((r) => r.joined && !r.direct).map((r) => r.name),
      current: this.current,
    });
  }

  private renderRoomDetails(): void {
    this.view.setMembers(this.rooms.get(this.current)?.members ?? [], this.myName);
    this.renderTyping();
  }

  private renderTyping(): void {
    clearTimeout(this.typingTimer);
    const r = this.rooms.get(this.current);
    const now = Date.now();
    let next = Infinity;
    const names: string[] = [];
    for (const [name, until] of r?.typing ?? []) {
      if (until <= now) r?.typing.delete(name);
      else {
        names.push(name);
        next = Math.min(next, until);
      }
    }
    this.view.setTyping(names);
    if (next !== Infinity) this.typingTimer = setTimeout(() => this.renderTyping(), next - now);
  }

  private renderPending(): void {
    this.view.setPending(this.outbox.entries(), this.myName);
  }
}
