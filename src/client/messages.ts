// The message log: one section per room, only the current one shown. Messages sit in seq order
// (a seq or a cid is shown at most once), grouped when one person writes several in a row, with
// a separator per day. Inserting keeps what the reader looks at in place: at the bottom it
// follows new messages; scrolled up, older pages load above without a jump and new messages
// below raise a "new messages" button instead of moving the view. Each message shows its
// current state (edited, removed, its reactions, the quote of what it answers) and has a menu;
// a change redraws it in place, keeping the focus on the control that had it.

import { foldKey, type ChatMessage } from '../protocol/index.js';
import { button, clock, dayKey, dayLabel, el, roomLabel } from './dom.js';
import {
  fillQuote,
  messageEditor,
  messageMenu,
  quoteButton,
  reactionChips,
} from './message-parts.js';
import { allowed, isMine, type Self } from './message-state.js';
import { mentionsName, richText } from './rich-text.js';

/** Messages kept per room; past it the oldest go (and can be paged in again). */
const MAX_MESSAGES = 1500;
/** Other lines (connection, presence, command output) kept per room. */
const MAX_OTHER = 300;
/** Consecutive messages of one person within this time form a group. */
const GROUP_MS = 5 * 60_000;
/** A message with more lines or characters than these is folded (style.css shows 8 lines). */
const FOLD_LINES = 12;
const FOLD_CHARS = 1200;
/** Within this distance of the bottom the reader counts as at the bottom. */
const BOTTOM_PX = 40;
/** How long a message reached from a search stays marked. */
const FOUND_MS = 4000;
/** Within this distance of the top, older messages are loaded. */
const TOP_PX = 300;
/** Messages held per room only for the quotes of replies to them. */
const MAX_QUOTED = 500;

interface Shown {
  room: string;
  seq: number;
  cid: string;
  from: string;
  ts: number;
  me: boolean;
  day: string;
  el: HTMLElement;
  sep?: HTMLElement;
  /** The message as it is now. */
  m: ChatMessage;
  quote?: HTMLButtonElement;
  unfolded?: boolean;
  /** The message menu, while open. */
  menu?: HTMLElement;
  /** The editor, while open; `back` is where the focus goes when it closes. */
  editor?: { box: HTMLElement; input: HTMLTextAreaElement; back: 'box' | 'menu' };
}

export type OlderState = 'unknown' | 'more' | 'loading' | 'start';

interface RoomLog {
  section: HTMLElement;
  older: HTMLElement;
  olderState: OlderState;
  msgs: Shown[];
  bySeq: Map<number, Shown>;
  cids: Set<string>;
  /** Messages that replies shown quote, not shown themselves. */
  quoted: Map<number, ChatMessage>;
  /** The replies shown, by the seq they answer. */
  replies: Map<number, Set<Shown>>;
  others: number;
  /** Keyed system lines (see sys). */
  keyed: Map<string, HTMLElement>;
  /** Saved scrollTop while another room is shown; null means "at the bottom". */
  scroll: number | null;
  newBelow: number;
  /** The "new" line goes above the first message of someone else after this seq. */
  newAfter?: number;
  newLine?: HTMLElement;
}

export interface SysAction {
  label: string;
  run(): void;
}

export interface SysOptions {
  /** Said once per room and key; saying it again updates the line (see MessageLog.sys). */
  key?: string;
  /** A keyed line said again shows how many times. */
  counted?: boolean;
  action?: SysAction;
}

export interface LogHooks {
  /** The reader is near the top of a room that has older messages. */
  wantOlder(room: string): void;
  /** The reader is at the newest line of the room shown (its messages are seen). */
  atBottom(room: string): void;
  /** A reply is shown whose message the log does not hold. */
  wantQuote(room: string, seq: number): void;
  /** A reply's quote was activated: show the message it answers. */
  openQuote(room: string, seq: number): void;
  reply(room: string, seq: number): void;
  /** Puts my reaction on or takes it back; false when it cannot go (the reason is said). */
  react(room: string, seq: number, emoji: string): boolean;
  /** Saves an edit; false when it cannot go as it is (the editor stays open). */
  edit(room: string, seq: number, text: string): boolean;
  remove(room: string, seq: number): void;
  /** The editor opened from the message box closed: the box takes the focus back. */
  editClosed(): void;
}

