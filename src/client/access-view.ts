// The page's account, room settings and admin dialogs, and the room's topic in the header. Each
// dialog is a modal <dialog>: it keeps focus inside, Escape closes it, and focus goes back to
// the button that opened it. Errors and results are said in a live region inside the dialog.

import type { ModerationAction } from '../protocol/index.js';
import { button, byId, el, roomLabel } from './dom.js';
import type {
  AccessView,
  AuditEntry,
  AuthMode,
  Powers,
  RoomInfo,
  ServerRole,
  SessionInfo,
  UserInfo,
} from './ports.js';

export interface AccessHooks {
  signIn(name: string, password: string): void;
  signUp(name: string, password: string): void;
  reset(password: string): void;
  changePassword(password: string, old: string): void;
  signOut(everywhere: boolean): void;
  accountOpened(): void;
  endSession(id: string): void;
  roomOpened(): void;
  saveRoom(topic: string, visibility: 'public' | 'private', guests: boolean): void;
  moderate(action: ModerationAction, name: string): void;
  adminOpened(): void;
  olderAudit(before: number): void;
  setRole(name: string, role: ServerRole): void;
  makeInvite(uses: number, days: number): void;
}

/** The member list's part: who has which role, and what I may do to them. */
export interface MemberAccess {
  setMemberAccess(roles: Map<string, string>, can: Powers): void;
}

const AUTH: Record<AuthMode, { title: string; help: string; ok: string }> = {
  signin: { title: 'Sign in', help: 'With the name and password of your account.', ok: 'Sign in' },
  signup: {
    title: 'Create an account',
    help: 'A name (1 to 32 characters, no spaces) and a password of 8 to 256 characters.',
    ok: 'Create the account',
  },
  setup: {
    title: 'Set up this server',
    help: 'This link makes the first account, the owner of this server.',
    ok: 'Create the owner account',
  },
  reset: {
    title: 'Choose a new password',
    help: 'This link sets a new password and signs you in; your other sessions end.',
    ok: 'Set the password',
  },
};

const ROLES: ServerRole[] = ['member', 'moderator', 'admin', 'owner'];
const INVITE_USES = 1;
const INVITE_DAYS = 7;

function open(d: HTMLDialogElement): void {
  if (!d.open) d.showModal();
}

function close(d: HTMLDialogElement): void {
  if (d.open) d.close();
}

function say(p: HTMLElement, text: string, error = false): void {
  p.textContent = text;
  p.classList.toggle('error', error);
}

export class AccessDialogs implements AccessView {
  readonly #hooks: () => AccessHooks | undefined;
  readonly #members: MemberAccess;
  readonly #auth = byId<HTMLDialogElement>('auth-dialog');
  readonly #authName = byId<HTMLInputElement>('auth-name');
  readonly #authPassword = byId<HTMLInputElement>('auth-password');
  readonly #authError = byId('auth-error');
  readonly #account = byId<HTMLDialogElement>('account-dialog');
  readonly #accountNote = byId('account-note');
  readonly #sessions = byId('sessions');
  readonly #room = byId<HTMLDialogElement>('room-dialog');
  readonly #roomForm = byId<HTMLFormElement>('room-form');
  readonly #roomNote = byId('room-note');
  readonly #topic = byId('room-topic');
  readonly #settingsButton = byId<HTMLButtonElement>('room-settings');
  readonly #admin = byId<HTMLDialogElement>('admin-dialog');
  readonly #adminButton = byId<HTMLButtonElement>('admin');
  readonly #adminNote = byId('admin-note');
  readonly #accountButton = byId<HTMLButtonElement>('account');
  readonly #audit = byId('audit');
  readonly #auditMore = byId<HTMLButtonElement>('audit-more');
  #mode: AuthMode = 'signin';
  #role: ServerRole | null = null;
  #name = '';
  #oldest: number | undefined;
  #info: RoomInfo | undefined;
  #can: Powers = { moderate: false, own: false };

