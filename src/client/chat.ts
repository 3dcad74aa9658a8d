// The chat session over one connection after another: handshake (welcome → hello → join each
// room → resend the outbox), per-room sequence bookkeeping so each message shows once and in
// order, gap filling, paging older history, commands, names, presence, typing, unread counts
// and mentions.

import {
  ERRORS,
  LOBBY,
  TEXT_HELP,
  TEXT_MAX_BYTES,
  decodeEvent,
  foldKey,
  isDirect,
  isTextTooLong,
  isValidText,
  normalizeName,
  normalizeRoom,
  parseLine,
  type ChatMessage,
  type ClientRequest,
  type ErrorCode,
  type ErrorEvent as ErrorFrame,
  type RequestResult,
  type RoomInfo,
  utf8Length,
} from '../protocol/index.js';
import type { SysOptions } from './messages.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import { Pacer } from './pacer.js';
import { PresenceNotes } from './presence-notes.js';
import { mentionsName } from './rich-text.js';
import {
  GUEST_PREFIX,
  hasChosenName,
  randomId,
  saveClosed,
  saveIdentity,
  saveRooms,
  skipName,
  type Identity,
  type RoomList,
} from './storage.js';
import { roomLabel, type View } from './view.js';

const HISTORY_PAGE = 50;
/** How many missed messages a gap fill pages in before leaving the rest to scrolling up. */
const GAP_FILL_MAX = 500;
const TYPING_EVERY_MS = 3000;
/** After a send, the next typing notice may go this soon (the server's minimum interval). */
const TYPING_AFTER_SEND_MS = 1000;
/** Wait before resending a send the server refused for now (rate limit, store down). */
const RETRY_SEND_MS = 3000;
/** Sends on the wire at once; the rest follow as acks come, as fast as the pacer lets them. */
const MAX_IN_FLIGHT = 8;
/** A request unanswered this long, with nothing else heard meanwhile: the connection is dead. */
const REPLY_TIMEOUT_MS = 5000;
/** Nothing heard this long: ask (browsers cannot send WebSocket pings). */
const QUIET_MS = 12_000;
const WATCH_EVERY_MS = 1000;
/** Errors after which a send is tried again by itself; any other error waits for the user. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['RATE_LIMITED', 'STORE_UNAVAILABLE']);

interface RoomState {
  name: string;
  direct: boolean;
  /** We mean to be in it: joined again after every reconnect. */
  joined: boolean;
  /** Joined on the current connection (its join result came, or the server subscribed us). */
  synced: boolean;
  /** Joined at least once: later joins ask only for what came after lastSeq. */
  everSynced: boolean;
  /** Highest seq seen with nothing missing below it since we joined. */
  lastSeq: number;
  members: string[];
  /** Name → when the indicator ends (epoch ms). */
  typing: Map<string, number>;
  unread: number;
  mentions: number;
  loadingOlder: boolean;
  /** The other person's name as they write it, in a direct conversation. */
  peer?: string;
  /** `members` came from the server on this connection (a join result or who). */
  membersKnown: boolean;
}

type Presence = 'online' | 'offline' | 'unknown';

type HistoryKind = 'latest' | 'older' | 'gap' | 'user';

/** What a request was for, so its reply or error can be handled. */
interface Pending {
  req: ClientRequest;
  /** When it went on the wire (epoch ms). */
  sentAt?: number;
  /** Worth sending now or never (typing): never queued behind others. */
  optional?: boolean;
  /** Handshake hello: 0 with the stored name, 1 token only, 2 a fresh token. */
  handshake?: number;
  /** The user asked (command or form), so say what happened. */
  user?: boolean;
  /** A hello from the name prompt: its errors go there. */
  prompt?: boolean;
  history?: HistoryKind;
  /** History paging to fill a gap down to this seq. */
  gapAfter?: number;
  gapFetched?: number;
  /** A room list for the sidebar's "Browse rooms". */
  browse?: boolean;
}

export interface ChatDeps {
  view: View;
  outbox: Outbox;
  identity: Identity;
  rooms: RoomList;
  /** Direct conversations closed from the sidebar. */
  closed: Set<string>;
  /** Ask for a name on load (first visit). */
  askName: boolean;
  /** Hands a frame to the socket; false when not connected. */
  transmit(frame: string): boolean;
  /** Gives up on the connection (it stopped answering); onClose follows at once. */
  drop(): void;
  /** True while the tab is not visible. */
  hidden(): boolean;
  /** A desktop notification (when the user allowed them). */
  notify(title: string, body: string, room: string): void;
}

function isChosen(name: string): boolean {
  return !!name && !name.startsWith(GUEST_PREFIX);
}

function sameName(a: string, b: string): boolean {
  return !!a && !!b && foldKey(a) === foldKey(b);
}

/** Kilobytes with one decimal, rounded up so that "over by" is never 0.0. */
function kb(bytes: number): string {
  return (Math.ceil(bytes / 102.4) / 10).toFixed(1);
}