/** The line above the first message not read when the room was opened. */
function newLine(): HTMLElement {
  const line = el('div', 'new-line');
  line.setAttribute('role', 'separator');
  line.setAttribute('aria-label', 'New messages');
  line.append(el('span', 'new-label', 'New'));
  return line;
}

function sameState(a: ChatMessage, b: ChatMessage): boolean {
  return (
    a.text === b.text &&
    a.edited === b.edited &&
    !!a.removed === !!b.removed &&
    a.replyTo === b.replyTo &&
    JSON.stringify(a.reactions ?? []) === JSON.stringify(b.reactions ?? [])
  );
}

function isLong(text: string): boolean {
  if (text.length > FOLD_CHARS) return true;
  let lines = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (++lines > FOLD_LINES) return true;
  }
  return false;
}

export class MessageLog {
  readonly #logs = new Map<string, RoomLog>();
  #folds = 0;
  #current = '';
  #self: Self = { name: '' };
  /** The server's edit window, ms (0: none). */
  #editWindow = 0;
  /** I may remove anyone's messages in the room shown (a moderator there). */
  #moderator = false;
  /** The message whose menu is open. */
  #menuOf: Shown | undefined;

  readonly #box: HTMLElement;
  readonly #jump: HTMLButtonElement;
  readonly #hooks: LogHooks;

