// The chat session over one connection after another, composed of its parts: the session and
// room state machines (session.ts, room-state.ts), the typed request tracker (requests.ts), the
// pacing of what goes on the wire (sender.ts), the sequence rules (history-sync.ts), commands,
// names, typing, attention and the room directory. Here they are wired to the events of the
// connection and to the view and storage passed in (ports.ts): the handshake (welcome → hello →
// join each room → resend the outbox), replies and errors, and what each changes on the page.

import {
  ERRORS,
  LOBBY,
  isDirect,
  messageEntry,
  normalizeName,
  normalizeRoom,
  type ChatMessage,
  type ClientRequest,
  type ErrorCode,
  type ErrorEvent as ErrorFrame,
  type RequestResult,
  type RoomInfo,
  type ServerEvent,
} from '../protocol/index.js';
import { attention } from './attention.js';
import { runLine, type CommandActions } from './commands.js';
import { NO_ROOMS, directoryItems } from './directory.js';
import { roomLabel } from './dom.js';
import { handleEntry } from './entries.js';
import { HistorySync } from './history-sync.js';
import type { SysOptions } from './messages.js';
import { handshakeHello, isChosen, promptName } from './names.js';
import { closeNotice, nameError, textProblem } from './notices.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { ChatStorage, ChatView, LogLine } from './ports.js';
import { PresenceNotes } from './presence-notes.js';
import {
  RequestTracker,
  dispatchResult,
  isKind,
  type AnyPending,
  type Pending,
  type ReplyHandlers,
  type ResultOf,
} from './requests.js';
import { RoomState, sameName, type Presence } from './room-state.js';
import { Sender } from './sender.js';
import { SentNotes } from './sent-notes.js';
import { SessionState } from './session.js';
import { hasChosenName, randomId, type Identity, type RoomList } from './storage.js';
import { TypingThrottle, typers } from './typing.js';

const WATCH_EVERY_MS = 1000;
/** Errors after which a send is tried again by itself; any other error waits for the user. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['RATE_LIMITED', 'STORE_UNAVAILABLE']);

export interface ChatDeps {
  view: ChatView;
  storage: ChatStorage;
  outbox: Outbox;
  identity: Identity;
  rooms: RoomList;
  /** Direct conversations closed from the sidebar. */
  closed: Set<string>;
  /** Ask for a name on load (first visit). */
  askName: boolean;
  /** Reads a server frame: the event when it is one of the protocol's, well formed, else null. */
  decode(frame: string): ServerEvent | null;
  /** Hands a frame to the socket; false when not connected. */
  transmit(frame: string): boolean;
  /** Gives up on the connection (it stopped answering); onClose follows at once. */
  drop(): void;
  /** True while the tab is not visible. */
  hidden(): boolean;
  /** A desktop notification (when the user allowed them). */
  notify(title: string, body: string, room: string): void;
}

export class Chat {
  private readonly view: ChatView;
  private readonly storage: ChatStorage;
  private readonly outbox: Outbox;
  private readonly deps: ChatDeps;
  private identity: Identity;
  private readonly rooms = new Map<string, RoomState>();
  private readonly closed: Set<string>;
  private current: string;
  private myName = '';
  private readonly session = new SessionState();
  private readonly tracker = new RequestTracker();
  private readonly sync: HistorySync;
  private readonly sender = new Sender({
    connected: () => this.session.connected,
    ready: () => this.session.ready,
    transmit: (p) => this.transmit(p),
    outbox: () => this.outbox.entries(),
  });
  private watchTimer: ReturnType<typeof setInterval> | undefined;
  private readonly typingSent = new TypingThrottle();
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  /** A name submitted in the prompt while offline, taken once connected. */
  private wantedName: string | undefined;
  /** Messages from others that came while the tab was hidden. */
  private unseen = 0;
  private readonly notes: PresenceNotes;
  /** Direct messages sent with /msg, and the line in the room they were sent from. */
  private readonly sentNotes: SentNotes;