  constructor(hooks: () => AccessHooks | undefined, members: MemberAccess) {
    this.#hooks = hooks;
    this.#members = members;
    const on = (id: string, f: () => void): void => byId(id).addEventListener('click', f);
    const submit = (id: string, f: () => void): void =>
      byId(id).addEventListener('submit', (e) => {
        e.preventDefault();
        f();
      });

    this.#accountButton.addEventListener('click', () => {
      if (this.#role === null) this.openAuth('signin');
      else this.#openAccount();
    });
    on('name-signin', () => {
      close(byId<HTMLDialogElement>('name-dialog'));
      this.openAuth('signin');
    });
    on('auth-switch', () => this.openAuth(this.#mode === 'signin' ? 'signup' : 'signin'));
    on('auth-cancel', () => close(this.#auth));
    submit('auth-form', () => this.#submitAuth());

    on('account-close', () => close(this.#account));
    on('sign-out', () => this.#hooks()?.signOut(false));
    on('sign-out-all', () => this.#hooks()?.signOut(true));
    submit('password-form', () => {
      const old = byId<HTMLInputElement>('password-old');
      const fresh = byId<HTMLInputElement>('password-new');
      const problem = passwordProblem(fresh.value);
      if (problem) {
        say(this.#accountNote, problem, true);
        fresh.focus();
        return;
      }
      this.#hooks()?.changePassword(fresh.value, old.value);
      old.value = fresh.value = '';
    });
    this.#sessions.addEventListener('click', (e) => {
      const id = (e.target as Element | null)?.closest<HTMLElement>('[data-session]')?.dataset[
        'session'
      ];
      if (id !== undefined) this.#hooks()?.endSession(id);
    });

    this.#settingsButton.addEventListener('click', () => {
      say(this.#roomNote, '');
      this.#fillRoom();
      open(this.#room);
      this.#hooks()?.roomOpened();
    });
    on('room-close', () => close(this.#room));
    submit('room-form', () => {
      const data = new FormData(this.#roomForm);
      const visibility = data.get('visibility') === 'private' ? 'private' : 'public';
      const topic = byId<HTMLInputElement>('room-topic-input').value.trim();
      this.#hooks()?.saveRoom(topic, visibility, byId<HTMLInputElement>('room-guests').checked);
    });
    submit('invite-form', () => {
      const input = byId<HTMLInputElement>('invite-name');
      if (input.value.trim()) this.#hooks()?.moderate('invite', input.value);
      input.value = '';
    });

    this.#adminButton.addEventListener('click', () => {
      say(this.#adminNote, '');
      open(this.#admin);
      this.#hooks()?.adminOpened();
    });
    on('admin-close', () => close(this.#admin));
    on('make-invite', () => this.#hooks()?.makeInvite(INVITE_USES, INVITE_DAYS));
    this.#auditMore.addEventListener('click', () => {
      if (this.#oldest !== undefined) this.#hooks()?.olderAudit(this.#oldest);
    });
    byId('users').addEventListener('click', (e) => {
      const b = (e.target as Element | null)?.closest<HTMLElement>('[data-user]');
      const name = b?.dataset['user'];
      const select = b?.parentElement?.querySelector('select');
      if (name !== undefined && select) this.#hooks()?.setRole(name, select.value as ServerRole);
    });
  }

  // ---- who I am -------------------------------------------------------------------------------

  setAccount(name: string, role: ServerRole | null): void {
    this.#name = name;
    this.#role = role;
    this.#accountButton.textContent = role === null ? 'Sign in' : 'Account';
    this.#adminButton.hidden = role !== 'admin' && role !== 'owner';
    byId('account-who').textContent =
      role === null ? '' : `Signed in as ${name}${role === 'member' ? '' : `, ${role}`}.`;
    if (role === null) close(this.#account);
  }

  openAuth(mode: AuthMode): void {
    this.#mode = mode;
    const t = AUTH[mode];
    byId('auth-title').textContent = t.title;
    byId('auth-help').textContent = t.help;
    byId('auth-ok').textContent = t.ok;
    const ticketed = mode === 'setup' || mode === 'reset' || mode === 'signup';
    byId('auth-switch').textContent =
      mode === 'signin' ? 'Create an account instead' : 'Sign in instead';
    byId('auth-switch').hidden = mode === 'setup' || mode === 'reset';
    byId('auth-name-label').hidden = this.#authName.hidden = mode === 'reset';
    this.#authPassword.autocomplete = ticketed ? 'new-password' : 'current-password';
    this.#authPassword.value = '';
    this.authError('');
    open(this.#auth);
    (mode === 'reset' ? this.#authPassword : this.#authName).focus();
  }

  authDone(): void {
    this.#authPassword.value = '';
    close(this.#auth);
  }

  authError(text: string): void {
    this.#authError.textContent = text;
    this.#authPassword.setAttribute('aria-invalid', String(!!text));
    byId<HTMLButtonElement>('auth-ok').disabled = false;
    if (text && this.#auth.open) this.#authPassword.focus();
  }

  #submitAuth(): void {
    const name = this.#authName.value.trim();
    const password = this.#authPassword.value;
    const hooks = this.#hooks();
    if (this.#mode !== 'reset' && !name) {
      this.authError('Type your name.');
      this.#authName.focus();
      return;
    }
    const problem =
      this.#mode === 'signin' ? (password ? '' : 'Type your password.') : passwordProblem(password);
    if (problem) {
      this.authError(problem);
      return;
    }
    this.#authError.textContent = this.#mode === 'signin' ? 'Signing in…' : 'One moment…';
    if (this.#mode === 'signin') hooks?.signIn(name, password);
    else if (this.#mode === 'reset') hooks?.reset(password);
    else hooks?.signUp(name, password);
  }

  #openAccount(): void {
    say(this.#accountNote, '');
    this.#sessions.replaceChildren(el('li', 'hint', 'Loading…'));
    open(this.#account);
    this.#hooks()?.accountOpened();
  }

  setSessions(list: SessionInfo[]): void {
    this.#sessions.replaceChildren(
      ...list.map((s) => {
        const li = el('li', 'row');
        const when = new Date(s.lastSeen).toLocaleString();
        const text = el('span', '', `${s.label || 'A browser'} · last seen ${when}`);
        li.append(text);
        if (s.current) li.append(el('span', 'tag', 'this page'));
        else {
          const b = button('quiet', 'End', `End the session ${s.label}, last seen ${when}`);
          b.dataset['session'] = s.id;
          li.append(b);
        }
        return li;
      }),
    );
  }

  accountNote(text: string, error = false): void {
    if (this.#account.open) say(this.#accountNote, text, error);
  }

  signedOut(): void {
    close(this.#account);
  }

  // ---- rooms ----------------------------------------------------------------------------------

  setRoomAccess(room: string, info: RoomInfo | undefined, can: Powers): void {
    const direct = room.startsWith('@');
    this.#info = info?.room === room ? info : undefined;
    this.#can = can;
    this.#topic.textContent = this.#info?.topic ?? '';
    this.#topic.title = this.#info?.topic ?? '';
    this.#settingsButton.hidden = direct;
    this.#settingsButton.setAttribute('aria-label', `Settings of ${roomLabel(room)}`);
    if (direct) close(this.#room);
    const roles = new Map(this.#info?.roles ?? []);
    this.#members.setMemberAccess(roles, can);
    this.#fillRoom();
  }

  #fillRoom(): void {
    const info = this.#info;
    const { moderate, own } = this.#can;
    const title = byId('room-dialog-title');
    title.textContent = info ? `Settings of ${roomLabel(info.room)}` : 'Room settings';
    const topic = byId<HTMLInputElement>('room-topic-input');
    const guests = byId<HTMLInputElement>('room-guests');
    // Fields the person is typing in are not overwritten.
    if (document.activeElement !== topic) topic.value = info?.topic ?? '';
    guests.checked = info?.guests ?? false;
    for (const r of this.#roomForm.querySelectorAll<HTMLInputElement>('[name="visibility"]')) {
      r.checked = r.value === (info?.visibility ?? 'public');
      r.disabled = !own;
    }
    topic.readOnly = !moderate;
    guests.disabled = !own;
    byId<HTMLButtonElement>('room-save').hidden = !moderate;
    byId('invite-form').hidden = !moderate;
    const people = byId('room-people');
    people.replaceChildren(
      ...(info?.roles ?? []).map(([name, role]) => {
        const li = el('li', 'row');
        const who = el('span', '', name);
        who.dir = 'auto';
        li.append(who, el('span', 'tag', role));
        return li;
      }),
    );
    if (!info?.roles.length) people.replaceChildren(el('li', 'hint', 'No one yet.'));
  }

  roomNote(text: string, error = false): void {
    say(this.#roomNote, text, error);
  }

  // ---- admin ----------------------------------------------------------------------------------

  setUsers(users: UserInfo[]): void {
    byId('users').replaceChildren(
      ...users.map((u) => {
        const li = el('li', 'row');
        const who = el('span', '', u.banned ? `${u.name} (banned)` : u.name);
        who.dir = 'auto';
        const select = el('select');
        select.setAttribute('aria-label', `Role of ${u.name}`);
        for (const r of ROLES) {
          const o = el('option', '', r);
          o.value = r;
          o.selected = r === u.role;
          select.append(o);
        }
        // The owner's own role is theirs to keep: the server refuses, the page does not offer.
        select.disabled = u.name === this.#name;
        const set = button('quiet', 'Set', `Set the role of ${u.name}`);
        set.dataset['user'] = u.name;
        set.disabled = select.disabled;
        li.append(who, select, set);
        return li;
      }),
    );
  }

  setAudit(entries: AuditEntry[], more: boolean, older: boolean): void {
    const rows = entries.map((a) => {
      const li = el('li', 'row');
      const what = [a.actor ?? 'the server', a.action, a.target, a.room && roomLabel(a.room)]
        .filter(Boolean)
        .join(' · ');
      const text = el('span', '', a.reason ? `${what} — ${a.reason}` : what);
      text.dir = 'auto';
      li.append(el('time', 'tag', new Date(a.at).toLocaleString()), text);
      return li;
    });
    if (older) this.#audit.append(...rows);
    else this.#audit.replaceChildren(...rows);
    this.#oldest = entries.at(-1)?.seq ?? this.#oldest;
    this.#auditMore.hidden = !more;
  }

  setInvite(link: string, uses: number, expires: number): void {
    const input = byId<HTMLInputElement>('invite-link');
    input.hidden = false;
    input.value = link;
    input.focus();
    input.select();
    const times = uses === 1 ? 'once' : `${uses} times`;
    say(
      this.#adminNote,
      `Invite link made: it works ${times}, until ${new Date(expires).toLocaleString()}.`,
    );
  }

  adminNote(text: string, error = false): void {
    say(this.#adminNote, text, error);
  }
}

/** What is wrong with a new password, in words ('' when nothing). */
export function passwordProblem(p: string): string {
  if (p.length < 8) return 'A password has at least 8 characters.';
  if (p.length > 256) return 'A password has at most 256 characters.';
  if (p.trim() !== p) return 'A password cannot start or end with a space.';
  return '';
}