  constructor(box: HTMLElement, jump: HTMLButtonElement, hooks: LogHooks) {
    this.#box = box;
    this.#jump = jump;
    this.#hooks = hooks;
    box.addEventListener('scroll', () => this.#onScroll(), { passive: true });
    // A menu closes when the pointer or the focus goes elsewhere.
    const outside = (t: EventTarget | null): boolean => {
      const s = this.#menuOf;
      const more = s?.el.querySelector('.msg-more');
      return !!s?.menu && t instanceof Node && !s.menu.contains(t) && !more?.contains(t);
    };
    document.addEventListener('pointerdown', (e) => {
      if (outside(e.target)) this.#closeMenu(false);
    });
    document.addEventListener('focusin', (e) => {
      if (outside(e.target)) this.#closeMenu(false);
    });
    jump.addEventListener('click', () => {
      this.scrollToBottom();
      box.focus({ preventScroll: true });
    });
  }

  setSelf(self: Self): void {
    const was = this.#self;
    this.#self = self;
    if (was.id === self.id && foldKey(was.name) === foldKey(self.name)) return;
    // Someone else now (a sign-in), or a new name for messages that have no id: mine anew.
    for (const [room, log] of this.#logs) {
      this.#keepView(room, false, () => {
        for (const s of log.msgs) this.#paint(s);
      });
    }
  }

  setEditWindow(ms: number): void {
    this.#editWindow = ms;
  }

  /** Whether I moderate the room shown: its menus offer Remove on everyone's messages. */
  setModerator(can: boolean): void {
    this.#moderator = can;
  }

  // ---- what is shown --------------------------------------------------------------------------

  show(room: string): void {
    const old = this.#logs.get(this.#current);
    if (old && this.#current !== room) old.scroll = this.atBottom() ? null : this.#box.scrollTop;
    this.#current = room;
    const log = this.#roomLog(room);
    for (const [name, l] of this.#logs) l.section.hidden = name !== room;
    for (const s of log.msgs) if (s.sep) s.sep.textContent = dayLabel(s.ts);
    if (log.scroll === null) this.#box.scrollTop = this.#box.scrollHeight;
    else this.#box.scrollTop = log.scroll;
    this.#renderJump();
    this.#onScroll();
  }

  remove(room: string): void {
    this.#logs.get(room)?.section.remove();
    this.#logs.delete(room);
  }

  clear(room: string): void {
    const log = this.#logs.get(room);
    if (!log) return;
    for (const s of log.msgs) {
      s.el.remove();
      s.sep?.remove();
    }
    log.msgs = [];
    log.bySeq.clear();
    log.cids.clear();
    log.newLine?.remove();
    log.quoted.clear();
    log.replies.clear();
  }

  oldestSeq(room: string): number | undefined {
    return this.#logs.get(room)?.msgs[0]?.seq;
  }

  setOlder(room: string, state: OlderState): void {
    const log = this.#roomLog(room);
    log.olderState = state;
    const o = log.older;
    o.dataset['state'] = state;
    // One button that keeps the keyboard focus while a page loads.
    let b = o.querySelector<HTMLButtonElement>('button');
    if (!b) {
      b = button('load-older', '');
      b.addEventListener('click', () => this.#hooks.wantOlder(room));
      o.append(b, el('span', 'older-note'));
    }
    const note = o.querySelector('.older-note');
    const hadFocus = document.activeElement === b;
    b.hidden = state !== 'more' && state !== 'loading';
    b.textContent = state === 'loading' ? 'Loading older messages…' : 'Load older messages';
    b.setAttribute('aria-disabled', String(state === 'loading'));
    if (note)
      note.textContent = state === 'start' ? `This is the beginning of ${roomLabel(room)}.` : '';
    if (hadFocus && b.hidden) this.#box.focus({ preventScroll: true });
    // A short log shows its top: keep paging until it fills the view or reaches the start.
    if (state === 'more' && room === this.#current) this.#onScroll();
  }

  // ---- adding lines -------------------------------------------------------------------------

  /**
   * A system line (connection, errors, command output) at the end of a room's log. A line with
   * a `key` is said once per room: saying it again moves it to the end and counts the times.
   */
  sys(room: string, text: string, cls = '', opts: SysOptions = {}): HTMLElement {
    const log = this.#roomLog(room);
    const old = opts.key === undefined ? undefined : log.keyed.get(opts.key);
    const line = old?.isConnected ? old : el('div', `line sys ${cls}`.trim());
    const count = old?.isConnected ? Number(line.dataset['count'] ?? '1') + 1 : 1;
    line.dataset['ts'] = String(Date.now());
    const t = el('time', 'ts', clock(Date.now()));
    const parts: (Node | string)[] = [t, ' ', el('span', 'text', text)];
    if (opts.key !== undefined) line.dataset['count'] = String(count);
    if (count > 1 && opts.counted) parts.push(el('span', 'count', ` (${count} times)`));
    if (opts.action) parts.push(this.#actionButton(opts.action));
    line.replaceChildren(...parts);
    if (opts.key !== undefined) log.keyed.set(opts.key, line);
    this.#keepView(room, false, () => {
      if (line !== log.section.lastElementChild) log.section.append(line);
      if (count === 1) log.others++;
      this.#trim(log);
    });
    return line;
  }

  /** Changes a system line's text in place (and its action, when given). */
  setSysText(line: HTMLElement, text: string, action?: SysAction): void {
    const room = line.closest<HTMLElement>('.room-log')?.dataset['room'] ?? '';
    this.#keepView(room, false, () => {
      const span = line.querySelector('.text');
      if (span) span.textContent = text;
      line.querySelector('button.sys-action')?.remove();
      if (action) line.append(this.#actionButton(action));
    });
  }

  /** True when nothing came after this line in its room's log. */
  isLast(line: HTMLElement): boolean {
    return !!line.isConnected && line.nextElementSibling === null;
  }

  #actionButton(a: SysAction): HTMLButtonElement {
    const b = button('sys-action', a.label);
    b.addEventListener('click', a.run);
    return b;
  }

  /**
   * Shows messages not yet shown (by seq and by cid), each in its place. `live` messages are
   * new: when the reader is scrolled up they count towards the "new messages" button.
   */
  insert(room: string, messages: ChatMessage[], live: boolean): ChatMessage[] {
    const shown: ChatMessage[] = [];
    this.#keepView(room, live, () => {
      const log = this.#roomLog(room);
      for (const m of messages) if (this.#insertOne(log, m, live)) shown.push(m);
      this.#trim(log);
      if (shown.length > 0) this.#placeNew(log);
    });
    if (live && shown.length > 0 && room === this.#current && !this.atBottom()) {
      this.#roomLog(room).newBelow += shown.length;
      this.#renderJump();
    }
    return shown;
  }

  reveal(room: string, seq: number): boolean {
    const shown = this.#logs.get(room)?.bySeq.get(seq);
    if (!shown || room !== this.#current) return false;
    const line = shown.el;
    line.scrollIntoView({ block: 'center' });
    line.classList.add('found');
    line.tabIndex = -1;
    line.focus({ preventScroll: true });
    setTimeout(() => line.classList.remove('found'), FOUND_MS);
    return true;
  }

  scrollToBottom(): void {
    this.#box.scrollTop = this.#box.scrollHeight;
    this.#onScroll();
  }

  markNew(room: string, after: number | undefined): void {
    const log = this.#roomLog(room);
    if (log.newAfter === after && (after === undefined || log.newLine?.isConnected)) return;
    this.#keepView(room, false, () => {
      if (after === undefined) delete log.newAfter;
      else log.newAfter = after;
      this.#placeNew(log);
    });
  }

  /** Puts the "new" line where it belongs (or takes it away), and regroups around it. */
  #placeNew(log: RoomLog): void {
    const after = log.newAfter;
    const at =
      after === undefined
        ? -1
        : log.msgs.findIndex((s) => s.seq > after && !isMine(s.m, this.#self));
    const s = log.msgs[at];
    const line = log.newLine;
    if (!s) {
      if (line?.isConnected) {
        line.remove();
        this.#regroup(log);
      }
      return;
    }
    if (line?.isConnected && line.nextElementSibling === s.el) return;
    const l = (log.newLine ??= newLine());
    log.section.insertBefore(l, s.el);
    this.#regroup(log);
  }

  /** Groups again where the "new" line came or went (it breaks a group: see fixGroup). */
  #regroup(log: RoomLog): void {
    for (let i = 0; i < log.msgs.length; i++) this.#fixGroup(log, i);
  }

  // ---- a message's state ------------------------------------------------------------------------

  message(room: string, seq: number): ChatMessage | undefined {
    const log = this.#logs.get(room);
    return log?.bySeq.get(seq)?.m ?? log?.quoted.get(seq);
  }

  latest(room: string, pick: (m: ChatMessage) => boolean): ChatMessage | undefined {
    const msgs = this.#logs.get(room)?.msgs ?? [];
    for (let i = msgs.length - 1; i >= 0; i--) {
      const m = msgs[i]?.m;
      if (m && pick(m)) return m;
    }
    return undefined;
  }

  update(room: string, m: ChatMessage): void {
    const log = this.#logs.get(room);
    if (!log) return;
    const s = log.bySeq.get(m.seq);
    if (s) {
      if (sameState(s.m, m)) return;
      s.m = m;
      this.#keepView(room, false, () => {
        this.#paint(s);
        this.#fixGroup(log, log.msgs.indexOf(s) + 1);
      });
    } else if (log.quoted.has(m.seq)) {
      log.quoted.set(m.seq, m);
    } else return;
    this.#requote(log, m.seq);
  }

  quoted(room: string, m: ChatMessage): void {
    const log = this.#roomLog(room);
    if (log.bySeq.has(m.seq)) return;
    log.quoted.set(m.seq, m);
    if (log.quoted.size > MAX_QUOTED) log.quoted.delete(log.quoted.keys().next().value ?? 0);
    this.#requote(log, m.seq);
  }

  startEdit(room: string, seq: number): boolean {
    return this.#openEditor(room, seq, 'box');
  }

  #openEditor(room: string, seq: number, back: 'box' | 'menu'): boolean {
    const s = this.#logs.get(room)?.bySeq.get(seq);
    if (!s || room !== this.#current || !this.#allowed(s, false).edit) return false;
    this.#closeMenu(false);
    if (!s.editor) {
      const { box, input } = messageEditor(
        s.m.text,
        (text) => {
          if (text === s.m.text || this.#hooks.edit(room, seq, text)) this.#closeEditor(s);
        },
        () => this.#closeEditor(s),
      );
      s.editor = { box, input, back };
      this.#keepView(room, false, () => this.#paint(s));
    }
    const input = s.editor.input;
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    s.el.scrollIntoView({ block: 'nearest' });
    return true;
  }

  #closeEditor(s: Shown): void {
    const ed = s.editor;
    if (!ed) return;
    delete s.editor;
    this.#keepView(s.room, false, () => this.#paint(s));
    if (ed.back === 'box') this.#hooks.editClosed();
    else (s.el.querySelector<HTMLElement>('.msg-more') ?? this.#box).focus();
  }

  #allowed(s: Shown, moderator: boolean): ReturnType<typeof allowed> {
    return allowed(s.m, this.#self, moderator, { ms: this.#editWindow, now: Date.now() });
  }

  #openMenu(s: Shown): void {
    const was = this.#menuOf;
    this.#closeMenu(false);
    if (was === s) {
      s.el.querySelector<HTMLElement>('.msg-more')?.focus();
      return;
    }
    const { room, seq } = s;
    const can = this.#allowed(s, this.#moderator && !room.startsWith('@'));
    s.menu = messageMenu({
      from: s.m.from,
      canEdit: can.edit,
      canRemove: can.remove,
      react: (emoji) => this.#hooks.react(room, seq, emoji),
      reply: () => {
        this.#closeMenu(false);
        this.#hooks.reply(room, seq);
      },
      edit: () => this.#openEditor(room, seq, 'menu'),
      remove: () => this.#hooks.remove(room, seq),
      close: () => this.#closeMenu(true),
    });
    this.#menuOf = s;
    this.#paint(s);
    const line = s.el.getBoundingClientRect();
    const view = this.#box.getBoundingClientRect();
    // Below the message when there is room for it, else above.
    s.menu.classList.toggle('up', line.top - view.top > view.bottom - line.bottom);
    s.menu.scrollIntoView({ block: 'nearest' });
    s.menu.querySelector<HTMLElement>('button')?.focus();
  }

  /** Closes the open menu; with `refocus`, its button takes the focus back. */
  #closeMenu(refocus: boolean): void {
    const s = this.#menuOf;
    this.#menuOf = undefined;
    if (!s?.menu) return;
    const had = s.menu.contains(document.activeElement);
    s.menu.remove();
    delete s.menu;
    this.#paint(s);
    if (refocus || had) s.el.querySelector<HTMLElement>('.msg-more')?.focus();
  }

  /** Redraws the quotes of the replies to `seq`. */
  #requote(log: RoomLog, seq: number): void {
    const target = log.bySeq.get(seq)?.m ?? log.quoted.get(seq);
    for (const r of log.replies.get(seq) ?? []) if (r.quote) fillQuote(r.quote, target);
  }

  #insertOne(log: RoomLog, m: ChatMessage, live: boolean): boolean {
    if (log.bySeq.has(m.seq) || log.cids.has(m.cid)) return false;
    const room = log.section.dataset['room'] ?? '';
    const s: Shown = {
      room,
      seq: m.seq,
      cid: m.cid,
      from: m.from,
      ts: m.ts,
      me: m.me,
      day: dayKey(m.ts),
      el: el('div', 'line msg'),
      m,
    };
    s.el.dataset['seq'] = String(m.seq);
    s.el.dataset['cid'] = m.cid;
    if (m.replyTo !== undefined) {
      const set = log.replies.get(m.replyTo) ?? new Set();
      log.replies.set(m.replyTo, set.add(s));
    }
    log.quoted.delete(m.seq);
    this.#paint(s);
    // Index of the first shown seq above this one; binary search keeps big pages cheap.
    let lo = 0;
    let hi = log.msgs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((log.msgs[mid]?.seq ?? 0) > m.seq) hi = mid;
      else lo = mid + 1;
    }
    const next = log.msgs[lo];
    let before: Element | null = next ? (next.sep ?? next.el) : null;
    if (!live) {
      // History goes above the page's own lines (connection, presence) that came after it,
      // so a first page lands above "Connection opened." and a gap fill before the reconnect.
      let prev = before ? before.previousElementSibling : log.section.lastElementChild;
      while (prev instanceof HTMLElement && prev.classList.contains('sys')) {
        if (Number(prev.dataset['ts']) <= m.ts) break;
        before = prev;
        prev = prev.previousElementSibling;
      }
    }
    log.section.insertBefore(s.el, before);
    log.msgs.splice(lo, 0, s);
    log.bySeq.set(m.seq, s);
    log.cids.add(m.cid);
    this.#requote(log, m.seq);
    this.#fixDay(log, lo);
    this.#fixDay(log, lo + 1);
    this.#fixGroup(log, lo);
    this.#fixGroup(log, lo + 1);
    return true;
  }

  /**
   * Draws a message from its state, again after each change: the focused control (found again
   * by its key when it was redrawn) keeps the focus, the open editor and menu stay.
   */
  #paint(s: Shown): void {
    const { m, el: line, room } = s;
    const active = document.activeElement as HTMLElement | null;
    const focus = active && line.contains(active) ? active : null;
    const key = focus?.dataset['key'];
    const field = focus instanceof HTMLTextAreaElement || focus instanceof HTMLInputElement;
    const [from0, to0] = field ? [focus.selectionStart, focus.selectionEnd] : [null, null];
    const mine = isMine(m, this.#self);
    const removed = !!m.removed;
    if (removed && s.editor) delete s.editor;
    if (removed && s.menu) this.#closeMenu(false);
    line.classList.toggle('action', m.me && !removed);
    line.classList.toggle('mine', mine);
    line.classList.toggle('mention', !mine && !removed && mentionsName(m.text, this.#self.name));
    line.classList.toggle('removed', removed);
    line.classList.toggle('editing', !!s.editor);
    const time = el('time', 'ts', clock(m.ts));
    time.dateTime = new Date(m.ts).toISOString();
    time.title = new Date(m.ts).toLocaleString();
    const from = el('b', 'from', m.from);
    // Each message and name in its own direction: Arabic or Hebrew runs right to left.
    from.dir = 'auto';
    const text = el('span', removed ? 'text removed-note' : 'text');
    text.dir = 'auto';
    if (removed) text.textContent = 'message removed';
    else text.append(...richText(m.text, mine ? '' : this.#self.name));
    if (m.edited !== undefined && !removed) {
      const mark = el('span', 'edited', '(edited)');
      mark.title = `Edited ${new Date(m.edited).toLocaleString()}`;
      mark.setAttribute('aria-label', mark.title);
      text.append(' ', mark);
    }
    const body: HTMLElement = s.editor?.box ?? text;
    const quote: HTMLElement[] = [];
    if (m.replyTo !== undefined && !removed) {
      const target = m.replyTo;
      s.quote ??= quoteButton(() => this.#hooks.openQuote(room, target));
      const held = this.message(room, target);
      fillQuote(s.quote, held);
      if (!held) this.#hooks.wantQuote(room, target);
      quote.push(s.quote);
    }
    const parts: (Node | string)[] = [];
    if (m.me && !removed) {
      parts.push(...quote, time, ' * ', from, ' ', body);
    } else {
      const meta = el('span', 'meta');
      meta.append(from, ' ', time);
      parts.push(meta, ...quote, body);
    }
    if (!s.editor && !removed && isLong(m.text)) parts.push(this.#foldButton(s, text));
    if (!removed && m.reactions && m.reactions.length > 0) {
      parts.push(
        reactionChips(
          m.reactions,
          this.#self.name,
          (emoji) => void this.#hooks.react(room, s.seq, emoji),
          () => this.#openMenu(s),
        ),
      );
    }
    if (!removed) {
      const more = button('msg-more', '', `Actions on the message of ${m.from}, ${clock(m.ts)}`);
      more.dataset['key'] = 'more';
      more.title = 'Reply, react and more';
      more.setAttribute('aria-expanded', String(!!s.menu));
      if (s.menu) {
        s.menu.id ||= `msg-menu-${s.room}-${s.seq}`;
        more.setAttribute('aria-controls', s.menu.id);
      }
      more.addEventListener('click', () => this.#openMenu(s));
      parts.push(more);
    }
    if (s.menu) parts.push(s.menu);
    line.replaceChildren(...parts);
    if (focus && !focus.isConnected && key !== undefined) {
      line.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)?.focus();
    } else if (focus?.isConnected && document.activeElement !== focus) {
      focus.focus({ preventScroll: true });
      if (field && from0 !== null && to0 !== null) focus.setSelectionRange(from0, to0);
    }
  }

  /** Folds a long message to a few lines behind a Show more / Show less button. */
  #foldButton(s: Shown, text: HTMLElement): HTMLButtonElement {
    text.id = `msg-text-${++this.#folds}`;
    const b = button('fold', '');
    b.dataset['key'] = 'fold';
    b.setAttribute('aria-controls', text.id);
    const show = (open: boolean): void => {
      text.classList.toggle('folded', !open);
      b.textContent = open ? 'Show less' : 'Show more';
      b.setAttribute('aria-expanded', String(open));
    };
    show(!!s.unfolded);
    b.addEventListener('click', () => {
      s.unfolded = !s.unfolded;
      show(s.unfolded);
      // Folding again keeps the message's start in view rather than the page below it.
      if (!s.unfolded) s.el.scrollIntoView({ block: 'nearest' });
    });
    return b;
  }

  #fixDay(log: RoomLog, i: number): void {
    const s = log.msgs[i];
    if (!s) return;
    const prev = log.msgs[i - 1];
    const need = !prev || prev.day !== s.day;
    if (need && !s.sep) {
      s.sep = el('div', 'day');
      s.sep.setAttribute('role', 'separator');
      s.sep.textContent = dayLabel(s.ts);
      log.section.insertBefore(s.sep, s.el);
    } else if (!need && s.sep) {
      s.sep.remove();
      delete s.sep;
    }
  }

  #fixGroup(log: RoomLog, i: number): void {
    const s = log.msgs[i];
    const p = log.msgs[i - 1];
    if (!s) return;
    const grouped =
      !!p &&
      !s.sep &&
      !s.me &&
      !p.me &&
      // A placeholder does not head a group: what follows it shows its sender again.
      !p.m.removed &&
      p.from === s.from &&
      s.ts >= p.ts &&
      s.ts - p.ts < GROUP_MS &&
      p.el.nextElementSibling === s.el;
    s.el.classList.toggle('grouped', grouped);
  }

  /** Drops the oldest lines past the caps, only while the reader is not looking at them. */
  #trim(log: RoomLog): void {
    const reading = log.section.hidden ? log.scroll !== null : !this.atBottom();
    if (reading) return;
    let dropped = false;
    while (log.msgs.length > MAX_MESSAGES) {
      const s = log.msgs.shift();
      if (!s) break;
      s.el.remove();
      s.sep?.remove();
      log.bySeq.delete(s.seq);
      log.cids.delete(s.cid);
      if (s.m.replyTo !== undefined) log.replies.get(s.m.replyTo)?.delete(s);
      // Still quoted by a reply shown: kept for its quote.
      if (log.replies.get(s.seq)?.size) log.quoted.set(s.seq, s.m);
      if (this.#menuOf === s) this.#menuOf = undefined;
      dropped = true;
    }
    if (dropped) {
      this.#fixDay(log, 0);
      this.#fixGroup(log, 0);
      if (log.olderState === 'start') this.setOlder(log.section.dataset['room'] ?? '', 'more');
    }
    while (log.others > MAX_OTHER) {
      const first = log.section.querySelector('.sys');
      if (!first) break;
      first.remove();
      log.others--;
    }
  }

  // ---- scrolling ------------------------------------------------------------------------------

  atBottom(): boolean {
    const b = this.#box;
    return b.scrollHeight - b.scrollTop - b.clientHeight < BOTTOM_PX;
  }

  /**
   * The first message or system line at least partly in view: never the "older" bar (it stays
   * on top while pages go in below it) nor a day separator (it may be removed by the change).
   */
  #firstVisible(log: RoomLog): HTMLElement | null {
    const lines = log.section.children;
    const top = this.#box.scrollTop;
    let lo = 1;
    let hi = lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = lines[mid] as HTMLElement;
      if (e.offsetTop + e.offsetHeight <= top) lo = mid + 1;
      else hi = mid;
    }
    let e = lines[lo] as HTMLElement | undefined;
    while (e && !e.classList.contains('line')) e = e.nextElementSibling as HTMLElement | undefined;
    return e ?? null;
  }

  /** Runs a change to a room's lines and keeps the reader's view where it was. */
  #keepView(room: string, live: boolean, change: () => void): void {
    const log = this.#logs.get(room);
    if (room !== this.#current || !log) {
      change();
      return;
    }
    const bottom = this.atBottom();
    const anchor = bottom ? null : this.#firstVisible(log);
    const before = anchor?.getBoundingClientRect().top ?? 0;
    change();
    if (bottom) this.#box.scrollTop = this.#box.scrollHeight;
    else if (anchor?.isConnected) {
      this.#box.scrollTop += anchor.getBoundingClientRect().top - before;
    }
    if (!live) this.#onScroll();
  }

  #onScroll(): void {
    const log = this.#logs.get(this.#current);
    if (!log) return;
    const bottom = this.atBottom();
    if (log.newBelow > 0 && bottom) {
      log.newBelow = 0;
      this.#renderJump();
    }
    if (bottom) this.#hooks.atBottom(this.#current);
    if (log.olderState === 'more' && this.#box.scrollTop < TOP_PX) {
      this.#hooks.wantOlder(this.#current);
    }
  }

  #renderJump(): void {
    const n = this.#logs.get(this.#current)?.newBelow ?? 0;
    this.#jump.hidden = n === 0;
    this.#jump.textContent = n === 1 ? '1 new message ↓' : `${n} new messages ↓`;
  }

  #roomLog(room: string): RoomLog {
    let log = this.#logs.get(room);
    if (!log) {
      const section = el('section', 'room-log');
      section.dataset['room'] = room;
      section.setAttribute('aria-label', `Messages in ${roomLabel(room)}`);
      section.hidden = room !== this.#current;
      const older = el('div', 'older');
      section.append(older);
      this.#box.append(section);
      log = {
        section,
        older,
        olderState: 'unknown',
        msgs: [],
        bySeq: new Map(),
        cids: new Set(),
        quoted: new Map(),
        replies: new Map(),
        others: 0,
        keyed: new Map(),
        scroll: null,
        newBelow: 0,
      };
      this.#logs.set(room, log);
    }
    return log;
  }
}