/** What a close means for the person, in words; nothing when "Connection lost." says it all. */
function closeNotice(code: number, reason: string): string | undefined {
  const known = Object.hasOwn(ERRORS, reason) ? (reason as ErrorCode) : undefined;
  const close = (known && (ERRORS[known] as { close?: number }).close) || code;
  switch (close) {
    case 1001:
      return 'The server is stopping, maybe to restart; reconnecting once it is back…';
    case 1012:
      return 'The server is restarting; reconnecting…';
    case 1013:
      return 'This page fell behind; reconnecting to catch up…';
    case 1011:
      return 'The server could not catch this page up; reconnecting to try again…';
    case 1008:
      return 'The server closed the connection after too many bad or excess messages; reconnecting…';
    case 1009:
      return 'The server closed the connection: a message was too big. Reconnecting…';
    case 1003:
    case 1007:
      return 'The server closed the connection after a frame it could not read; reconnecting…';
    default:
      if (known) return `${ERRORS[known].message} Reconnecting…`;
      return reason ? `The connection closed (${reason}); reconnecting…` : undefined;
  }
}

function clip(text: string, n = 200): string {
  return text.length > n ? `${text.slice(0, n)}…` : text;
}

export class Chat {
  private readonly view: View;
  private readonly outbox: Outbox;
  private readonly deps: ChatDeps;
  private identity: Identity;
  private readonly rooms = new Map<string, RoomState>();
  private readonly closed: Set<string>;
  private current: string;
  private myName = '';
  /** Hello answered on this connection. */
  private ready = false;
  /** Connected before: the next ready is a reconnection. */
  private wasReady = false;
  /** "Cannot reach the server" was said since the last connection. */
  private saidUnreachable = false;
  private nextId = 1;
  /** The socket is open (the hello may not be answered yet). */
  private connected = false;
  /** On the wire and not answered, oldest first. */
  private readonly requests = new Map<string, Pending>();
  /** Made while the pacer had no token: they go first, in order, as tokens come. */
  private readonly waiting: Pending[] = [];
  private readonly pacer = new Pacer();
  private paceTimer: ReturnType<typeof setTimeout> | undefined;
  /** A send was refused for now: no more go until those in flight settle and the wait is over. */
  private held = false;
  private lastHeard = 0;
  private watchTimer: ReturnType<typeof setInterval> | undefined;
  private readonly inFlight = new Set<string>();
  private readonly typingSent = new Map<string, number>();
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** A name submitted in the prompt while offline, taken once connected. */
  private wantedName: string | undefined;
  /** Messages from others that came while the tab was hidden. */
  private unseen = 0;
  private readonly notes: PresenceNotes;
  /** Direct messages sent with /msg, and the line in the room they were sent from. */
  private readonly sentNotes = new Map<string, { to: string; line: HTMLElement }>();

  constructor(deps: ChatDeps) {
    this.deps = deps;
    this.view = deps.view;
    this.outbox = deps.outbox;
    this.identity = deps.identity;
    this.closed = deps.closed;
    this.notes = new PresenceNotes(this.view.log);
    if (hasChosenName(this.identity)) this.myName = this.identity.name ?? '';
    this.view.setMe(this.myName || '…');
    for (const r of deps.rooms.rooms) {
      const n = normalizeRoom(r);
      if (n) this.room(n.key).joined = true;
    }
    // Sends typed for a room before a reload need that room joined to go out.
    for (const e of this.outbox.entries()) {
      if (!isDirect(e.room)) this.room(e.room).joined = true;
    }
    const cur = deps.rooms.current;
    this.current = isDirect(cur) || normalizeRoom(cur) ? cur : LOBBY;
    this.room(this.current);
    this.view.showRoom(this.current);
    this.renderRooms();
    this.renderRoomDetails();
    this.renderPending();
    if (deps.askName) this.view.openNamePrompt('', true);
  }

  // ---- connection -----------------------------------------------------------------------------

  onOpen(): void {
    this.saidUnreachable = false;
    this.ready = false;
    this.connected = true;
    this.requests.clear();
    this.inFlight.clear();
    this.stopSending();
    this.lastHeard = Date.now();
    this.watchTimer = setInterval(() => this.watch(), WATCH_EVERY_MS);
    this.sys('Connection opened.', 'conn', this.current, { key: 'open', counted: true });
  }

  onClose(code: number, reason: string): void {
    this.ready = false;
    this.connected = false;
    this.inFlight.clear();
    this.notes.reset();
    this.stopSending();
    for (const r of this.rooms.values()) {
      r.synced = false;
      r.membersKnown = false;
      r.typing.clear();
      if (r.loadingOlder) {
        r.loadingOlder = false;
        this.view.log.setOlder(r.name, 'more');
      }
    }
    this.sys('Connection lost.', 'conn', this.current, { key: 'lost', counted: true });
    this.saidUnreachable = true;
    const notice = closeNotice(code, reason);
    if (notice) this.sys(notice, 'conn', this.current, { key: `close ${notice}`, counted: true });
    this.view.announce(notice ?? 'Connection lost. Reconnecting.');
    // A name asked for from the prompt and not answered: ask again once connected.
    for (const p of this.requests.values()) {
      if (p.prompt && p.req.type === 'hello' && p.req.name) this.wantedName = p.req.name;
    }
    this.requests.clear();
    if (this.wantedName !== undefined) {
      this.view.setNameBusy(true, 'Waiting for the connection; the name is taken once it is back.');
    }
    this.renderRoomDetails();
    this.renderPending();
  }

