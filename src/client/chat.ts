// The chat session over one connection after another, composed of its parts: the requests of
// each connection (link.ts), the rooms listed and the current one (roster.ts), who the page is
// (naming.ts), what the server says about rooms (room-events.ts), the panel drawn beside the
// log (room-panel.ts), the sequence rules (history-sync.ts), a message's edits, removal,
// reactions and replies (message-acts.ts), commands and the room directory.
// Here they are wired to the events of the connection and to the view and storage passed in
// (ports.ts): the handshake (welcome → hello → join each room → resend the outbox), replies and
// errors, and the user's actions.

import {
  ERRORS,
  LOBBY,
  isDirect,
  normalizeName,
  normalizeRoom,
  sentEntry,
  wireMessage,
  type ClientRequest,
  type ErrorCode,
  type ErrorEvent as ErrorFrame,
  type ServerEvent,
} from '../protocol/index.js';
import { Access, NO_ACCESS_VIEW } from './access.js';
import { runLine, type CommandActions } from './commands.js';
import { NO_ROOMS, directoryItems } from './directory.js';
import { roomLabel } from './dom.js';
import { handleEntry } from './entries.js';
import { HistorySync } from './history-sync.js';
import { Link } from './link.js';
import { MessageActs } from './message-acts.js';
import type { Self } from './message-state.js';
import type { SysOptions } from './messages.js';
import { Naming } from './naming.js';
import { closeNotice, textProblem } from './notices.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type {
  AccessView,
  ChatStorage,
  ChatView,
  LogLine,
  SearchView,
  ServerRole,
} from './ports.js';
import { PresenceNotes } from './presence-notes.js';
import { Reading } from './reading.js';
import {
  dispatchResult,
  isKind,
  type AnyPending,
  type Pending,
  type ReplyHandlers,
  type ResultOf,
} from './requests.js';
import { sameName, type RoomState } from './room-state.js';
import { RoomEvents } from './room-events.js';
import { RoomPanel } from './room-panel.js';
import { Roster } from './roster.js';
import { OUTBOX_KINDS } from './sender.js';
import { SentNotes } from './sent-notes.js';
import { randomId, type Identity, type RoomList } from './storage.js';
import { TypingThrottle } from './typing.js';

const NO_SEARCH_VIEW: SearchView = {
  showResults: () => {},
  searchNote: () => {},
  showQuery: () => {},
};

/** History pages a jump to a search result loads before it gives up. */
const JUMP_PAGES = 7;

