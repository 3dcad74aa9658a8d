// What the server says about rooms, applied to their state and then shown: messages as they
// come (with unread counts kept by reading.ts, the title, notifications and screen readers),
// their edits, removals and reactions, who came, left, renamed or is typing, and the members a
// join or /who brought.

import { membersLine, type ChatMessage, type LifecycleEvent } from '../protocol/index.js';
import { attention } from './attention.js';
import { roomLabel } from './dom.js';
import type { HistorySync } from './history-sync.js';
import type { ChatView } from './ports.js';
import type { PresenceNotes } from './presence-notes.js';
import type { Reading } from './reading.js';
import type { ResultOf } from './requests.js';
import { isMine, type Self } from './message-state.js';
import { sameName, type RoomState } from './room-state.js';
import type { RoomPanel } from './room-panel.js';
import type { Roster } from './roster.js';

export interface RoomEventsDeps {
  view: Pick<ChatView, 'log' | 'setUnseen' | 'announce'>;
  roster: Roster;
  panel: RoomPanel;
  notes: PresenceNotes;
  sync: HistorySync;
  reading: Reading;
  /** Who I am. */
  self(): Self;
  /** An own message came back: its pending send is done. */
  delivered(cid: string): void;
  /** A message to be shown, with the changes that came before it. */
  current(room: string, m: ChatMessage): ChatMessage;
  /** An edit, removal or reaction to show. */
  changed(ev: LifecycleEvent): void;
  /** True while the tab is not visible. */
  hidden(): boolean;
  notify(title: string, body: string, room: string): void;
}

export class RoomEvents {
  readonly #d: RoomEventsDeps;
  /** Messages from others that came while the tab was hidden. */
  #unseen = 0;

  constructor(deps: RoomEventsDeps) {
    this.#d = deps;
  }

  message(m: ChatMessage): void {
    const { roster, sync, panel } = this.#d;
    const r = roster.room(m.room);
    if (r.direct) roster.reopen(r.name);
    if (sync.live(r, m.seq) === 'seen') {
      this.#insert(r, [m], false);
      return;
    }
    if (r.typing.delete(m.from)) panel.typing();
    if (this.#insert(r, [m], true).length > 0) this.#arrived(r, m);
  }

  /**
   * A change to a message. Its seq counts in the room's order like a message's; it is applied
   * even when that seq was passed (a page of history read after it may have moved lastSeq on
   * while a message shown before it waits for it), since applying one twice changes nothing.
   */
  changed(ev: LifecycleEvent): void {
    const { roster, sync, changed } = this.#d;
    const r = roster.get(ev.room);
    if (!r) return;
    sync.live(r, ev.seq);
    changed(ev);
  }

  /**
   * A page of history: new messages shown, and those shown already brought to its state (a page
   * is the messages as they are now, reactions included, which a live message does not carry).
   */
  show(r: RoomState, messages: ChatMessage[], live: boolean): boolean {
    const added = this.#insert(r, messages, live);
    if (!live && added.length < messages.length) {
      const { view, current } = this.#d;
      const fresh = new Set(added.map((m) => m.seq));
      for (const m of messages) {
        if (!fresh.has(m.seq)) view.log.update(r.name, current(r.name, m));
      }
    }
    return added.length > 0;
  }

  /** Shows messages once; an own message also ends its pending line, and the room shown is read. */
  #insert(r: RoomState, list: ChatMessage[], live: boolean): ChatMessage[] {
    const { self, delivered, roster, panel, view, current } = this.#d;
    const messages = list.map((m) => current(r.name, m));
    for (const m of messages) {
      const mine = isMine(m, self());
      if (mine) delivered(m.cid);
      if (r.direct && !mine && r.peer !== m.from) {
        r.peer = m.from;
        if (r.name === roster.current) panel.details();
      }
    }
    const added = view.log.insert(r.name, messages, live);
    // What is shown at the bottom of the room open is seen.
    if (added.length > 0 && r.name === roster.current) this.#d.reading.check();
    return added;
  }

  /** The tab is visible again: the title stops counting; the room shown is read from here. */
  visible(): void {
    this.#unseen = 0;
    this.#d.view.setUnseen(0);
    const r = this.#d.roster.shown;
    if (r) this.#d.reading.opened(r);
  }

  /** A join answered: the room is live, with its members. */
  joined(ev: ResultOf<'join'>, user: boolean): void {
    const { roster, sync, panel, view, reading } = this.#d;
    const r = roster.room(ev.room);
    r.want();
    // In a direct room, the participants connected now.
    r.setMembers(ev.members, ev.memberCount);
    const first = !r.everSynced;
    // A first page reaches back to the read marker, for the "new" line (as far as a page goes).
    sync.joined(r, ev.lastSeq, ev.read ? ev.lastSeq - ev.read.seq : 0);
    r.live();
    reading.joined(r, ev.read, first);
    if (user) view.log.sys(r.name, `Joined ${roomLabel(r.name)}.`);
    roster.render();
    panel.details();
  }

  /** /who answered. */
  who(ev: ResultOf<'who'>): void {
    const { roster, panel, view } = this.#d;
    const r = roster.get(ev.room);
    if (r && !r.direct) r.setMembers(ev.members, ev.memberCount);
    view.log.sys(roster.current, `In ${roomLabel(ev.room)}: ${membersLine(ev) || 'no one'}`);
    panel.details();
  }

  presence(room: string, name: string, event: 'join' | 'leave'): void {
    const { roster, notes, panel, self } = this.#d;
    const r = roster.get(room);
    if (!r || sameName(name, self().name)) return;
    if (event === 'join') r.memberCame(name);
    else r.memberLeft(name);
    // A direct room's presence only moves its dot; a line there would say the obvious.
    if (!r.direct) {
      if (event === 'join') notes.join(room, name);
      else notes.leave(room, name);
    }
    if (room === roster.current) panel.details();
  }

  rename(room: string, from: string, to: string): void {
    const { roster, notes, panel } = this.#d;
    const r = roster.get(room);
    if (!r) return;
    r.memberRenamed(from, to);
    if (!r.direct) notes.rename(room, from, to);
    if (room === roster.current) panel.details();
  }

  typing(room: string, name: string, ttlMs: number): void {
    const { roster, panel, self } = this.#d;
    const r = roster.get(room);
    if (!r || sameName(name, self().name)) return;
    r.typing.set(name, Date.now() + ttlMs);
    if (room === roster.current) panel.typing();
  }

  /** A new message from someone: unread counts, the title, notifications, screen readers. */
  #arrived(r: RoomState, m: ChatMessage): void {
    const { roster, view, self, notify, reading } = this.#d;
    const hidden = this.#d.hidden();
    const here = r.name === roster.current;
    const a = attention(m, { me: self(), direct: r.direct, here, hidden });
    if (!a) return;
    reading.arrived(r, m, a.mention);
    if (hidden) {
      this.#unseen++;
      view.setUnseen(this.#unseen);
      if (a.notify) notify(a.notify.title, a.notify.body, r.name);
    }
    if (a.announce) view.announce(a.announce);
  }
}