  /** A connection attempt failed; said once per outage. */
  onUnreachable(): void {
    if (this.saidUnreachable) return;
    this.saidUnreachable = true;
    const pending = this.outbox.entries().length > 0;
    this.sys(
      pending
        ? 'Cannot reach the server. Your unsent messages are kept here and go out once it is back.'
        : 'Cannot reach the server; trying again.',
      'conn',
      this.current,
      { key: 'unreachable', counted: true },
    );
  }

  onFrame(frame: string): void {
    this.lastHeard = Date.now();
    const ev = decodeEvent(frame);
    if (!ev) {
      this.sys(frame);
      return;
    }
    switch (ev.type) {
      case 'welcome':
        this.sys(ev.text, 'welcome', this.current, { key: 'welcome' });
        // The server's bucket for this connection starts full; ours too, a little smaller.
        this.pacer.reset(
          { ratePerSecond: ev.limits.ratePerSecond, rateBurst: ev.limits.rateBurst },
          Date.now(),
        );
        this.hello(0);
        return;
      case 'result':
        this.onResult(ev);
        return;
      case 'ack':
        this.take(ev.id);
        this.inFlight.delete(ev.cid);
        this.dropPending(ev.cid);
        this.flushOutbox();
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

  /** The tab became visible again: the title stops counting. */
  onVisible(): void {
    this.unseen = 0;
    this.view.setUnseen(0);
    const r = this.rooms.get(this.current);
    if (r && (r.unread > 0 || r.mentions > 0)) {
      r.unread = r.mentions = 0;
      this.renderRooms();
    }
  }

  // ---- user actions -----------------------------------------------------------------------------

  /**
   * A line from the message box: a message, or a command when it starts with `/`. False when
   * the text could not go as it is, so the box keeps the draft.
   */
  submit(line: string): boolean {
    if (!line.trim()) return true;
    const c = parseLine(line);
    switch (c.cmd) {
      case 'say':
        return this.say(this.current, c.text, c.me) !== undefined;
      case 'msg': {
        const to = normalizeName(c.to);
        if (!to) {
          this.sys(ERRORS.NAME_INVALID.message, 'error');
          return false;
        }
        const room = `@${to.key}`;
        const cid = this.say(room, c.text, false);
        if (cid === undefined) return false;
        const line = this.sys(`Sending to ${roomLabel(room)}…`);
        this.sentNotes.set(cid, { to: room, line });
        this.renderPending();
        return true;
      }
      case 'nick': {
        if (!normalizeName(c.name)) this.sys(ERRORS.NAME_INVALID.message, 'error');
        else if (this.online()) {
          const token = c.key ?? this.identity.token;
          this.request({ type: 'hello', name: c.name, token }, { user: true });
        }
        return true;
      }
      case 'join':
        this.joinRoom(c.room);
        return true;
      case 'part':
        this.part(c.room ?? this.current);
        return true;
      case 'rooms':
        if (this.online()) this.request({ type: 'rooms' }, { user: true });
        return true;
      case 'who': {
        const room = c.room
          ? isDirect(c.room)
            ? c.room
            : normalizeRoom(c.room)?.key
          : this.current;
        if (room === undefined) this.sys(ERRORS.ROOM_INVALID.message, 'error');
        else if (this.online()) this.request({ type: 'who', room }, { user: true });
        return true;
      }
      case 'history':
        if (this.online()) {
          this.history(this.room(this.current), 'user', undefined, c.limit ?? HISTORY_PAGE, {
            user: true,
          });
        }
        return true;
      case 'help':
        for (const l of TEXT_HELP.split('\n')) this.sys(l, 'help');
        this.sys('In this page: /who lists the members; Enter sends, Shift+Enter is a new line.');
        return true;
      case 'quit':
        this.sys('To leave, close this tab.');
        return true;
      case 'usage':
        this.sys(`Usage: ${c.usage}`, 'error');
        return false;
      case 'unknown':
        this.sys(`Unknown command /${c.name}; /help lists them.`, 'error');
        return false;
    }
  }

  /** Joins (or creates) a room, or opens a direct conversation for `@name`. */
  joinRoom(raw: string): void {
    const text = raw.trim();
    if (text.startsWith('@')) {
      this.openDirect(text.slice(1));
      return;
    }
    const n = normalizeRoom(text);
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

  /** Opens the direct conversation with a name (in the sidebar, then current). */
  openDirect(name: string): void {
    const n = normalizeName(name);
    if (!n) {
      this.sys(ERRORS.NAME_INVALID.message, 'error');
      return;
    }
    if (!isChosen(this.myName)) {
      this.sys(ERRORS.NAME_REQUIRED.message, 'error');
      this.changeName();
      return;
    }
    const room = `@${n.key}`;
    this.reopen(room);
    const r = this.room(room);
    r.joined = true;
    this.switchTo(room);
  }

  /** A room picked in the sidebar: shown, and joined again if it was left. */
  open(room: string): void {
    const r = this.rooms.get(room);
    if (r && !r.direct && !r.joined) this.joinRoom(room);
    else this.switchTo(room);
  }

  switchTo(room: string): void {
    const r = this.room(room);
    this.current = r.name;
    r.unread = 0;
    r.mentions = 0;
    this.view.showRoom(r.name);
    // A direct room live from a message alone has no member list yet: the join brings it.
    if (this.ready && r.direct && (!r.synced || !r.membersKnown)) this.join(r, true);
    this.renderRooms();
    this.renderRoomDetails();
    this.renderPending();
  }

  /** The room `step` places up or down the sidebar from the current one. */
  switchBy(step: number): string | undefined {
    const list = this.sidebarOrder();
    const i = list.indexOf(this.current);
    const next = list[(i + step + list.length) % list.length];
    if (next !== undefined && next !== this.current) this.switchTo(next);
    return next;
  }

  leave(room: string): void {
    this.part(room);
  }

  /** Called on every input event: tells the room at most once per TYPING_EVERY_MS. */
  typed(text: string): void {
    const r = this.rooms.get(this.current);
    if (!this.ready || !r?.synced || !text.trim() || text.startsWith('/')) return;
    const now = Date.now();
    if (now - (this.typingSent.get(r.name) ?? 0) < TYPING_EVERY_MS) return;
    if (this.request({ type: 'typing', room: r.name }, { optional: true })) {
      this.typingSent.set(r.name, now);
    }
  }

  /** The reader wants older messages of a room (scrolled near its top, or pressed the button). */
  loadOlder(room: string): void {
    const r = this.rooms.get(room);
    if (!r || !this.ready || r.loadingOlder || !r.synced) return;
    const oldest = this.view.log.oldestSeq(room);
    if (oldest === undefined || oldest <= 1) {
      this.view.log.setOlder(room, oldest === undefined && r.lastSeq > 0 ? 'unknown' : 'start');
      return;
    }
    r.loadingOlder = true;
    this.view.log.setOlder(room, 'loading');
    if (!this.history(r, 'older', oldest)) {
      r.loadingOlder = false;
      this.view.log.setOlder(room, 'more');
    }
  }

  retry(cid: string): void {
    const e = this.outbox.get(cid);
    if (!e) return;
    const rest: OutboxEntry = { ...e };
    delete rest.error;
    this.outbox.update(rest);
    this.renderPending();
    this.flushOutbox();
  }

  discard(cid: string): void {
    const note = this.sentNotes.get(cid);
    this.sentNotes.delete(cid);
    if (note) this.view.log.setSysText(note.line, `Not sent to ${roomLabel(note.to)}: discarded.`);
    this.dropPending(cid);
  }

  // ---- names ----------------------------------------------------------------------------------

  /** Opens the name prompt to change the name. */
  changeName(): void {
    this.view.openNamePrompt(hasChosenName(this.identity) ? this.myName : '', false);
  }

  /** The name prompt was sent. */
  submitName(raw: string): void {
    const n = normalizeName(raw);
    if (!n) {
      this.view.setNameError(ERRORS.NAME_INVALID.message);
      return;
    }
    if (n.key.startsWith(GUEST_PREFIX)) {
      this.view.setNameError('Names starting with guest- are given by the server; pick another.');
      return;
    }
    if (sameName(n.display, this.myName) && n.display === this.myName) {
      this.view.closeNamePrompt();
      return;
    }
    if (!this.ready) {
      this.wantedName = n.display;
      this.view.setNameBusy(true, 'Waiting for the connection; the name is taken once it is back.');
      return;
    }
    this.takeName(n.display);
  }

  /** "Later" or "Cancel" on the name prompt. */
  skipName(): void {
    if (!hasChosenName(this.identity)) skipName();
    this.wantedName = undefined;
    this.view.closeNamePrompt();
  }

  private takeName(name: string): void {
    this.wantedName = undefined;
    this.view.setNameBusy(true, 'Taking the name…');
    const ok = this.request(
      { type: 'hello', name, token: this.identity.token },
      { prompt: true, user: true },
    );
    if (!ok) {
      this.wantedName = name;
      this.view.setNameBusy(true, 'Waiting for the connection; the name is taken once it is back.');
    }
  }

  // ---- handshake and requests ---------------------------------------------------------------------

  private hello(step: number): void {
    if (step === 2) this.identity = { token: randomId() };
    const { name, token } = this.identity;
    // Guest names are handed out per token and cannot be claimed; ask again for a chosen one.
    const claim = step === 0 && hasChosenName(this.identity) ? name : undefined;
    this.request(claim ? { type: 'hello', name: claim, token } : { type: 'hello', token }, {
      handshake: step,
    });
  }

  /** Hello answered: join the rooms again, then resend what was not acknowledged. */
  private onReady(): void {
    this.ready = true;
    for (const r of this.rooms.values()) {
      if (r.joined && (!r.direct || r.everSynced || r.name === this.current)) this.join(r, false);
    }
    this.flushOutbox();
    void this.outbox.refresh?.().then((added) => {
      if (!added || !this.ready) return;
      for (const e of this.outbox.entries()) {
        const r = isDirect(e.room) ? undefined : this.room(e.room);
        if (r && !r.joined) {
          r.joined = true;
          this.join(r, false);
        }
      }
      this.renderPending();
      this.flushOutbox();
    });
    if (this.wasReady) this.view.announce('Connected again.');
    this.wasReady = true;
    if (this.wantedName !== undefined) this.takeName(this.wantedName);
  }

  private join(r: RoomState, user: boolean): void {
    this.request(
      r.everSynced
        ? { type: 'join', room: r.name, since: r.lastSeq }
        : { type: 'join', room: r.name },
      { user },
    );
  }

  /** Sends now, or as soon as the pacer allows; false when not connected (or dropped). */
  private request(req: ClientRequest, ctx: Omit<Pending, 'req'> = {}): boolean {
    if (!this.connected) return false;
    const p: Pending = { req, ...ctx };
    if (this.waiting.length === 0 && this.pacer.take(Date.now()) === 0) return this.transmit(p);
    if (p.optional) return false;
    this.waiting.push(p);
    this.flushOutbox();
    return true;
  }

  private transmit(p: Pending): boolean {
    const id = `r${this.nextId++}`;
    if (!this.deps.transmit(JSON.stringify({ ...p.req, id }))) return false;
    p.sentAt = Date.now();
    this.requests.set(id, p);
    return true;
  }

  /** The connection is gone: nothing waits to go on it. */
  private stopSending(): void {
    this.waiting.length = 0;
    this.held = false;
    clearTimeout(this.paceTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.watchTimer);
    this.paceTimer = this.retryTimer = this.watchTimer = undefined;
  }

  /**
   * Notices a dead connection the browser did not report (a network path that went away
   * without a reset): pings a quiet one, and drops one that leaves a request unanswered.
   */
  private watch(): void {
    const now = Date.now();
    const oldest = this.requests.values().next().value;
    if (oldest?.sentAt !== undefined) {
      if (now - oldest.sentAt > REPLY_TIMEOUT_MS && now - this.lastHeard > REPLY_TIMEOUT_MS) {
        this.deps.drop();
      }
      return;
    }
    if (now - this.lastHeard > QUIET_MS && this.waiting.length === 0) {
      this.request({ type: 'ping' });
    }
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

  private history(
    r: RoomState,
    kind: HistoryKind,
    before?: number,
    limit = HISTORY_PAGE,
    extra: Omit<Pending, 'req'> = {},
  ): boolean {
    const req: ClientRequest =
      before === undefined
        ? { type: 'history', room: r.name, limit }
        : { type: 'history', room: r.name, before, limit };
    return this.request(req, { history: kind, ...extra });
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
    this.history(r, 'gap', before, limit, { gapAfter: after, gapFetched: fetched + limit });
  }

  // ---- sending ----------------------------------------------------------------------------------

  /** Queues a message; its cid, or undefined when refused (the reason is said). */
  private say(room: string, text: string, me: boolean): string | undefined {
    if (isTextTooLong(text)) {
      const n = utf8Length(text);
      this.sys(
        `Too long to send: ${kb(n)} KB, ${kb(n - TEXT_MAX_BYTES)} KB over the ${TEXT_MAX_BYTES / 1024} KB limit. ` +
          'It is still in the box: shorten it or send it in parts.',
        'error',
      );
      return undefined;
    }
    if (!isValidText(text)) {
      this.sys(ERRORS.TEXT_INVALID.message, 'error');
      return undefined;
    }
    const entry: OutboxEntry = { cid: randomId(), room, text, me, createdAt: Date.now() };
    // The others stop showing "typing" when the message lands; the next message may say so
    // again a second after this one (sooner, the server drops it).
    this.typingSent.set(room, Date.now() - TYPING_EVERY_MS + TYPING_AFTER_SEND_MS);
    this.outbox.add(entry);
    this.renderPending();
    if (room === this.current) this.view.log.scrollToBottom();
    this.flushOutbox();
    return entry.cid;
  }

  /**
   * Sends what waits, as fast as the pacer allows: requests made while it had no token first,
   * then the outbox, oldest first. Sends pipelined on one connection are committed in order.
   */
  private flushOutbox(): void {
    clearTimeout(this.paceTimer);
    this.paceTimer = undefined;
    if (!this.connected) return;
    for (;;) {
      const next = this.waiting[0] ?? this.nextSend();
      if (!next) return;
      const wait = this.pacer.take(Date.now());
      if (wait > 0) {
        this.paceTimer = setTimeout(() => this.flushOutbox(), wait);
        return;
      }
      if (next === this.waiting[0]) this.waiting.shift();
      if (!this.transmit(next)) return;
      if (next.req.type === 'send') this.inFlight.add(next.req.cid);
    }
  }

  /** The oldest send not on the wire, unless sends are held or enough are in flight. */
  private nextSend(): Pending | undefined {
    if (!this.ready || this.inFlight.size >= MAX_IN_FLIGHT) return undefined;
    if (this.held) {
      // Resume from the oldest unacked once those in flight have settled, after the wait.
      if (this.inFlight.size === 0) {
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined;
          this.held = false;
          this.flushOutbox();
        }, RETRY_SEND_MS);
      }
      return undefined;
    }
    for (const e of this.outbox.entries()) {
      if (e.error !== undefined || this.inFlight.has(e.cid)) continue;
      return { req: { type: 'send', room: e.room, cid: e.cid, text: e.text, me: e.me } };
    }
    return undefined;
  }

  private dropPending(cid: string): void {
    this.inFlight.delete(cid);
    if (this.outbox.remove(cid)) this.renderPending();
  }

  // ---- events -----------------------------------------------------------------------------------

  private onResult(ev: RequestResult): void {
    const ctx = this.take(ev.id);
    switch (ev.of) {
      case 'hello':
        this.onHello(ev.name, ev.token, ev.direct, ctx);
        return;
      case 'join': {
        const r = this.room(ev.room);
        r.joined = true;
        // In a direct room, the participants connected now.
        r.members = [...ev.members];
        r.membersKnown = true;
        if (!r.everSynced) {
          r.lastSeq = Math.max(r.lastSeq, ev.lastSeq);
          this.loadLatest(r);
        } else if (ev.lastSeq < r.lastSeq) {
          // The server's log is behind what we saw (its data was reset): start over.
          this.sys(`The history of ${roomLabel(r.name)} was reset on the server.`, '', r.name);
          this.view.log.clear(r.name);
          r.lastSeq = ev.lastSeq;
          this.loadLatest(r);
        }
        r.synced = r.everSynced = true;
        if (ctx?.user) this.sys(`Joined ${roomLabel(r.name)}.`, '', r.name);
        this.renderRooms();
        this.renderRoomDetails();
        return;
      }
      case 'part':
        this.forget(ev.room);
        if (ctx?.user) this.sys(`Left ${roomLabel(ev.room)}.`);
        return;
      case 'history':
        this.onHistory(ev.room, ev.messages, ev.more, ctx);
        return;
      case 'rooms': {
        if (ctx?.browse) {
          this.showDirectory(ev.rooms);
          return;
        }
        const list = ev.rooms.map((x) => `${roomLabel(x.room)} (${x.members})`).join(', ');
        this.sys(`Rooms: ${list || 'none'}`);
        return;
      }
      case 'who': {
        const r = this.rooms.get(ev.room);
        if (r && !r.direct) {
          r.members = [...ev.members];
          r.membersKnown = true;
        }
        this.sys(`In ${roomLabel(ev.room)}: ${ev.members.join(', ') || 'no one'}`);
        this.renderRoomDetails();
        return;
      }
      case 'typing':
      case 'ping':
        return;
    }
  }

  private onHello(name: string, token: string, direct: string[], ctx: Pending | undefined): void {
    const before = this.myName;
    this.identity = { name, token };
    saveIdentity(this.identity);
    this.myName = name;
    this.view.setMe(name);
    if (before && !sameName(before, name)) {
      // Direct conversations belong to a name: a new name leaves the old ones behind.
      for (const r of [...this.rooms.values()]) if (r.direct) this.forget(r.name);
      for (const r of this.rooms.values()) {
        r.members = r.members.map((n) => (n === before ? name : n));
      }
    }
    for (const d of direct) if (!this.closed.has(d)) this.room(d).joined = true;
    if (ctx?.handshake !== undefined) {
      this.sys(`You are ${name}.`, '', this.current, { key: 'you' });
      this.onReady();
    } else {
      this.sys(`You are now known as ${name}.`);
      this.view.announce(`You are now known as ${name}.`);
    }
    if (ctx?.prompt || (ctx?.user && this.view.namePromptOpen)) this.view.closeNamePrompt();
    this.renderRooms();
    this.renderRoomDetails();
    this.renderPending();
  }

  private loadLatest(r: RoomState): void {
    if (r.lastSeq === 0) {
      this.view.log.setOlder(r.name, 'start');
      return;
    }
    this.history(r, 'latest');
  }

  private onHistory(room: string, messages: ChatMessage[], more: boolean, ctx?: Pending): void {
    const r = this.room(room);
    const first = messages[0];
    const last = messages[messages.length - 1];
    this.show(r, messages, false);
    // Contiguous with what we have, so nothing below its top is missing.
    if (first && last && first.seq <= r.lastSeq + 1) r.lastSeq = Math.max(r.lastSeq, last.seq);
    switch (ctx?.history) {
      case 'gap':
        if (ctx.gapAfter !== undefined && first && more && first.seq > ctx.gapAfter + 1) {
          this.fillGap(r, ctx.gapAfter, first.seq, ctx.gapFetched ?? 0);
        }
        return;
      case 'older':
      case 'latest': {
        r.loadingOlder = false;
        const oldest = this.view.log.oldestSeq(r.name);
        const atStart = oldest === undefined ? !more : oldest <= 1;
        this.view.log.setOlder(r.name, atStart ? 'start' : 'more');
        return;
      }
      case 'user':
        if (messages.length === 0) this.sys('No messages.', '', r.name);
        return;
      default:
        return;
    }
  }

  private onMessage(m: ChatMessage): void {
    const r = this.room(m.room);
    if (r.direct) this.reopen(r.name);
    if (m.seq <= r.lastSeq) {
      this.show(r, [m], false);
      return;
    }
    // A hole in the live stream: fetch what is missing.
    if (r.synced && m.seq > r.lastSeq + 1) this.fillGap(r, r.lastSeq, m.seq, 0);
    r.lastSeq = m.seq;
    if (!r.synced) {
      // A direct message subscribes us on the server: it is live from here on.
      r.synced = r.everSynced = r.joined = true;
      if (this.view.log.oldestSeq(r.name) === undefined) {
        this.view.log.setOlder(r.name, m.seq > 1 ? 'more' : 'start');
      }
    }
    if (r.typing.delete(m.from)) this.renderTyping();
    const shown = this.show(r, [m], true);
    if (shown) this.arrived(r, m);
  }

  /** Shows messages once; an own message also ends its pending line. */
  private show(r: RoomState, messages: ChatMessage[], live: boolean): boolean {
    for (const m of messages) {
      const mine = sameName(m.from, this.myName);
      if (mine && this.outbox.get(m.cid)) this.dropPending(m.cid);
      if (r.direct && !mine && r.peer !== m.from) {
        r.peer = m.from;
        if (r.name === this.current) this.renderRoomDetails();
      }
    }
    return this.view.log.insert(r.name, messages, live).length > 0;
  }

  /** A new message from someone: unread counts, the title, notifications, screen readers. */
  private arrived(r: RoomState, m: ChatMessage): void {
    if (sameName(m.from, this.myName)) return;
    // A direct message is addressed to you as much as a mention is.
    const mention = r.direct || mentionsName(m.text, this.myName);
    const hidden = this.deps.hidden();
    const here = r.name === this.current;
    if (!here || hidden) {
      r.unread++;
      if (mention) r.mentions++;
      if (!here) this.renderRooms();
    }
    if (hidden) {
      this.unseen++;
      this.view.setUnseen(this.unseen);
      if (mention) {
        const where = r.direct ? '(direct message)' : `in ${roomLabel(r.name)}`;
        this.deps.notify(`${m.from} ${where}`, clip(m.text), r.name);
      }
    }
    const said = m.me ? `${m.from} ${m.text}` : `${m.from}: ${m.text}`;
    if (here) this.view.announce(clip(said));
    else if (mention) this.view.announce(clip(`In ${roomLabel(r.name)}, ${said}`));
  }

  private onPresence(room: string, name: string, event: 'join' | 'leave'): void {
    const r = this.rooms.get(room);
    if (!r || sameName(name, this.myName)) return;
    r.members = r.members.filter((n) => n !== name);
    if (event === 'join') r.members.push(name);
    else r.typing.delete(name);
    r.members.sort((a, b) => a.localeCompare(b));
    // A direct room's presence only moves its dot; a line there would say the obvious.
    if (!r.direct) {
      if (event === 'join') this.notes.join(room, name);
      else this.notes.leave(room, name);
    }
    if (room === this.current) this.renderRoomDetails();
  }

  private onRename(room: string, from: string, to: string): void {
    const r = this.rooms.get(room);
    if (!r) return;
    r.members = r.members.map((n) => (n === from ? to : n)).sort((a, b) => a.localeCompare(b));
    r.typing.delete(from);
    if (!r.direct) this.notes.rename(room, from, to);
    if (room === this.current) this.renderRoomDetails();
  }

  private onTyping(room: string, name: string, ttlMs: number): void {
    const r = this.rooms.get(room);
    if (!r || sameName(name, this.myName)) return;
    r.typing.set(name, Date.now() + ttlMs);
    if (room === this.current) this.renderTyping();
  }

  private onError(ev: ErrorFrame): void {
    const ctx = this.take(ev.id);
    const req = ctx?.req;
    if (ev.code === 'RATE_LIMITED' && ctx) this.pacer.refused(Date.now());
    if (ev.code === 'RATE_LIMITED' && ctx && this.again(ctx)) {
      // Refused before it was read: it goes again first, once the pacer allows.
      this.waiting.unshift({ ...ctx, sentAt: undefined });
      this.flushOutbox();
      return;
    }
    if (ctx?.handshake !== undefined && ctx.handshake < 2) {
      const name = req?.type === 'hello' ? req.name : undefined;
      this.sys(name ? `Could not take the name ${name}: ${ev.message}` : ev.message, 'error');
      if (name) this.view.openNamePrompt(name, true, this.nameError(name, ev.code, ev.message));
      this.hello(ctx.handshake + 1);
      return;
    }
    if (ctx?.prompt && req?.type === 'hello') {
      this.view.setNameBusy(false);
      this.view.setNameError(this.nameError(req.name ?? '', ev.code, ev.message));
      this.view.nameInput.focus();
      return;
    }
    if (req?.type === 'send') {
      this.inFlight.delete(req.cid);
      if (TRANSIENT.has(ev.code)) {
        // Later sends may be in flight and land first: hold the rest, so that what is sent
        // again is not overtaken by more than those.
        this.held = true;
        this.flushOutbox();
        return;
      }
      const e = this.outbox.get(req.cid);
      if (e) {
        this.outbox.update({ ...e, error: ev.message });
        this.renderPending();
        this.view.announce(`Message not sent: ${ev.message}`);
      }
      this.flushOutbox();
      return;
    }
    if (req?.type === 'history') {
      const r = this.rooms.get(req.room);
      if (r?.loadingOlder) {
        r.loadingOlder = false;
        this.view.log.setOlder(r.name, 'more');
      }
    }
    if (req?.type === 'join') {
      const r = this.rooms.get(req.room);
      if (r && !r.everSynced) {
        this.forget(r.name);
        if (r.direct) this.closed.delete(r.name);
      }
    }
    if (req?.type === 'part' && ev.code === 'NOT_IN_ROOM') {
      // Not in it on the server either: leaving is done.
      this.forget(req.room);
      this.sys(`Left ${roomLabel(req.room)}.`);
      return;
    }
    if (req?.type === 'typing') return;
    this.sys(`Error: ${ev.message}`, 'error');
    this.renderRooms();
  }

  /** A request refused for the rate that is sent again by itself (a send has its own way). */
  private again(ctx: Pending): boolean {
    switch (ctx.req.type) {
      case 'send':
      case 'typing':
        return false;
      case 'hello':
        // A name the user asked for: the prompt says to wait.
        return ctx.handshake !== undefined;
      default:
        return true;
    }
  }

  private nameError(name: string, code: ErrorCode, message: string): string {
    switch (code) {
      case 'NAME_TAKEN':
        return `Someone connected right now is called ${name}. Pick another name.`;
      case 'NAME_RESERVED':
        return `${name} belongs to someone else (it is kept for their browser). Pick another name.`;
      case 'NAME_INVALID':
        return message;
      case 'RATE_LIMITED':
        return 'Too many name changes; wait a minute and try again.';
      default:
        return message;
    }
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
        lastSeq: 0,
        members: [],
        typing: new Map(),
        unread: 0,
        mentions: 0,
        loadingOlder: false,
        membersKnown: false,
      };
      this.rooms.set(name, r);
      this.renderRooms();
    }
    return r;
  }

