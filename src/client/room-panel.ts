// What the page shows beside the current room's log, drawn from the state it is given and kept
// apart from it: who is in the room and whether they are connected, who is typing, and the sends
// still on their way.

import type { Outbox } from './outbox.js';
import type { ChatView } from './ports.js';
import { sameName, type Presence, type RoomState } from './room-state.js';
import type { Roster } from './roster.js';
import type { SentNotes } from './sent-notes.js';
import { typers } from './typing.js';

export interface PanelState {
  roster: Roster;
  outbox: Outbox;
  sentNotes: SentNotes;
  /** My name ('' until known). */
  me(): string;
  /** Connected, the hello answered. */
  ready(): boolean;
}

export class RoomPanel {
  readonly #view: Pick<ChatView, 'setMembers' | 'setTyping' | 'setPending'>;
  readonly #state: PanelState;
  #typingTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(view: Pick<ChatView, 'setMembers' | 'setTyping' | 'setPending'>, state: PanelState) {
    this.#view = view;
    this.#state = state;
  }

  /** The member list and the typing line of the current room. */
  details(): void {
    const { roster, me } = this.#state;
    const r = roster.shown;
    const members = r?.direct ? this.#directMembers(r) : (r?.members ?? []);
    const count = r && !r.direct ? r.memberCount : members.length;
    this.#view.setMembers(roster.current, members, me(), (n) => this.#presenceOf(r, n), count);
    this.typing();
  }

  /** The typing line, redrawn again when its first name is due to go. */
  typing(): void {
    clearTimeout(this.#typingTimer);
    const r = this.#state.roster.shown;
    const now = Date.now();
    const { names, next } = r ? typers(r.typing, now) : { names: [], next: Infinity };
    this.#view.setTyping(names);
    if (next !== Infinity) this.#typingTimer = setTimeout(() => this.typing(), next - now);
  }

  /** The sends not yet acknowledged, and the lines that /msg left. */
  pending(): void {
    const { outbox, sentNotes, me, ready } = this.#state;
    this.#view.setPending(outbox.entries(), me(), ready());
    sentNotes.render((cid) => outbox.get(cid));
  }

  /** Who a direct conversation is between (whether connected or not). */
  #directMembers(r: RoomState): string[] {
    const me = this.#state.me();
    const peer = r.peer ?? r.name.slice(1);
    return sameName(peer, me) ? [me] : [me, peer];
  }

  #presenceOf(r: RoomState | undefined, name: string): Presence {
    const me = this.#state.me();
    const ready = this.#state.ready();
    if (r) return r.presenceOf(name, me, ready);
    return sameName(name, me) && ready ? 'online' : 'unknown';
  }
}
