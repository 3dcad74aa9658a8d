// DOM rendering. Every name and message goes in through textContent or text nodes, never as
// HTML. One log section per room, only the current one shown; messages sit in seq order.

import type { ChatMessage } from '../protocol/index.js';
import type { ConnState } from './connection.js';
import type { OutboxEntry } from './outbox.js';

/** Lines kept per room; the oldest go first. */
const MAX_LINES = 1000;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls = '',
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from the page`);
  return e as T;
}

export function roomLabel(room: string): string {
  return room.startsWith('@') ? room : `#${room}`;
}

function clock(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** `name: text`, or `* name text` for an action, as nodes. */
function messageNodes(from: string, text: string, me: boolean): (Node | string)[] {
  const who = el('b', 'from', from);
  const body = el('span', 'text', text);
  return me ? ['* ', who, ' ', body] : [who, ': ', body];
}

interface RoomLog {
  el: HTMLElement;
  /** Sequence numbers shown, ascending, and their lines. */
  seqs: number[];
  bySeq: Map<number, HTMLElement>;
}

export interface RoomItem {
  name: string;
  unread: number;
  joined: boolean;
}

export class View {
  readonly status = byId('status');
  readonly log = byId('log');
  readonly text = byId<HTMLInputElement>('text');
  readonly sendForm = byId<HTMLFormElement>('send-form');
  readonly joinForm = byId<HTMLFormElement>('join-form');
  readonly joinInput = byId<HTMLInputElement>('join-input');
  private readonly me = byId('me');
  private readonly title = byId('room-title');
  private readonly rooms = byId('rooms');
  private readonly members = byId('members');
  private readonly typing = byId('typing');
  private readonly pending = byId('pending');
  private readonly logs = new Map<string, RoomLog>();
  private current = '';

  setStatus(state: ConnState, retryInS = 0): void {
    this.status.dataset['state'] = state;
    this.status.textContent =
      state === 'connected'
        ? 'connected'
        : state === 'connecting'
          ? 'connecting…'
          : `offline — reconnecting in ${retryInS} s`;
  }

  setMe(name: string): void {
    this.me.textContent = name;
  }

  /** A system line (connection, errors, command output) in a room's log. */
  sys(room: string, text: string, cls = ''): void {
    const line = el('div', `line sys ${cls}`.trim());
    line.append(el('time', 'ts', clock(Date.now())), ' ', el('span', 'text', text));
    this.add(room, line, null);
  }

  /** False when that seq is already shown: a message never appears twice. */
  insertMessage(room: string, m: ChatMessage, mine: boolean): boolean {
    const log = this.roomLog(room);
    if (log.bySeq.has(m.seq)) return false;
    const line = el('div', `line msg${m.me ? ' action' : ''}${mine ? ' mine' : ''}`);
    line.dataset['seq'] = String(m.seq);
    line.title = new Date(m.ts).toLocaleString();
    line.append(el('time', 'ts', clock(m.ts)), ' ', ...messageNodes(m.from, m.text, m.me));
    // First shown seq above this one; binary search keeps big backfills cheap.
    let lo = 0;
    let hi = log.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((log.seqs[mid] ?? 0) > m.seq) hi = mid;
      else lo = mid + 1;
    }
    const next = log.seqs[lo];
    log.seqs.splice(lo, 0, m.seq);
    log.bySeq.set(m.seq, line);
    this.add(room, line, next === undefined ? null : (log.bySeq.get(next) ?? null));
    return true;
  }

  clearMessages(room: string): void {
    const log = this.roomLog(room);
    for (const line of log.bySeq.values()) line.remove();
    log.seqs = [];
    log.bySeq.clear();
  }

  removeRoom(room: string): void {
    this.logs.get(room)?.el.remove();
    this.logs.delete(room);
  }

  showRoom(room: string): void {
    this.current = room;
    this.roomLog(room);
    for (const [name, log] of this.logs) log.el.hidden = name !== room;
    this.title.textContent = roomLabel(room);
    this.log.scrollTop = this.log.scrollHeight;
  }

  setRooms(items: RoomItem[], current: string): void {
    this.rooms.replaceChildren(
      ...items.map((r) => {
        const b = el('button', r.name === current ? 'room current' : 'room', roomLabel(r.name));
        b.type = 'button';
        b.dataset['room'] = r.name;
        if (r.name === current) b.setAttribute('aria-current', 'true');
        if (!r.joined && !r.name.startsWith('@')) b.classList.add('parted');
        if (r.unread > 0) b.append(' ', el('span', 'badge', String(r.unread)));
        const li = el('li');
        li.append(b);
        return li;
      }),
    );
  }

  onRoomClick(handler: (room: string) => void): void {
    this.rooms.addEventListener('click', (e) => {
      const b = (e.target as Element | null)?.closest<HTMLElement>('button[data-room]');
      const room = b?.dataset['room'];
      if (room !== undefined) handler(room);
    });
  }

  setMembers(names: string[], me: string): void {
    this.members.replaceChildren(
      ...names.map((n) => el('li', n === me ? 'member me' : 'member', n)),
    );
  }

  setTyping(names: string[]): void {
    this.typing.textContent =
      names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
  }

  setPending(entries: OutboxEntry[], me: string): void {
    this.pending.replaceChildren(
      ...entries.map((p) => {
        const line = el('div', 'line pending');
        line.dataset['cid'] = p.cid;
        if (p.room !== this.current) line.append(el('span', 'where', `[${roomLabel(p.room)}] `));
        line.append(...messageNodes(me || 'you', p.text, p.me), el('span', 'note', ' (sending…)'));
        return line;
      }),
    );
  }

  private roomLog(room: string): RoomLog {
    let log = this.logs.get(room);
    if (!log) {
      const section = el('section', 'room-log');
      section.dataset['room'] = room;
      section.hidden = room !== this.current;
      this.log.append(section);
      log = { el: section, seqs: [], bySeq: new Map() };
      this.logs.set(room, log);
    }
    return log;
  }

  private add(room: string, line: HTMLElement, before: HTMLElement | null): void {
    const log = this.roomLog(room);
    const box = this.log;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
    log.el.insertBefore(line, before);
    while (log.el.childElementCount > MAX_LINES) {
      const first = log.el.firstElementChild as HTMLElement;
      const seq = first.dataset['seq'];
      if (seq !== undefined) {
        log.bySeq.delete(Number(seq));
        log.seqs.shift();
      }
      first.remove();
    }
    if (room === this.current && atBottom) box.scrollTop = box.scrollHeight;
  }
}
