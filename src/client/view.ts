// The page around the log: header and connection state, the sidebar (rooms, direct
// conversations, members), typing line, pending sends, the screen-reader announcer, the name
// prompt and the phone drawer. Every name and text goes in through textContent.

import type { ChatMessage, ModerationAction } from '../protocol/index.js';
import type { ConnState } from './connection.js';
import { button, byId, el, reconcile, roomLabel } from './dom.js';
import { firstLine, type Self } from './message-state.js';
import { MessageLog, type LogHooks } from './messages.js';
import type { OutboxEntry } from './outbox.js';
import type { Powers } from './ports.js';

export { roomLabel } from './dom.js';

export interface RoomItem {
  name: string;
  unread: number;
  mentions: number;
  /** At least `unread`: the server stopped counting. */
  unreadMore?: boolean;
  joined: boolean;
  direct: boolean;
}

export type MemberPresence = 'online' | 'offline' | 'unknown';

export interface DirectoryItem {
  name: string;
  members: number;
  joined: boolean;
}

const PRESENCE_SAID: Record<MemberPresence, string> = {
  online: 'connected',
  offline: 'not connected',
  unknown: 'not known while this page is offline',
};

export interface ViewHooks extends LogHooks {
  openRoom(room: string): void;
  leaveRoom(room: string): void;
  openDirect(name: string): void;
  /** "Browse rooms" was opened: fetch the list for setDirectory. */
  browseRooms(): void;
  joinRoom(room: string): void;
  retry(cid: string): void;
  discard(cid: string): void;
  /** An act on a member of the current room, from the member list. */
  moderate(action: ModerationAction, name: string): void;
}

/** The acts the member list offers, and who may use each (`own`: room owners and up). */
const MEMBER_ACTS: [ModerationAction, string, boolean][] = [
  ['kick', 'Remove', false],
  ['ban', 'Ban', false],
  ['mute', 'Mute', false],
  ['unmute', 'Unmute', false],
  ['op', 'Make moderator', true],
  ['deop', 'Remove moderator', true],
];

/** Announcements kept in the live region (older ones are dropped). */
const ANNOUNCE_KEEP = 3;

export class View {
  readonly log: MessageLog;
  readonly logBox = byId('log');
  readonly status = byId('status');
  readonly retryButton = byId<HTMLButtonElement>('retry');
  readonly text = byId<HTMLTextAreaElement>('text');
  readonly sendForm = byId<HTMLFormElement>('send-form');
  readonly joinForm = byId<HTMLFormElement>('join-form');
  readonly joinInput = byId<HTMLInputElement>('join-input');
  readonly meButton = byId<HTMLButtonElement>('me');
  readonly notifyButton = byId<HTMLButtonElement>('notify');
  readonly menu = byId<HTMLButtonElement>('menu');
  readonly side = byId('side');
  readonly nameDialog = byId<HTMLDialogElement>('name-dialog');
  readonly nameForm = byId<HTMLFormElement>('name-form');
  readonly nameInput = byId<HTMLInputElement>('name-input');
  readonly nameLater = byId<HTMLButtonElement>('name-later');
  readonly #nameOk = byId<HTMLButtonElement>('name-ok');
  readonly #nameError = byId('name-error');
  readonly #menuBadge = byId('menu-badge');
  readonly #title = byId('room-title');
  readonly #rooms = byId('rooms');
  readonly #directs = byId('directs');
  readonly #directsEmpty = byId('directs-empty');
  readonly #members = byId('members');
  readonly #membersHeading = byId('members-heading');
  readonly #typing = byId('typing');
  readonly #pending = byId('pending');
  readonly #replying = byId('replying');
  readonly #replyingText = byId('replying-text');
  readonly #browse = byId<HTMLButtonElement>('browse');
  readonly #browsePanel = byId('browse-panel');
  readonly #browseStatus = byId('browse-status');
  readonly #browseList = byId('browse-list');
  readonly #announcer = byId('announce');
  readonly #roomNodes = new Map<string, HTMLLIElement>();
  readonly #memberNodes = new Map<string, HTMLLIElement>();
  readonly #pendingNodes = new Map<string, HTMLElement>();
  #current = '';
  #memberRoles = new Map<string, string>();
  #can: Powers = { moderate: false, own: false };
  #lastMembers: Parameters<View['setMembers']> | undefined;
  #baseTitle = 'Parley';
  #unseen = 0;

