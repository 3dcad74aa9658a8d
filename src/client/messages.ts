// The message log: one section per room, only the current one shown. Messages sit in seq order
// (a seq or a cid is shown at most once), grouped when one person writes several in a row, with
// a separator per day. Inserting keeps what the reader looks at in place: at the bottom it
// follows new messages; scrolled up, older pages load above without a jump and new messages
// below raise a "new messages" button instead of moving the view.

import { foldKey, type ChatMessage } from '../protocol/index.js';
import { button, clock, dayKey, dayLabel, el, roomLabel } from './dom.js';
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

interface Shown {
  seq: number;
  cid: string;
  from: string;
  ts: number;
  me: boolean;
  day: string;
  el: HTMLElement;
  sep?: HTMLElement;
}

export type OlderState = 'unknown' | 'more' | 'loading' | 'start';

interface RoomLog {
  section: HTMLElement;
  older: HTMLElement;
  olderState: OlderState;
  msgs: Shown[];
  bySeq: Map<number, Shown>;
  cids: Set<string>;
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
}

/** The line above the first message not read when the room was opened. */
function newLine(): HTMLElement {
  const line = el('div', 'new-line');
  line.setAttribute('role', 'separator');
  line.setAttribute('aria-label', 'New messages');
  line.append(el('span', 'new-label', 'New'));
  return line;
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
  private readonly logs = new Map<string, RoomLog>();
  private folds = 0;
  private current = '';
  private myName = '';

  constructor(
    private readonly box: HTMLElement,
    private readonly jump: HTMLButtonElement,
    private readonly hooks: LogHooks,
  ) {
    box.addEventListener('scroll', () => this.onScroll(), { passive: true });
    jump.addEventListener('click', () => {
      this.scrollToBottom();
      box.focus({ preventScroll: true });
    });
  }

  setMyName(name: string): void {
    this.myName = name;
  }

  // ---- what is shown --------------------------------------------------------------------------

  show(room: string): void {
    const old = this.logs.get(this.current);
    if (old && this.current !== room) old.scroll = this.atBottom() ? null : this.box.scrollTop;
    this.current = room;
    const log = this.roomLog(room);
    for (const [name, l] of this.logs) l.section.hidden = name !== room;
    for (const s of log.msgs) if (s.sep) s.sep.textContent = dayLabel(s.ts);
    if (log.scroll === null) this.box.scrollTop = this.box.scrollHeight;
    else this.box.scrollTop = log.scroll;
    this.renderJump();
    this.onScroll();
  }

  remove(room: string): void {
    this.logs.get(room)?.section.remove();
    this.logs.delete(room);
  }

  clear(room: string): void {
    const log = this.logs.get(room);
    if (!log) return;
    for (const s of log.msgs) {
      s.el.remove();
      s.sep?.remove();
    }
    log.msgs = [];
    log.bySeq.clear();
    log.cids.clear();
    log.newLine?.remove();
  }

  oldestSeq(room: string): number | undefined {
    return this.logs.get(room)?.msgs[0]?.seq;
  }

  setOlder(room: string, state: OlderState): void {
    const log = this.roomLog(room);
    log.olderState = state;
    const o = log.older;
    o.dataset['state'] = state;
    // One button that keeps the keyboard focus while a page loads.
    let b = o.querySelector<HTMLButtonElement>('button');
    if (!b) {
      b = button('load-older', '');
      b.addEventListener('click', () => this.hooks.wantOlder(room));
      o.append(b, el('span', 'older-note'));
    }
    const note = o.querySelector('.older-note');
    const hadFocus = document.activeElement === b;
    b.hidden = state !== 'more' && state !== 'loading';
    b.textContent = state === 'loading' ? 'Loading older messages…' : 'Load older messages';
    b.setAttribute('aria-disabled', String(state === 'loading'));
    if (note)
      note.textContent = state === 'start' ? `This is the beginning of ${roomLabel(room)}.` : '';
    if (hadFocus && b.hidden) this.box.focus({ preventScroll: true });
    // A short log shows its top: keep paging until it fills the view or reaches the start.
    if (state === 'more' && room === this.current) this.onScroll();
  }

  // ---- adding lines -------------------------------------------------------------------------

  /**
   * A system line (connection, errors, command output) at the end of a room's log. A line with
   * a `key` is said once per room: saying it again moves it to the end and counts the times.
   */
  sys(room: string, text: string, cls = '', opts: SysOptions = {}): HTMLElement {
    const log = this.roomLog(room);
    const old = opts.key === undefined ? undefined : log.keyed.get(opts.key);
    const line = old?.isConnected ? old : el('div', `line sys ${cls}`.trim());
    const count = old?.isConnected ? Number(line.dataset['count'] ?? '1') + 1 : 1;
    line.dataset['ts'] = String(Date.now());
    const t = el('time', 'ts', clock(Date.now()));
    const parts: (Node | string)[] = [t, ' ', el('span', 'text', text)];
    if (opts.key !== undefined) line.dataset['count'] = String(count);
    if (count > 1 && opts.counted) parts.push(el('span', 'count', ` (${count} times)`));
    if (opts.action) parts.push(this.actionButton(opts.action));
    line.replaceChildren(...parts);
    if (opts.key !== undefined) log.keyed.set(opts.key, line);
    this.keepView(room, false, () => {
      if (line !== log.section.lastElementChild) log.section.append(line);
      if (count === 1) log.others++;
      this.trim(log);
    });
    return line;
  }

  /** Changes a system line's text in place (and its action, when given). */
  setSysText(line: HTMLElement, text: string, action?: SysAction): void {
    const room = line.closest<HTMLElement>('.room-log')?.dataset['room'] ?? '';
    this.keepView(room, false, () => {
      const span = line.querySelector('.text');
      if (span) span.textContent = text;
      line.querySelector('button.sys-action')?.remove();
      if (action) line.append(this.actionButton(action));
    });
  }

  /** True when nothing came after this line in its room's log. */
  isLast(line: HTMLElement): boolean {
    return !!line.isConnected && line.nextElementSibling === null;
  }

  private actionButton(a: SysAction): HTMLButtonElement {
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
    this.keepView(room, live, () => {
      const log = this.roomLog(room);
      for (const m of messages) if (this.insertOne(log, m, live)) shown.push(m);
      this.trim(log);
      if (shown.length > 0) this.placeNew(log);
    });
    if (live && shown.length > 0 && room === this.current && !this.atBottom()) {
      this.roomLog(room).newBelow += shown.length;
      this.renderJump();
    }
    return shown;
  }

  reveal(room: string, seq: number): boolean {
    const shown = this.logs.get(room)?.bySeq.get(seq);
    if (!shown || room !== this.current) return false;
    const line = shown.el;
    line.scrollIntoView({ block: 'center' });
    line.classList.add('found');
    line.tabIndex = -1;
    line.focus({ preventScroll: true });
    setTimeout(() => line.classList.remove('found'), FOUND_MS);
    return true;
  }

  scrollToBottom(): void {
    this.box.scrollTop = this.box.scrollHeight;
    this.onScroll();
  }

  markNew(room: string, after: number | undefined): void {
    const log = this.roomLog(room);
    if (log.newAfter === after && (after === undefined || log.newLine?.isConnected)) return;
    this.keepView(room, false, () => {
      if (after === undefined) delete log.newAfter;
      else log.newAfter = after;
      this.placeNew(log);
    });
  }

  /** Puts the "new" line where it belongs (or takes it away), and regroups around it. */
  private placeNew(log: RoomLog): void {
    const after = log.newAfter;
    const me = this.myName ? foldKey(this.myName) : '';
    const at =
      after === undefined ? -1 : log.msgs.findIndex((s) => s.seq > after && foldKey(s.from) !== me);
    const s = log.msgs[at];
    const line = log.newLine;
    if (!s) {
      if (line?.isConnected) {
        line.remove();
        this.regroup(log);
      }
      return;
    }
    if (line?.isConnected && line.nextElementSibling === s.el) return;
    const l = (log.newLine ??= newLine());
    log.section.insertBefore(l, s.el);
    this.regroup(log);
  }

  /** Groups again where the "new" line came or went (it breaks a group: see fixGroup). */
  private regroup(log: RoomLog): void {
    for (let i = 0; i < log.msgs.length; i++) this.fixGroup(log, i);
  }

  private insertOne(log: RoomLog, m: ChatMessage, live: boolean): boolean {
    if (log.bySeq.has(m.seq) || log.cids.has(m.cid)) return false;
    const s: Shown = {
      seq: m.seq,
      cid: m.cid,
      from: m.from,
      ts: m.ts,
      me: m.me,
      day: dayKey(m.ts),
      el: this.line(m),
    };
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
    this.fixDay(log, lo);
    this.fixDay(log, lo + 1);
    this.fixGroup(log, lo);
    this.fixGroup(log, lo + 1);
    return true;
  }

  private line(m: ChatMessage): HTMLElement {
    const mine = !!this.myName && foldKey(m.from) === foldKey(this.myName);
    const mention = !mine && mentionsName(m.text, this.myName);
    const line = el('div', 'line msg');
    if (m.me) line.classList.add('action');
    if (mine) line.classList.add('mine');
    if (mention) line.classList.add('mention');
    line.dataset['seq'] = String(m.seq);
    line.dataset['cid'] = m.cid;
    const time = el('time', 'ts', clock(m.ts));
    time.dateTime = new Date(m.ts).toISOString();
    time.title = new Date(m.ts).toLocaleString();
    const from = el('b', 'from', m.from);
    // Each message and name in its own direction: Arabic or Hebrew runs right to left.
    from.dir = 'auto';
    const text = el('span', 'text');
    text.dir = 'auto';
    text.append(...richText(m.text, mine ? '' : this.myName));
    if (m.me) {
      line.append(time, ' * ', from, ' ', text);
    } else {
      const meta = el('span', 'meta');
      meta.append(from, ' ', time);
      line.append(meta, text);
    }
    if (isLong(m.text)) line.append(this.foldButton(line, text));
    return line;
  }

  /** Folds a long message to a few lines behind a Show more / Show less button. */
  private foldButton(line: HTMLElement, text: HTMLElement): HTMLButtonElement {
    text.id = `msg-text-${++this.folds}`;
    text.classList.add('folded');
    const b = button('fold', 'Show more');
    b.setAttribute('aria-expanded', 'false');
    b.setAttribute('aria-controls', text.id);
    b.addEventListener('click', () => {
      const open = text.classList.toggle('folded') === false;
      b.textContent = open ? 'Show less' : 'Show more';
      b.setAttribute('aria-expanded', String(open));
      // Folding again keeps the message's start in view rather than the page below it.
      if (!open) line.scrollIntoView({ block: 'nearest' });
    });
    return b;
  }

  private fixDay(log: RoomLog, i: number): void {
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

  private fixGroup(log: RoomLog, i: number): void {
    const s = log.msgs[i];
    const p = log.msgs[i - 1];
    if (!s) return;
    const grouped =
      !!p &&
      !s.sep &&
      !s.me &&
      !p.me &&
      p.from === s.from &&
      s.ts >= p.ts &&
      s.ts - p.ts < GROUP_MS &&
      p.el.nextElementSibling === s.el;
    s.el.classList.toggle('grouped', grouped);
  }

  /** Drops the oldest lines past the caps, only while the reader is not looking at them. */
  private trim(log: RoomLog): void {
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
      dropped = true;
    }
    if (dropped) {
      this.fixDay(log, 0);
      this.fixGroup(log, 0);
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
    const b = this.box;
    return b.scrollHeight - b.scrollTop - b.clientHeight < BOTTOM_PX;
  }

  /**
   * The first message or system line at least partly in view: never the "older" bar (it stays
   * on top while pages go in below it) nor a day separator (it may be removed by the change).
   */
  private firstVisible(log: RoomLog): HTMLElement | null {
    const lines = log.section.children;
    const top = this.box.scrollTop;
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
  private keepView(room: string, live: boolean, change: () => void): void {
    const log = this.logs.get(room);
    if (room !== this.current || !log) {
      change();
      return;
    }
    const bottom = this.atBottom();
    const anchor = bottom ? null : this.firstVisible(log);
    const before = anchor?.getBoundingClientRect().top ?? 0;
    change();
    if (bottom) this.box.scrollTop = this.box.scrollHeight;
    else if (anchor?.isConnected) {
      this.box.scrollTop += anchor.getBoundingClientRect().top - before;
    }
    if (!live) this.onScroll();
  }

  private onScroll(): void {
    const log = this.logs.get(this.current);
    if (!log) return;
    const bottom = this.atBottom();
    if (log.newBelow > 0 && bottom) {
      log.newBelow = 0;
      this.renderJump();
    }
    if (bottom) this.hooks.atBottom(this.current);
    if (log.olderState === 'more' && this.box.scrollTop < TOP_PX) {
      this.hooks.wantOlder(this.current);
    }
  }

  private renderJump(): void {
    const n = this.logs.get(this.current)?.newBelow ?? 0;
    this.jump.hidden = n === 0;
    this.jump.textContent = n === 1 ? '1 new message ↓' : `${n} new messages ↓`;
  }

  private roomLog(room: string): RoomLog {
    let log = this.logs.get(room);
    if (!log) {
      const section = el('section', 'room-log');
      section.dataset['room'] = room;
      section.setAttribute('aria-label', `Messages in ${roomLabel(room)}`);
      section.hidden = room !== this.current;
      const older = el('div', 'older');
      section.append(older);
      this.box.append(section);
      log = {
        section,
        older,
        olderState: 'unknown',
        msgs: [],
        bySeq: new Map(),
        cids: new Set(),
        others: 0,
        keyed: new Map(),
        scroll: null,
        newBelow: 0,
      };
      this.logs.set(room, log);
    }
    return log;
  }
}