  constructor(deps: ChatDeps) {
    this.deps = deps;
    this.view = deps.view;
    this.storage = deps.storage;
    this.sync = new HistorySync({
      log: this.view.log,
      request: (req, ctx) => this.request(req, ctx),
      show: (r, messages, live) => void this.show(r, messages, live),
      say: (text, room) => void this.sys(text, '', room),
    });
    this.outbox = deps.outbox;
    this.identity = deps.identity;
    this.closed = deps.closed;
    this.notes = new PresenceNotes(this.view.log);
    this.sentNotes = new SentNotes(
      this.view.log,
      (to) => {
        this.reopen(to);
        this.room(to).want();
        this.renderRooms();
      },
      (to) => this.openDirect(to.slice(1)),
    );
    if (hasChosenName(this.identity)) this.myName = this.identity.name ?? '';
    this.view.setMe(this.myName || '…');
    for (const r of deps.rooms.rooms) {
      const n = normalizeRoom(r);
      if (n) this.room(n.key).want();
    }
    // Sends typed for a room before a reload need that room joined to go out.
    for (const e of this.outbox.entries()) {
      if (!isDirect(e.room)) this.room(e.room).want();
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
    this.session.opened();
    this.tracker.clear();
    this.stopSending();
    this.tracker.heard(Date.now());
    this.watchTimer = setInterval(() => this.watch(), WATCH_EVERY_MS);
    this.sys('Connection opened.', 'conn', this.current, { key: 'open', counted: true });
  }

  onClose(code: number, reason: string): void {
    this.session.closed();
    this.notes.reset();
    this.stopSending();
    for (const r of this.rooms.values()) {
      r.disconnected();
      this.sync.stopOlder(r);
    }
    this.sys('Connection lost.', 'conn', this.current, { key: 'lost', counted: true });
    this.session.saidUnreachable = true;
    const notice = closeNotice(code, reason);
    if (notice) this.sys(notice, 'conn', this.current, { key: `close ${notice}`, counted: true });
    this.view.announce(notice ?? 'Connection lost. Reconnecting.');
    // A name asked for from the prompt and not answered: ask again once connected.
    for (const p of this.tracker.pending()) {
      if (isKind(p, 'hello') && p.prompt && p.req.name) this.wantedName = p.req.name;
    }
    this.tracker.clear();
    if (this.wantedName !== undefined) {
      this.view.setNameBusy(true, 'Waiting for the connection; the name is taken once it is back.');
    }
    this.renderRoomDetails();
    this.renderPending();
  }

  /** A connection attempt failed; said once per outage. */
  onUnreachable(): void {
    if (this.session.saidUnreachable) return;
    this.session.saidUnreachable = true;
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
    this.tracker.heard(Date.now());
    const ev = this.deps.decode(frame);
    if (!ev) {
      this.sys(frame);
      return;
    }
    switch (ev.type) {
      case 'welcome':
        this.sys(ev.text, 'welcome', this.current, { key: 'welcome' });
        // The server's bucket for this connection starts full; ours too, a little smaller.
        this.sender.pacer.reset(
          { ratePerSecond: ev.limits.ratePerSecond, rateBurst: ev.limits.rateBurst },
          Date.now(),
        );
        this.hello(0);
        return;
      case 'result':
        this.onResult(ev);
        return;
      case 'ack':
        this.tracker.take(ev.id);
        this.sender.settled(ev.cid);
        this.dropPending(ev.cid);
        this.sender.flush();
        return;
      case 'msg':
        handleEntry(messageEntry(ev), { message: (m) => this.onMessage(m) });
        return;
      case 'gap': {
        const r = this.room(ev.room);
        this.sync.gapMarked(r, ev.after, ev.before);
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
    return runLine(line, this.commands);
  }

  private readonly commands: CommandActions = {
    current: () => this.current,
    say: (room, text, me) => this.say(room, text, me),
    sentTo: (cid, room) => {
      const line = this.sys(`Sending to ${roomLabel(room)}…`);
      this.sentNotes.add(cid, room, line);
      this.renderPending();
    },
    sys: (text, cls) => void this.sys(text, cls),
    online: () => this.online(),
    rename: (name, key) => {
      this.request({ type: 'hello', name, token: key ?? this.identity.token }, { user: true });
    },
    joinRoom: (room) => this.joinRoom(room),
    part: (room) => this.part(room),
    listRooms: () => void this.request({ type: 'rooms' }, { user: true }),
    who: (room) => void this.request({ type: 'who', room }, { user: true }),
    history: (limit) =>
      void this.sync.page(this.room(this.current), 'user', undefined, limit, { user: true }),
  };

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
    r.want();
    this.switchTo(r.name);
    if (this.session.ready && !(wasJoined && r.synced)) this.join(r, true);
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
    r.want();
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
    if (this.session.ready && r.direct && (!r.synced || !r.membersKnown)) this.join(r, true);
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
    if (!this.session.ready || !r?.synced || !text.trim() || text.startsWith('/')) return;
    const now = Date.now();
    if (!this.typingSent.due(r.name, now)) return;
    if (this.request({ type: 'typing', room: r.name }, { optional: true })) {
      this.typingSent.sent(r.name, now);
    }
  }

  /** The reader wants older messages of a room (scrolled near its top, or pressed the button). */
  loadOlder(room: string): void {
    const r = this.rooms.get(room);
    if (r && this.session.ready) this.sync.older(r);
  }

  retry(cid: string): void {
    const e = this.outbox.get(cid);
    if (!e) return;
    const rest: OutboxEntry = { ...e };
    delete rest.error;
    this.outbox.update(rest);
    this.renderPending();
    this.sender.flush();
  }

  discard(cid: string): void {
    this.sentNotes.discarded(cid);
    this.dropPending(cid);
  }

  // ---- names ----------------------------------------------------------------------------------

  /** Opens the name prompt to change the name. */
  changeName(): void {
    this.view.openNamePrompt(hasChosenName(this.identity) ? this.myName : '', false);
  }

  /** The name prompt was sent. */
  submitName(raw: string): void {
    const n = promptName(raw, this.myName);
    if ('error' in n) {
      this.view.setNameError(n.error);
      return;
    }
    if ('same' in n) {
      this.view.closeNamePrompt();
      return;
    }
    if (!this.session.ready) {
      this.wantedName = n.take;
      this.view.setNameBusy(true, 'Waiting for the connection; the name is taken once it is back.');
      return;
    }
    this.takeName(n.take);
  }

  /** "Later" or "Cancel" on the name prompt. */
  skipName(): void {
    if (!hasChosenName(this.identity)) this.storage.skipName();
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
    const { identity, req } = handshakeHello(step, this.identity);
    this.identity = identity;
    this.request(req, { handshake: step });
  }

  /** Hello answered: join the rooms again, then resend what was not acknowledged. */
  private onReady(): void {
    const again = this.session.greeted();
    for (const r of this.rooms.values()) {
      if (r.joined && (!r.direct || r.everSynced || r.name === this.current)) this.join(r, false);
    }
    this.sender.flush();
    void this.outbox.refresh?.().then((added) => {
      if (!added || !this.session.ready) return;
      for (const e of this.outbox.entries()) {
        const r = isDirect(e.room) ? undefined : this.room(e.room);
        if (r && !r.joined) {
          r.want();
          this.join(r, false);
        }
      }
      this.renderPending();
      this.sender.flush();
    });
    if (again) this.view.announce('Connected again.');
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
  private request<R extends ClientRequest>(req: R, ctx?: Omit<Pending<R['type']>, 'req'>): boolean {
    if (!this.session.connected) return false;
    // Spreading a context over a generic request loses its kind; the signature above kept it.
    const p = { ...ctx, req } as AnyPending;
    return this.sender.request(p);
  }

  private transmit(p: AnyPending): boolean {
    const id = this.tracker.newId();
    if (!this.deps.transmit(JSON.stringify({ ...p.req, id }))) return false;
    this.tracker.sent(id, p, Date.now());
    return true;
  }

  /** The connection is gone: nothing waits to go on it. */
  private stopSending(): void {
    this.sender.reset();
    clearInterval(this.watchTimer);
    this.watchTimer = undefined;
  }

  private watch(): void {
    const state = this.tracker.liveness(Date.now());
    if (state === 'dead') this.deps.drop();
    else if (state === 'quiet' && this.sender.idle) this.request({ type: 'ping' });
  }

  private online(): boolean {
    if (this.session.ready) return true;
    this.sys('Not connected yet; try again in a moment.', 'error');
    return false;
  }

  // ---- sending ----------------------------------------------------------------------------------

  /** Queues a message; its cid, or undefined when refused (the reason is said). */
  private say(room: string, text: string, me: boolean): string | undefined {
    const problem = textProblem(text);
    if (problem !== undefined) {
      this.sys(problem, 'error');
      return undefined;
    }
    const entry: OutboxEntry = { cid: randomId(), room, text, me, createdAt: Date.now() };
    this.typingSent.messageSent(room, Date.now());
    this.outbox.add(entry);
    this.renderPending();
    if (room === this.current) this.view.log.scrollToBottom();
    this.sender.flush();
    return entry.cid;
  }

  private dropPending(cid: string): void {
    this.sender.settled(cid);
    if (this.outbox.remove(cid)) this.renderPending();
  }

  // ---- events -----------------------------------------------------------------------------------

  private onResult(ev: RequestResult): void {
    dispatchResult(ev, this.tracker.take(ev.id), this.replies);
  }

  private readonly replies: ReplyHandlers = {
    hello: (ev, ctx) => this.onHello(ev.name, ev.token, ev.direct, ctx),
    join: (ev, ctx) => this.onJoined(ev, ctx),
    part: (ev, ctx) => {
      this.forget(ev.room);
      if (ctx?.user) this.sys(`Left ${roomLabel(ev.room)}.`);
    },
    history: (ev, ctx) => this.sync.received(this.room(ev.room), ev.messages, ev.more, ctx),
    rooms: (ev, ctx) => {
      if (ctx?.browse) {
        this.showDirectory(ev.rooms);
        return;
      }
      const list = ev.rooms.map((x) => `${roomLabel(x.room)} (${x.members})`).join(', ');
      this.sys(`Rooms: ${list || 'none'}`);
    },
    who: (ev) => {
      const r = this.rooms.get(ev.room);
      if (r && !r.direct) {
        r.setMembers(ev.members);
      }
      this.sys(`In ${roomLabel(ev.room)}: ${ev.members.join(', ') || 'no one'}`);
      this.renderRoomDetails();
    },
    typing: () => {},
    ping: () => {},
  };

  private onJoined(ev: ResultOf<'join'>, ctx: Pending<'join'> | undefined): void {
    const r = this.room(ev.room);
    r.want();
    // In a direct room, the participants connected now.
    r.setMembers(ev.members);
    this.sync.joined(r, ev.lastSeq);
    r.live();
    if (ctx?.user) this.sys(`Joined ${roomLabel(r.name)}.`, '', r.name);
    this.renderRooms();
    this.renderRoomDetails();
  }

  private onHello(
    name: string,
    token: string,
    direct: string[],
    ctx: Pending<'hello'> | undefined,
  ): void {
    const before = this.myName;
    this.identity = { name, token };
    this.storage.saveIdentity(this.identity);
    this.myName = name;
    this.view.setMe(name);
    if (before && !sameName(before, name)) {
      // Direct conversations belong to a name: a new name leaves the old ones behind.
      for (const r of [...this.rooms.values()]) if (r.direct) this.forget(r.name);
      for (const r of this.rooms.values()) {
        r.members = r.members.map((n) => (n === before ? name : n));
      }
    }
    for (const d of direct) if (!this.closed.has(d)) this.room(d).want();
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

  private onMessage(m: ChatMessage): void {
    const r = this.room(m.room);
    if (r.direct) this.reopen(r.name);
    if (this.sync.live(r, m.seq) === 'seen') {
      this.show(r, [m], false);
      return;
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
    const hidden = this.deps.hidden();
    const here = r.name === this.current;
    const a = attention(m, { me: this.myName, direct: r.direct, here, hidden });
    if (!a) return;
    if (a.unread) {
      r.unread++;
      if (a.mention) r.mentions++;
      if (!here) this.renderRooms();
    }
    if (hidden) {
      this.unseen++;
      this.view.setUnseen(this.unseen);
      if (a.notify) this.deps.notify(a.notify.title, a.notify.body, r.name);
    }
    if (a.announce) this.view.announce(a.announce);
  }

  private onPresence(room: string, name: string, event: 'join' | 'leave'): void {
    const r = this.rooms.get(room);
    if (!r || sameName(name, this.myName)) return;
    if (event === 'join') r.memberCame(name);
    else r.memberLeft(name);
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
    r.memberRenamed(from, to);
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
    const ctx = this.tracker.take(ev.id);
    const req = ctx?.req;
    if (ev.code === 'RATE_LIMITED' && ctx) this.sender.pacer.refused(Date.now());
    if (ev.code === 'RATE_LIMITED' && ctx && this.again(ctx)) {
      this.sender.again(ctx);
      return;
    }
    if (isKind(ctx, 'hello') && ctx.handshake !== undefined && ctx.handshake < 2) {
      const name = ctx.req.name;
      this.sys(name ? `Could not take the name ${name}: ${ev.message}` : ev.message, 'error');
      if (name) this.view.openNamePrompt(name, true, nameError(name, ev.code, ev.message));
      this.hello(ctx.handshake + 1);
      return;
    }
    if (isKind(ctx, 'hello') && ctx.prompt) {
      this.view.setNameBusy(false);
      this.view.setNameError(nameError(ctx.req.name ?? '', ev.code, ev.message));
      this.view.nameInput.focus();
      return;
    }
    if (req?.type === 'send') {
      if (TRANSIENT.has(ev.code)) {
        // Later sends may be in flight and land first: they go again in order after a wait.
        this.sender.hold(req.cid);
        return;
      }
      this.sender.settled(req.cid);
      const e = this.outbox.get(req.cid);
      if (e) {
        this.outbox.update({ ...e, error: ev.message });
        this.renderPending();
        this.view.announce(`Message not sent: ${ev.message}`);
      }
      this.sender.flush();
      return;
    }
    if (req?.type === 'history') {
      const r = this.rooms.get(req.room);
      if (r) this.sync.stopOlder(r);
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
  private again(ctx: AnyPending): boolean {
    if (isKind(ctx, 'hello')) {
      // A name the user asked for: the prompt says to wait.
      return ctx.handshake !== undefined;
    }
    switch (ctx.req.type) {
      case 'send':
      case 'typing':
        return false;
      default:
        return true;
    }
  }

  // ---- state and rendering ------------------------------------------------------------------------

  private room(name: string): RoomState {
    let r = this.rooms.get(name);
    if (!r) {
      r = new RoomState(name);
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

  private presenceOf(r: RoomState | undefined, name: string): Presence {
    if (r) return r.presenceOf(name, this.myName, this.session.ready);
    return sameName(name, this.myName) && this.session.ready ? 'online' : 'unknown';
  }

  private reopen(room: string): void {
    if (this.closed.delete(room)) this.storage.saveClosed(this.closed);
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
    r.unwant();
    if (r.direct) {
      this.closed.add(r.name);
      this.storage.saveClosed(this.closed);
      if (this.session.ready && r.synced) this.request({ type: 'part', room: r.name });
      this.forget(r.name);
      return;
    }
    if (!this.session.ready) {
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

  private sys(text: string, cls = '', room = this.current, opts?: SysOptions): LogLine {
    return this.view.log.sys(room, text, cls, opts);
  }

  private renderRooms(): void {
    if (!this.rooms.size) return;
    const list = [...this.rooms.values()];
    this.view.setRooms(list, this.current);
    this.storage.saveRooms({
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
    const { names, next } = r ? typers(r.typing, now) : { names: [], next: Infinity };
    this.view.setTyping(names);
    if (next !== Infinity) this.typingTimer = setTimeout(() => this.renderTyping(), next - now);
  }

  private renderPending(): void {
    this.view.setPending(this.outbox.entries(), this.myName, this.session.ready);
    this.sentNotes.render((cid) => this.outbox.get(cid));
  }

  // ---- room directory ----------------------------------------------------------------------------

  /** "Browse rooms" in the sidebar: asks the server for the list. */
  browseRooms(): void {
    if (!this.session.ready) {
      this.view.setDirectory('Not connected; the list comes once the connection is back.', []);
      return;
    }
    this.view.setDirectory('Loading the rooms…', []);
    this.request({ type: 'rooms' }, { browse: true });
  }

  private showDirectory(rooms: RoomInfo[]): void {
    const list = directoryItems(rooms, (room) => !!this.rooms.get(room)?.joined);
    this.view.setDirectory(list.length ? '' : NO_ROOMS, list);
  }
}