/** Errors after which a send is tried again by itself; any other error waits for the user. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['RATE_LIMITED', 'STORE_UNAVAILABLE']);

export interface ChatDeps {
  view: ChatView;
  /** The account, room settings and admin parts (none in tests of the chat alone). */
  access?: AccessView;
  /** The search box and its results (none in tests of the chat alone). */
  search?: SearchView;
  /** The page's own address, for the invite links it makes. */
  pageUrl?: string;
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
  readonly #view: ChatView;
  readonly #outbox: Outbox;
  readonly #decode: (frame: string) => ServerEvent | null;
  readonly #link: Link;
  readonly #roster: Roster;
  readonly #names: Naming;
  readonly #sync: HistorySync;
  readonly #panel: RoomPanel;
  readonly #events: RoomEvents;
  readonly #notes: PresenceNotes;
  readonly #reading: Reading;
  /** Direct messages sent with /msg, and the line in the room they were sent from. */
  readonly #sentNotes: SentNotes;
  readonly #typingSent = new TypingThrottle();
  /** Accounts, rooms' settings and moderation. */
  readonly access: Access;
  /** Replies, reactions, edits and removals. */
  readonly acts: MessageActs;
  readonly #search: SearchView;
  /** A search result being opened: shown once its page of history is in. */
  #jump: { room: string; seq: number; pages: number } | undefined;

  constructor(deps: ChatDeps) {
    const view = (this.#view = deps.view);
    this.#search = deps.search ?? NO_SEARCH_VIEW;
    const outbox = (this.#outbox = deps.outbox);
    this.#decode = deps.decode;
    this.#link = new Link({
      transmit: deps.transmit,
      drop: deps.drop,
      outbox: () => outbox.entries(),
    });
    this.#sync = new HistorySync({
      log: view.log,
      request: (req, ctx) => this.#request(req, ctx),
      show: (r, messages, live) => void this.#events.show(r, messages, live),
      say: (text, room) => void this.#sys(text, '', room),
      missed: (r, after) => this.acts.missed(r.name, after),
    });
    this.#notes = new PresenceNotes(view.log);
    this.#sentNotes = new SentNotes(
      view.log,
      (to) => {
        this.#roster.reopen(to);
        this.#roster.room(to).want();
        this.#roster.render();
      },
      (to) => this.openDirect(to.slice(1)),
    );
    this.#names = new Naming({
      view,
      storage: deps.storage,
      identity: deps.identity,
      hello: (req, ctx) => this.#request(req, ctx),
      ready: () => this.#link.ready,
      say: (text, cls) => void this.#sys(text, cls),
    });
    // Sends typed for a room before a reload need that room joined to go out.
    const waiting = outbox.entries().flatMap((e) => (isDirect(e.room) ? [] : [e.room]));
    this.#roster = new Roster(view, deps.storage, deps.rooms, deps.closed, waiting);
    const me = (): string => this.#names.me;
    const self = (): Self => this.#names.self;
    this.acts = new MessageActs({
      log: view.log,
      current: () => this.#roster.current,
      self,
      queue: (entry) => this.#queue(entry),
      request: (req, ctx) => this.#request(req, ctx),
      delivered: (cid) => {
        if (outbox.get(cid)) this.#dropPending(cid);
      },
      say: (text, cls, room) => void this.#sys(text, cls, room),
      announce: (text) => view.announce(text),
      setReplying: (m) => view.setReplying(m),
    });
    this.#panel = new RoomPanel(view, {
      roster: this.#roster,
      outbox,
      sentNotes: this.#sentNotes,
      me,
      ready: () => this.#link.ready,
    });
    this.#reading = new Reading({
      roster: this.#roster,
      log: view.log,
      hidden: deps.hidden,
      request: (req) => this.#request(req),
    });
    this.#events = new RoomEvents({
      view,
      roster: this.#roster,
      panel: this.#panel,
      notes: this.#notes,
      sync: this.#sync,
      reading: this.#reading,
      self,
      delivered: (cid) => {
        if (outbox.get(cid)) this.#dropPending(cid);
      },
      current: (room, m) => this.acts.current(room, m),
      changed: (ev) => this.acts.changed(ev),
      hidden: deps.hidden,
      notify: deps.notify,
    });
    this.access = new Access(
      {
        view: deps.access ?? NO_ACCESS_VIEW,
        roster: this.#roster,
        request: (req, ctx) => this.#request(req, ctx),
        signedIn: (ev) => this.#signedIn(ev),
        signedOut: () => this.#signedOut(),
        removed: (room) => this.#forget(room),
        invited: (room) => void this.#roster.room(room),
        say: (text, cls, room) => {
          this.#sys(text, cls, room);
          if (room === undefined || room === this.#roster.current) view.announce(text);
        },
        pageUrl: () => deps.pageUrl ?? '',
      },
      this.#names.role,
    );
    this.access.identified(this.#names.me, this.#names.role);
    this.#panel.details();
    this.#panel.pending();
    if (deps.askName) view.openNamePrompt('', true);
  }

  // ---- connection -----------------------------------------------------------------------------

  onOpen(): void {
    this.#link.opened();
    this.#sys('Connection opened.', 'conn', undefined, { key: 'open', counted: true });
  }

  onClose(code: number, reason: string): void {
    const unanswered = this.#link.closed();
    this.#notes.reset();
    this.acts.closed();
    for (const r of this.#roster.all()) {
      r.disconnected();
      this.#sync.stopOlder(r);
    }
    this.#sys('Connection lost.', 'conn', undefined, { key: 'lost', counted: true });
    this.#link.session.saidUnreachable = true;
    // An ended session cannot come back: the next connection is a guest's.
    if (code === ERRORS.SESSION_ENDED.close) {
      this.#names.signedOut();
      this.#leaveAccount();
    }
    const notice = closeNotice(code, reason);
    if (notice) this.#sys(notice, 'conn', undefined, { key: `close ${notice}`, counted: true });
    this.#view.announce(notice ?? 'Connection lost. Reconnecting.');
    this.#names.lost(unanswered);
    this.#panel.details();
    this.#panel.pending();
  }

  /** A connection attempt failed; said once per outage. */
  onUnreachable(): void {
    const { session } = this.#link;
    if (session.saidUnreachable) return;
    session.saidUnreachable = true;
    this.#sys(
      this.#outbox.entries().length > 0
        ? 'Cannot reach the server. Your unsent messages are kept here and go out once it is back.'
        : 'Cannot reach the server; trying again.',
      'conn',
      undefined,
      { key: 'unreachable', counted: true },
    );
  }

  onFrame(frame: string): void {
    const { tracker, sender } = this.#link;
    tracker.heard(Date.now());
    const ev = this.#decode(frame);
    if (!ev) {
      this.#sys(frame);
      return;
    }
    switch (ev.type) {
      case 'welcome':
        this.#sys(ev.text, 'welcome', undefined, { key: 'welcome' });
        this.#view.log.setEditWindow(ev.limits.editWindowMs);
        // The server's bucket for this connection starts full; ours too, a little smaller.
        sender.pacer.reset(ev.limits, Date.now());
        this.#names.handshake(0);
        return;
      case 'result':
        dispatchResult(ev, tracker.take(ev.id), this.#replies);
        return;
      case 'ack':
        tracker.take(ev.id);
        sender.settled(ev.cid);
        this.#dropPending(ev.cid);
        sender.flush();
        return;
      case 'msg':
        handleEntry(sentEntry(ev, ev.fromId ?? null), {
          // Shown as the wire has it, as history is: with its sender's user id.
          message: (e) => this.#events.message(wireMessage(e)),
          edit: () => {},
          delete: () => {},
          reaction: () => {},
        });
        return;
      case 'edit':
      case 'delete':
      case 'reaction':
        this.#events.changed(ev);
        return;
      case 'gap':
        this.#sync.gapMarked(this.#roster.room(ev.room), ev.after, ev.before);
        return;
      case 'presence':
        for (const name of [ev.name, ...(ev.others ?? [])])
          this.#events.presence(ev.room, name, ev.event);
        return;
      case 'rename':
        this.#events.rename(ev.room, ev.from, ev.to);
        return;
      case 'typing':
        this.#events.typing(ev.room, ev.name, ev.ttlMs);
        return;
      case 'error':
        this.#onError(ev);
        return;
      case 'notice':
        this.access.notice(ev);
        return;
      case 'topic':
        this.access.topic(ev);
        return;
      case 'read':
        this.#reading.moved(ev);
        return;
    }
  }

  /** The tab became visible again: the title stops counting. */
  onVisible(): void {
    this.#events.visible();
  }

  /** The log of the room shown is at its newest line: what is there is seen. */
  seen(): void {
    this.#reading.check();
  }

  // ---- user actions -----------------------------------------------------------------------------

  /**
   * A line from the message box: a message, or a command when it starts with `/`. False when
   * the text could not go as it is, so the box keeps the draft.
   */
  submit(line: string): boolean {
    return runLine(line, this.#commands);
  }

  readonly #commands: CommandActions = {
    current: () => this.#roster.current,
    say: (room, text, me, replyTo) => this.#say(room, text, me, replyTo),
    edit: (text) => this.acts.editCommand(text),
    remove: (seq) => this.acts.deleteCommand(seq),
    react: (emoji) => this.acts.reactCommand(emoji),
    sentTo: (cid, room) => {
      this.#sentNotes.add(cid, room, this.#sys(`Sending to ${roomLabel(room)}…`));
      this.#panel.pending();
    },
    sys: (text, cls) => void this.#sys(text, cls),
    online: () => {
      if (this.#link.ready) return true;
      this.#sys('Not connected yet; try again in a moment.', 'error');
      return false;
    },
    rename: (name, key) => {
      this.#request({ type: 'hello', name, token: key ?? this.#names.token }, { user: true });
    },
    joinRoom: (room) => this.joinRoom(room),
    part: (room) => this.#part(room),
    listRooms: () => void this.#request({ type: 'rooms' }, { user: true }),
    who: (room) => void this.#request({ type: 'who', room }, { user: true }),
    history: (limit) =>
      void this.#sync.page(this.#roster.room(this.#roster.current), 'user', undefined, limit, {
        user: true,
      }),
    ask: (req) => void this.#request(req, { user: true }),
    search: (query) => this.#search.showQuery(query),
  };

  /** Searches the rooms this person may read: the first page, or the one `next` names. */
  search(query: string, next?: string): void {
    const req = next === undefined ? { query } : { query, before: next };
    if (!this.#request({ type: 'search', ...req }, { added: next !== undefined })) {
      this.#search.searchNote('Not connected; search once the connection is back.');
    }
  }

  /**
   * Opens a message (a search result, what a reply answers): its room, then the message,
   * loading older history to reach it.
   */
  jumpTo(room: string, seq: number): void {
    if (room !== this.#roster.current) {
      if (isDirect(room)) this.openDirect(room.slice(1));
      else this.open(room);
    }
    this.#jump = { room: this.#roster.current, seq, pages: 0 };
    this.#reach();
  }

  /** Shows the message a jump is for once it is loaded, or asks for the page that has it. */
  #reach(): void {
    const j = this.#jump;
    if (!j || this.#roster.current !== j.room) return;
    if (this.#view.log.reveal(j.room, j.seq)) {
      this.#jump = undefined;
      return;
    }
    const r = this.#roster.get(j.room);
    // Not synced yet: the join's first page comes, and this runs again.
    if (!r?.synced) return;
    if (j.pages >= JUMP_PAGES || !this.#sync.olderTo(r, j.seq)) {
      if (!r.loadingOlder) {
        this.#jump = undefined;
        this.#sys('That message is further back than this page loads; scroll up to reach it.');
      }
      return;
    }
    j.pages++;
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
      this.#sys(ERRORS.ROOM_INVALID.message, 'error');
      return;
    }
    const r = this.#roster.room(n.key);
    const wasJoined = r.joined;
    r.want();
    this.switchTo(r.name);
    if (this.#link.ready && !(wasJoined && r.synced)) this.#join(r, true);
  }

  /** Opens the direct conversation with a name (in the sidebar, then current). */
  openDirect(name: string): void {
    const n = normalizeName(name);
    if (!n) {
      this.#sys(ERRORS.NAME_INVALID.message, 'error');
      return;
    }
    if (!this.#names.chosen) {
      this.#sys(ERRORS.NAME_REQUIRED.message, 'error');
      this.changeName();
      return;
    }
    const room = `@${n.key}`;
    this.#roster.reopen(room);
    this.#roster.room(room).want();
    this.switchTo(room);
  }

  /** A room picked in the sidebar: shown, and joined again if it was left. */
  open(room: string): void {
    const r = this.#roster.get(room);
    if (r && !r.direct && !r.joined) this.joinRoom(room);
    else this.switchTo(room);
  }

  switchTo(room: string): void {
    // The "new" line goes where reading stopped, before showing the room reads it.
    this.#reading.opened(this.#roster.room(room));
    const r = this.#roster.select(room);
    this.#reading.check();
    // A direct room live from a message alone has no member list yet: the join brings it.
    if (this.#link.ready && r.direct && (!r.synced || !r.membersKnown)) this.#join(r, true);
    this.#panel.details();
    this.#panel.pending();
    this.access.switched(r.name);
    this.acts.switched(r.name);
  }

  /** The room `step` places up or down the sidebar from the current one. */
  switchBy(step: number): string | undefined {
    const next = this.#roster.neighbour(step);
    if (next !== undefined && next !== this.#roster.current) this.switchTo(next);
    return next;
  }

  leave(room: string): void {
    this.#part(room);
  }

  /** Called on every input event: tells the room at most once per TYPING_EVERY_MS. */
  typed(text: string): void {
    const r = this.#roster.shown;
    if (!this.#link.ready || !r?.synced || !text.trim() || text.startsWith('/')) return;
    const now = Date.now();
    if (!this.#typingSent.due(r.name, now)) return;
    if (this.#request({ type: 'typing', room: r.name }, { optional: true })) {
      this.#typingSent.sent(r.name, now);
    }
  }

  /** The reader wants older messages of a room (scrolled near its top, or pressed the button). */
  loadOlder(room: string): void {
    const r = this.#roster.get(room);
    if (r && this.#link.ready) this.#sync.older(r);
  }

  retry(cid: string): void {
    const e = this.#outbox.get(cid);
    if (!e) return;
    const rest: OutboxEntry = { ...e };
    delete rest.error;
    this.#outbox.update(rest);
    this.#panel.pending();
    this.#link.sender.flush();
  }

  discard(cid: string): void {
    this.#sentNotes.discarded(cid);
    this.#dropPending(cid);
  }

  /** Opens the name prompt to change the name. */
  changeName(): void {
    this.#names.change();
  }

  /** The name prompt was sent. */
  submitName(raw: string): void {
    this.#names.submit(raw);
  }

  /** "Later" or "Cancel" on the name prompt. */
  skipName(): void {
    this.#names.skip();
  }

  /** "Browse rooms" in the sidebar: asks the server for the list. */
  browseRooms(): void {
    if (!this.#link.ready) {
      this.#view.setDirectory('Not connected; the list comes once the connection is back.', []);
      return;
    }
    this.#view.setDirectory('Loading the rooms…', []);
    this.#request({ type: 'rooms' }, { browse: true });
  }

  // ---- handshake, requests and sends ------------------------------------------------------------

  /** Hello answered: join the rooms again, then resend what was not acknowledged. */
  #onReady(): void {
    const again = this.#link.session.greeted();
    for (const r of this.#roster.all()) {
      if (r.joined && (!r.direct || r.everSynced || r.name === this.#roster.current)) {
        this.#join(r, false);
      }
    }
    this.#link.sender.flush();
    this.#reading.resend();
    void this.#outbox.refresh?.().then((added) => {
      if (!added || !this.#link.ready) return;
      for (const e of this.#outbox.entries()) {
        const r = isDirect(e.room) ? undefined : this.#roster.room(e.room);
        if (r && !r.joined) {
          r.want();
          this.#join(r, false);
        }
      }
      this.#panel.pending();
      this.#link.sender.flush();
    });
    if (again) this.#view.announce('Connected again.');
    this.#names.ready();
  }

  #join(r: RoomState, user: boolean): void {
    this.#request(
      r.everSynced
        ? { type: 'join', room: r.name, since: r.lastSeq }
        : { type: 'join', room: r.name },
      { user },
    );
  }

  #request<R extends ClientRequest>(req: R, ctx?: Omit<Pending<R['type']>, 'req'>): boolean {
    return this.#link.request(req, ctx);
  }

  /**
   * Queues a message, answering `replyTo` or the reply being written in its room; its cid, or
   * undefined when refused (the reason is said).
   */
  #say(room: string, text: string, me: boolean, replyTo?: number): string | undefined {
    const problem = textProblem(text);
    if (problem !== undefined) {
      this.#sys(problem, 'error');
      return undefined;
    }
    const answers = replyTo ?? this.acts.replyFor(room);
    const entry: OutboxEntry = {
      cid: randomId(),
      room,
      text,
      me,
      createdAt: Date.now(),
      ...(answers !== undefined && { replyTo: answers }),
    };
    if (this.acts.replyFor(room) !== undefined) this.acts.cancelReply();
    this.#typingSent.messageSent(room, Date.now());
    this.#queue(entry);
    if (room === this.#roster.current) this.#view.log.scrollToBottom();
    return entry.cid;
  }

  #queue(entry: OutboxEntry): void {
    this.#outbox.add(entry);
    this.#panel.pending();
    this.#link.sender.flush();
  }

  #dropPending(cid: string): void {
    this.#link.sender.settled(cid);
    if (this.#outbox.remove(cid)) this.#panel.pending();
  }

  // ---- replies and errors -----------------------------------------------------------------------

  readonly #replies: ReplyHandlers = {
    changes: (ev, ctx) => this.acts.changes(ev, ctx),
    hello: (ev, ctx) => this.#onHello(ev, ctx),
    join: (ev, ctx) => {
      this.#events.joined(ev, !!ctx?.user);
      this.access.joined(ev.room);
    },
    part: (ev, ctx) => {
      this.#forget(ev.room);
      if (ctx?.user) this.#sys(`Left ${roomLabel(ev.room)}.`);
    },
    history: (ev, ctx) => {
      if (ctx?.history === 'quote') {
        this.acts.quoteIn(ev);
        return;
      }
      this.#sync.received(this.#roster.room(ev.room), ev.messages, ev.more, ctx);
      if (this.#jump?.room === ev.room) this.#reach();
    },
    search: (ev, ctx) => this.#search.showResults(ev.results, ev.next, !!ctx?.added),
    rooms: (ev, ctx) => {
      if (ctx?.browse) {
        const list = directoryItems(ev.rooms, (room) => !!this.#roster.get(room)?.joined);
        this.#view.setDirectory(list.length ? '' : NO_ROOMS, list);
        return;
      }
      const list = ev.rooms.map((x) => `${roomLabel(x.room)} (${x.members})`).join(', ');
      this.#sys(`Rooms: ${list || 'none'}`);
    },
    who: (ev) => this.#events.who(ev),
    typing: () => {},
    ping: () => {},
    read: () => {},
    login: (ev) => this.access.loggedIn(ev),
    logout: (ev) => this.access.loggedOut(ev),
    password: () => this.access.passwordSet(),
    sessions: (ev) => this.access.sessions(ev),
    revoke: () => this.access.revoked(),
    room: (ev) => this.access.room(ev),
    settings: (ev) => this.access.settings(ev),
    moderate: (ev, ctx) => this.access.moderated(ev, ctx),
    audit: (ev, ctx) => this.access.audit(ev, ctx),
    users: (ev) => this.access.users(ev),
    role: (ev) => this.access.roleSet(ev),
    invite: (ev) => this.access.inviteMade(ev),
  };

  #onHello(ev: ResultOf<'hello'>, ctx: Pending<'hello'> | undefined): void {
    const { name } = ev;
    // Rooms come back at a sign-in only: on every connect they would undo a part.
    this.#become(name, ev.token, ev.userId, ev.direct, ev.role);
    this.#reading.direct(ev.read);
    if (ctx?.handshake !== undefined) {
      this.#sys(`You are ${name}.`, '', undefined, { key: 'you' });
      this.#onReady();
    } else {
      this.#sys(`You are now known as ${name}.`);
      this.#view.announce(`You are now known as ${name}.`);
    }
    this.#names.answered(ctx);
    this.access.identified(name, this.#names.role);
    this.#roster.render();
    this.#panel.details();
    this.#panel.pending();
  }

  /**
   * The page is this person now (a hello or a sign-in), with their direct conversations and
   * the rooms they have a part in (so a second device finds them too).
   */
  #become(name: string, token: string, userId: string, direct: string[], role?: ServerRole): void {
    const before = this.#names.named(name, token, userId, role);
    if (before && !sameName(before, name)) {
      // Direct conversations belong to a name: a new name leaves the old ones behind.
      for (const r of this.#roster.all()) if (r.direct) this.#forget(r.name);
      for (const r of this.#roster.all()) {
        r.members = r.members.map((n) => (n === before ? name : n));
      }
    }
    for (const d of direct) if (!this.#roster.isClosed(d)) this.#roster.room(d).want();
  }

  /** Signed in or up: this connection is the account's, its direct conversations listed. */
  #signedIn(ev: ResultOf<'login'>): void {
    this.#become(ev.name, ev.token, ev.userId, ev.direct, ev.role);
    this.#reading.direct(ev.read);
    for (const room of ev.rooms) {
      const r = this.#roster.room(room);
      if (r.joined) continue;
      r.want();
      if (this.#link.ready) this.#join(r, false);
    }
    this.#roster.render();
    this.#panel.details();
  }

  /** Signed out: the connection is a new guest's, under a token of its own. */
  #signedOut(): void {
    this.#request(this.#names.signedOut(), { user: true });
    this.#leaveAccount();
  }

  /** Signed out: the account's rooms and conversations leave this page; the lobby stays. */
  #leaveAccount(): void {
    for (const r of this.#roster.all()) {
      if (r.name === LOBBY) continue;
      if (!r.direct && r.synced && this.#link.ready) this.#request({ type: 'part', room: r.name });
      this.#forget(r.name);
    }
    const lobby = this.#roster.room(LOBBY);
    lobby.want();
    if (this.#link.ready && !lobby.synced) this.#join(lobby, false);
    this.access.identified(this.#names.me, null);
  }

  #onError(ev: ErrorFrame): void {
    const { tracker, sender } = this.#link;
    const ctx = tracker.take(ev.id);
    const req = ctx?.req;
    if (ev.code === 'RATE_LIMITED' && ctx) sender.pacer.refused(Date.now());
    if (ev.code === 'RATE_LIMITED' && ctx && again(ctx)) {
      sender.again(ctx);
      return;
    }
    if (isKind(ctx, 'hello') && this.#names.refused(ctx, ev)) return;
    if (this.access.refused(ctx, ev)) return;
    if (this.acts.refused(ctx)) return;
    if (req && OUTBOX_KINDS.has(req.type) && 'cid' in req) {
      if (TRANSIENT.has(ev.code)) {
        // Later sends may be in flight and land first: they go again in order after a wait.
        sender.hold(req.cid);
        return;
      }
      sender.settled(req.cid);
      if (req.type === 'send') {
        const e = this.#outbox.get(req.cid);
        if (e) {
          this.#outbox.update({ ...e, error: ev.message });
          this.#panel.pending();
          this.#view.announce(`Message not sent: ${ev.message}`);
        }
      } else if (req.type === 'edit' || req.type === 'delete' || req.type === 'react') {
        // A refused change is done with: trying it again would be refused again.
        this.#dropPending(req.cid);
        this.acts.refusedChange(req, ev);
      }
      sender.flush();
      return;
    }
    const r =
      req && 'room' in req && req.room !== undefined ? this.#roster.get(req.room) : undefined;
    if (r && req?.type === 'history') this.#sync.stopOlder(r);
    if (r && req?.type === 'join' && !r.everSynced) {
      this.#forget(r.name);
      if (r.direct) this.#roster.unclose(r.name);
    }
    if (req?.type === 'part' && ev.code === 'NOT_IN_ROOM') {
      // Not in it on the server either: leaving is done.
      this.#forget(req.room);
      this.#sys(`Left ${roomLabel(req.room)}.`);
      return;
    }
    if (req?.type === 'typing' || req?.type === 'read') return;
    if (req?.type === 'search') {
      this.#search.searchNote(ev.message);
      return;
    }
    this.#sys(`Error: ${ev.message}`, 'error');
    this.#roster.render();
  }

  // ---- rooms ------------------------------------------------------------------------------------

  #part(raw: string): void {
    const room = isDirect(raw)
      ? `@${normalizeName(raw.slice(1))?.key ?? ''}`
      : normalizeRoom(raw)?.key;
    const r = room === undefined ? undefined : this.#roster.get(room);
    if (!r) {
      this.#sys(ERRORS.NOT_IN_ROOM.message, 'error');
      return;
    }
    r.unwant();
    if (r.direct) {
      this.#roster.close(r.name);
      if (this.#link.ready && r.synced) this.#request({ type: 'part', room: r.name });
      this.#forget(r.name);
      return;
    }
    if (!this.#link.ready) {
      // Nothing to tell the server: the next connection does not join it.
      this.#forget(r.name);
      this.#sys(`Left ${roomLabel(r.name)}.`);
      return;
    }
    this.#request({ type: 'part', room: r.name }, { user: true });
  }

  /** Drops a room from the page (after leaving it, or when its join failed). */
  #forget(room: string): void {
    if (!this.#roster.remove(room)) return;
    this.#reading.forget(room);
    this.#view.log.remove(room);
    if (this.#roster.current === room) this.switchTo(this.#roster.fallback());
  }

  #sys(text: string, cls = '', room = this.#roster.current, opts?: SysOptions): LogLine {
    return this.#view.log.sys(room, text, cls, opts);
  }
}

/** A request refused for the rate that is sent again by itself (the outbox's have their own way). */
function again(ctx: AnyPending): boolean {
  // A name the user asked for: the prompt says to wait.
  if (isKind(ctx, 'hello')) return ctx.handshake !== undefined;
  return !OUTBOX_KINDS.has(ctx.req.type) && ctx.req.type !== 'typing';
}