  /** Who a direct conversation is between (whether connected or not). */
  private directMembers(r: RoomState): string[] {
    const peer = r.peer ?? r.name.slice(1);
    return sameName(peer, this.myName) ? [this.myName] : [this.myName, peer];
  }

  /** Connected now, not connected, or unknown (while we are not connected ourselves). */
  private presenceOf(r: RoomState | undefined, name: string): Presence {
    if (!this.ready || !r?.membersKnown)
      return sameName(name, this.myName) && this.ready ? 'online' : 'unknown';
    return r.members.some((m) => sameName(m, name)) || sameName(name, this.myName)
      ? 'online'
      : 'offline';
  }

  private reopen(room: string): void {
    if (this.closed.delete(room)) saveClosed(this.closed);
  }

  private part(raw: string): void {
    const room = isDirect(raw)
      ? `@${normalizeName(raw.slice(1))?.key ?? ''}`
      : normalizeRoom(raw)?.key;
    const r = room === undefined ? undefined : this.rooms.get(room);
    if (!r) {
      this.sys(ERRORS.NOT_IN_ROOM.message, 'error');
      return;
    }
    r.joined = false;
    if (r.direct) {
      this.closed.add(r.name);
      saveClosed(this.closed);
      if (this.ready && r.synced) this.request({ type: 'part', room: r.name });
      this.forget(r.name);
      return;
    }
    if (!this.ready) {
      // Nothing to tell the server: the next connection does not join it.
      this.forget(r.name);
      this.sys(`Left ${roomLabel(r.name)}.`);
      return;
    }
    this.request({ type: 'part', room: r.name }, { user: true });
  }