  readonly #hooks: ViewHooks;

  constructor(hooks: ViewHooks) {
    this.#hooks = hooks;
    this.log = new MessageLog(this.logBox, byId<HTMLButtonElement>('jump'), hooks);
    this.#pending.addEventListener('click', (e) => {
      const b = (e.target as Element | null)?.closest<HTMLElement>('button[data-action]');
      const cid = b?.closest<HTMLElement>('[data-cid]')?.dataset['cid'];
      if (!b || cid === undefined) return;
      if (b.dataset['action'] === 'retry') hooks.retry(cid);
      else hooks.discard(cid);
    });
    this.menu.addEventListener('click', () => this.setDrawer(!this.drawerOpen()));
    this.side.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.drawerOpen()) {
        this.setDrawer(false);
        this.menu.focus();
      }
    });
    // A tap on the shade beside the drawer closes it.
    document.addEventListener('click', (e) => {
      const t = e.target as Node | null;
      if (this.drawerOpen() && t && !this.side.contains(t) && !this.menu.contains(t)) {
        this.setDrawer(false);
      }
    });
    byId('skip').addEventListener('click', () => this.text.focus());
    this.#browse.addEventListener('click', () => this.setBrowsing(this.#browsePanel.hidden));
  }

  // ---- header -------------------------------------------------------------------------------

  setStatus(state: ConnState, retryInS: number, online: boolean): void {
    this.status.dataset['state'] = state;
    this.status.textContent =
      state === 'connected'
        ? 'connected'
        : state === 'connecting'
          ? 'connecting…'
          : `${online ? 'offline' : 'no network'} — reconnecting in ${retryInS} s`;
    this.retryButton.hidden = state !== 'offline';
  }

  setMe(self: Self): void {
    this.meButton.textContent = self.name || '…';
    this.log.setSelf(self);
  }

  /** Unread messages while the tab is hidden go in the document title. */
  setUnseen(n: number): void {
    this.#unseen = n;
    this.#renderTitle();
  }

  #renderTitle(): void {
    document.title = `${this.#unseen > 0 ? `(${this.#unseen}) ` : ''}${this.#baseTitle}`;
  }

  // ---- rooms ----------------------------------------------------------------------------------

  showRoom(room: string): void {
    this.#current = room;
    this.log.show(room);
    this.#title.textContent = roomLabel(room);
    this.#baseTitle = `${roomLabel(room)} · Parley`;
    this.#renderTitle();
  }

  setRooms(items: RoomItem[], current: string): void {
    const byName = new Map(items.map((r) => [r.name, r]));
    const make = (name: string): HTMLLIElement => {
      const li = el('li', 'room-item');
      const open = button('room', '');
      open.dataset['room'] = name;
      open.addEventListener('click', () => this.#hooks.openRoom(name));
      const leave = button(
        'leave',
        '×',
        name.startsWith('@') ? `Close ${roomLabel(name)}` : `Leave ${roomLabel(name)}`,
      );
      leave.dataset['leave'] = name;
      leave.title = leave.getAttribute('aria-label') ?? '';
      leave.addEventListener('click', () => this.#hooks.leaveRoom(name));
      li.append(open, leave);
      return li;
    };
    const update = (li: HTMLLIElement, name: string): void => {
      const r = byName.get(name);
      const open = li.firstElementChild as HTMLButtonElement;
      if (!r) return;
      const label = roomLabel(name);
      const parts: (Node | string)[] = [label];
      if (r.unread > 0) {
        const count = `${r.unread}${r.unreadMore ? '+' : ''}`;
        const badge = el('span', r.mentions > 0 ? 'badge mention' : 'badge', count);
        badge.setAttribute('aria-hidden', 'true');
        parts.push(' ', badge);
      }
      open.replaceChildren(...parts);
      const described = [label];
      if (r.unread > 0) described.push(`${r.unread}${r.unreadMore ? ' or more' : ''} unread`);
      if (r.mentions > 0) described.push(`${r.mentions} mentioning you`);
      if (!r.joined && !r.direct) described.push('not joined');
      open.setAttribute('aria-label', described.join(', '));
      if (name === current) open.setAttribute('aria-current', 'true');
      else open.removeAttribute('aria-current');
      open.classList.toggle('current', name === current);
      open.classList.toggle('parted', !r.joined && !r.direct);
      open.classList.toggle('unread', r.unread > 0);
    };
    const publicRooms = items.filter((r) => !r.direct).map((r) => r.name);
    const direct = items.filter((r) => r.direct).map((r) => r.name);
    const publicNodes = new Map([...this.#roomNodes].filter(([k]) => !k.startsWith('@')));
    const directNodes = new Map([...this.#roomNodes].filter(([k]) => k.startsWith('@')));
    reconcile(this.#rooms, publicNodes, publicRooms, make, update);
    reconcile(this.#directs, directNodes, direct, make, update);
    this.#roomNodes.clear();
    for (const [k, v] of [...publicNodes, ...directNodes]) this.#roomNodes.set(k, v);
    this.#directsEmpty.hidden = direct.length > 0;
    const elsewhere = items.filter((r) => r.name !== current && r.unread > 0);
    const total = elsewhere.reduce((n, r) => n + r.unread, 0);
    this.#menuBadge.hidden = total === 0;
    this.#menuBadge.textContent = String(total);
    this.menu.setAttribute(
      'aria-label',
      total > 0 ? `Rooms and people, ${total} unread elsewhere` : 'Rooms and people',
    );
  }

  setMembers(
    room: string,
    names: string[],
    me: string,
    presence: (name: string) => MemberPresence,
    count = names.length,
  ): void {
    this.#lastMembers = [room, names, me, presence, count];
    const direct = room.startsWith('@');
    const many = count > names.length ? ` (${count})` : '';
    this.#membersHeading.textContent = direct
      ? 'In this conversation'
      : `In ${roomLabel(room)}${many}`;
    reconcile(
      this.#members,
      this.#memberNodes,
      names,
      (name) => {
        const li = el('li', 'member');
        if (name === me) {
          li.classList.add('me');
          li.textContent = name;
          li.dir = 'auto';
          li.title = 'You';
          return li;
        }
        const b = button('member-open', name);
        b.dir = 'auto';
        b.addEventListener('click', () => this.#hooks.openDirect(name));
        // Drawn by CSS and named by aria-label: the item's text stays the name alone.
        const more = button('more', '', `Moderate ${name}`);
        more.setAttribute('aria-expanded', 'false');
        more.addEventListener('click', () => this.#toggleActs(li, name, more));
        li.append(b, more);
        return li;
      },
      (li, name) => {
        const p = presence(name);
        for (const k of ['online', 'offline', 'unknown'] as const) li.classList.toggle(k, k === p);
        const b = li.querySelector('button');
        // The dot is drawn by CSS; screen readers hear the same in the button's name.
        const role = direct ? undefined : this.#memberRoles.get(name);
        const said = role ? `${name}, ${role}` : name;
        b?.setAttribute('aria-label', `${said}, ${PRESENCE_SAID[p]}: open a direct conversation`);
        if (b) b.title = `Open a direct conversation (${PRESENCE_SAID[p]})`;
        if (b && role && role !== 'member') b.dataset['role'] = role;
        else if (b) delete b.dataset['role'];
        const more = li.querySelector<HTMLButtonElement>('button.more');
        const allowed = !direct && this.#can.moderate;
        if (more) more.hidden = !allowed;
        if (!allowed && more) this.#toggleActs(li, name, more, false);
      },
    );
  }

  /** Opens or closes a member's moderation buttons (only there while open). */
  #toggleActs(li: HTMLElement, name: string, more: HTMLButtonElement, open?: boolean) {
    const shown = li.querySelector('.acts');
    const want = open ?? !shown;
    more.setAttribute('aria-expanded', String(want));
    if (!want) {
      shown?.remove();
      return;
    }
    if (shown) return;
    const acts = el('div', 'acts');
    acts.setAttribute('role', 'group');
    acts.setAttribute('aria-label', `Moderate ${name}`);
    for (const [action, label, own] of MEMBER_ACTS) {
      if (own && !this.#can.own) continue;
      const act = button('quiet', label, `${label} ${name}`);
      act.addEventListener('click', () => {
        this.#hooks.moderate(action, name);
        this.#toggleActs(li, name, more, false);
        more.focus();
      });
      acts.append(act);
    }
    li.append(acts);
    acts.querySelector('button')?.focus();
  }

  /** Who has which role in the room shown, and what I may do to them; redraws the list. */
  setMemberAccess(roles: Map<string, string>, can: Powers): void {
    this.#memberRoles = roles;
    this.#can = can;
    // Removing others' messages is a room moderator's act; a direct conversation has none.
    this.log.setModerator(can.moderate && !this.#current.startsWith('@'));
    if (this.#lastMembers) this.setMembers(...this.#lastMembers);
  }

  /** Opens (and fetches) or closes the list under "Browse rooms". */
  setBrowsing(open: boolean): void {
    this.#browsePanel.hidden = !open;
    this.#browse.setAttribute('aria-expanded', String(open));
    if (open) this.#hooks.browseRooms();
  }

  /** The room list under "Browse rooms"; `note` says why it is empty or still coming. */
  setDirectory(note: string, rooms: DirectoryItem[]): void {
    this.#browseStatus.textContent = note;
    const hadFocus = this.#browseList.contains(document.activeElement);
    this.#browseList.replaceChildren(
      ...rooms.map((r) => {
        const li = el('li', 'room-item');
        const label = roomLabel(r.name);
        const people = r.members === 1 ? '1 person' : `${r.members} people`;
        const b = button('room', '');
        b.dir = 'auto';
        b.append(label, el('span', 'count', r.joined ? `${people} · joined` : people));
        b.setAttribute(
          'aria-label',
          r.joined ? `Open ${label}, ${people}, joined` : `Join ${label}, ${people}`,
        );
        b.addEventListener('click', () => {
          this.setBrowsing(false);
          this.#hooks.joinRoom(r.name);
        });
        li.append(b);
        return li;
      }),
    );
    if (hadFocus) this.#browse.focus();
  }

  setTyping(names: string[]): void {
    this.#typing.textContent =
      names.length === 0
        ? ''
        : names.length === 1
          ? `${names[0]} is typing…`
          : names.length <= 3
            ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`
            : 'Several people are typing…';
  }

  // ---- drawer (phone) -------------------------------------------------------------------------

  drawerOpen(): boolean {
    return document.body.classList.contains('side-open');
  }

  setDrawer(open: boolean): void {
    document.body.classList.toggle('side-open', open);
    this.menu.setAttribute('aria-expanded', String(open));
    if (open) this.side.querySelector<HTMLElement>('button.room.current, button.room')?.focus();
  }

  // ---- pending sends --------------------------------------------------------------------------

  /** Sends not yet acknowledged; `online` says whether they are on their way or waiting. */
  setPending(entries: OutboxEntry[], me: string, online: boolean): void {
    const byCid = new Map(entries.map((e) => [e.cid, e]));
    reconcile(
      this.#pending,
      this.#pendingNodes,
      entries.map((e) => e.cid),
      (cid) => {
        const line = el('div', 'line pending');
        line.dataset['cid'] = cid;
        return line;
      },
      (line, cid) => {
        const p = byCid.get(cid);
        if (!p) return;
        // Rebuild only the text parts; keep the buttons (and their focus) when unchanged.
        const failed = p.error !== undefined;
        line.classList.toggle('failed', failed);
        const where = p.room !== this.#current ? `[${roomLabel(p.room)}] ` : '';
        const who = el('b', 'from', me || 'you');
        const body = el('span', 'text', p.text);
        body.dir = 'auto';
        const note = el(
          'span',
          'note',
          failed
            ? ` Not sent: ${p.error}`
            : online
              ? ' sending…'
              : ' not sent yet: it goes when the connection is back',
        );
        const head = el('span', 'pending-line');
        if (where) head.append(el('span', 'where', where));
        if (p.replyTo !== undefined) head.append(el('span', 'what', '↩ '));
        const kind = p.act?.kind;
        if (kind === 'edit') head.append(el('span', 'what', 'Edit: '), body);
        else if (kind === 'delete') head.append(el('span', 'what', 'Removing a message'));
        else if (kind === 'react') head.append(el('span', 'what', 'Reaction '), body);
        else head.append(...(p.me ? ['* ', who, ' ', body] : [who, ': ', body]));
        head.append(note);
        const old = line.querySelector('.pending-line');
        if (old) old.replaceWith(head);
        else line.prepend(head);
        const actions = line.querySelector('.actions');
        if (failed && !actions) {
          const box = el('span', 'actions');
          const retry = button('retry', 'Retry', `Retry sending: ${p.text.slice(0, 60)}`);
          retry.dataset['action'] = 'retry';
          const discard = button('discard', 'Discard', `Discard: ${p.text.slice(0, 60)}`);
          discard.dataset['action'] = 'discard';
          box.append(retry, discard);
          line.append(box);
        } else if (!failed && actions) {
          actions.remove();
        }
      },
    );
  }

  /** The message the next one answers, above the message box. */
  setReplying(target: ChatMessage | undefined): void {
    this.#replying.hidden = !target;
    if (!target) {
      this.#replyingText.replaceChildren();
      return;
    }
    const from = el('b', 'from', target.from);
    from.dir = 'auto';
    const what = el('span', 'quote-text', firstLine(target.text));
    what.dir = 'auto';
    this.#replyingText.replaceChildren('Replying to ', from, ': ', what);
  }

  // ---- screen readers -------------------------------------------------------------------------

  /** Says a line through the polite live region (the log itself is not live). */
  announce(text: string): void {
    this.#announcer.append(el('p', '', text));
    while (this.#announcer.childElementCount > ANNOUNCE_KEEP) this.#announcer.firstChild?.remove();
  }

  // ---- name prompt ----------------------------------------------------------------------------

  openNamePrompt(prefill: string, firstVisit: boolean, error = ''): void {
    this.nameLater.textContent = firstVisit ? 'Later' : 'Cancel';
    this.nameInput.value = prefill;
    this.setNameBusy(false);
    this.setNameError(error);
    if (!this.nameDialog.open) this.nameDialog.showModal();
    this.nameInput.focus();
    this.nameInput.select();
  }

  closeNamePrompt(): void {
    if (this.nameDialog.open) this.nameDialog.close();
  }

  get namePromptOpen(): boolean {
    return this.nameDialog.open;
  }

  setNameError(text: string): void {
    this.#nameError.textContent = text;
    this.nameInput.setAttribute('aria-invalid', String(!!text));
  }

  setNameBusy(busy: boolean, note = ''): void {
    this.#nameOk.disabled = busy;
    if (busy) this.#nameError.textContent = note;
  }
}