  /** Drops a room from the page (after leaving it, or when its join failed). */
  private forget(room: string): void {
    if (!this.rooms.delete(room)) return;
    this.view.log.remove(room);
    if (this.current === room) {
      const next = [...this.rooms.values()].find((r) => r.joined && !r.direct);
      this.switchTo(next?.name ?? LOBBY);
    }
    this.renderRooms();
  }

  private sidebarOrder(): string[] {
    const list = [...this.rooms.values()];
    return [...list.filter((r) => !r.direct), ...list.filter((r) => r.direct)].map((r) => r.name);
  }

  private sys(text: string, cls = '', room = this.current, opts?: SysOptions): HTMLElement {
    return this.view.log.sys(room, text, cls, opts);
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
    const r = this.rooms.get(this.current);
    const members = r?.direct ? this.directMembers(r) : (r?.members ?? []);
    this.view.setMembers(this.current, members, this.myName, (n) => this.presenceOf(r, n));
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
    this.view.setPending(this.outbox.entries(), this.myName, this.ready);
    this.renderSentNotes();
  }

  /** "Sending to @bob…" becomes "Sent to @bob." (with a way there) once it left the outbox. */
  private renderSentNotes(): void {
    for (const [cid, note] of this.sentNotes) {
      const e = this.outbox.get(cid);
      const to = roomLabel(note.to);
      if (e?.error !== undefined) {
        this.view.log.setSysText(note.line, `Not sent to ${to}: ${e.error}`);
      } else if (e) {
        this.view.log.setSysText(note.line, `Sending to ${to}…`);
      } else {
        this.sentNotes.delete(cid);
        this.reopen(note.to);
        this.room(note.to).joined = true;
        this.renderRooms();
        this.view.log.setSysText(note.line, `Sent to ${to}.`, {
          label: `Open ${to}`,
          run: () => this.openDirect(note.to.slice(1)),
        });
      }
    }
  }

  // ---- room directory ----------------------------------------------------------------------------

  /** "Browse rooms" in the sidebar: asks the server for the list. */
  browseRooms(): void {
    if (!this.ready) {
      this.view.setDirectory('Not connected; the list comes once the connection is back.', []);
      return;
    }
    this.view.setDirectory('Loading the rooms…', []);
    this.request({ type: 'rooms' }, { browse: true });
  }

  private showDirectory(rooms: RoomInfo[]): void {
    // decodeEvent has checked every entry against the schema.
    const list = rooms
      .filter((x) => !isDirect(x.room))
      .map((x) => ({
        name: x.room,
        members: x.members,
        joined: !!this.rooms.get(x.room)?.joined,
      }));
    this.view.setDirectory(
      list.length ? '' : 'No rooms yet. Type a name below to start one.',
      list,
    );
  }
}
