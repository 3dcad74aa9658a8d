// Accounts and rooms' rules as the page speaks them: signing up, in and out, the account's
// password and sessions, a room's settings and people, moderation, the notices and topics the
// server sends, and the admin's users, invites and audit log. Who may do what is the server's
// to decide; the page only hides what would be refused anyway.

import type {
  AccessRequest,
  ErrorEvent as ErrorFrame,
  ModerationAction,
  NoticeEvent,
  RoomResult,
  TopicEvent,
} from '../protocol/index.js';
import { roomLabel } from './dom.js';
import type { AccessView, Powers, ServerRole } from './ports.js';
import type { AnyPending, Pending, ResultOf } from './requests.js';
import type { Roster } from './roster.js';

const SERVER_RANK: Record<ServerRole, number> = { member: 1, moderator: 4, admin: 5, owner: 6 };
const ROOM_RANK = { member: 1, moderator: 2, owner: 3 } as const;

/** What a link in the address's fragment asks for: `#setup=`, `#invite=` or `#reset=`. */
export interface TicketLink {
  kind: 'setup' | 'invite' | 'reset';
  code: string;
}

export function ticketLink(hash: string): TicketLink | undefined {
  const m = /^#(setup|invite|reset)=([\x21-\x7e]{1,256})$/.exec(hash);
  return m ? { kind: m[1] as TicketLink['kind'], code: m[2] ?? '' } : undefined;
}

/** What a person may do in a room: their server role and their role there, as the policy ranks. */
export function powers(server: ServerRole | null, room: RoomResult['you']): Powers {
  const p = server === null ? 0 : Math.max(SERVER_RANK[server], room ? ROOM_RANK[room] : 1);
  return { moderate: p >= ROOM_RANK.moderator, own: p >= ROOM_RANK.owner };
}

function when(until: number | undefined): string {
  return until === undefined ? '' : ` until ${new Date(until).toLocaleString()}`;
}

/** A notice in words, for the log and screen readers. */
export function noticeText(n: NoticeEvent): string {
  const where = n.room === undefined ? 'this server' : roomLabel(n.room);
  const by = n.by ? ` by ${n.by}` : '';
  const why = n.reason ? ` (${n.reason})` : '';
  switch (n.what) {
    case 'kicked':
      return `You were removed from ${where}${by}${why}. You may join it again.`;
    case 'banned':
      return `You were banned from ${where}${by}${when(n.until)}${why}.`;
    case 'muted':
      return `You were muted in ${where}${by}${when(n.until)}${why}: your messages are refused.`;
    case 'unmuted':
      return `You may talk in ${where} again.`;
    case 'role':
      return `Your role in ${where} is now ${n.role ?? 'member'}${by}.`;
    case 'invited':
      return `${n.by ?? 'Someone'} invited you to ${where}: it is in your rooms.`;
  }
}

export function topicText(t: TopicEvent): string {
  const by = t.by ?? 'Someone';
  return t.topic ? `${by} set the topic: ${t.topic}` : `${by} cleared the topic.`;
}

export interface AccessDeps {
  view: AccessView;
  roster: Roster;
  /** Sends a request; false when it could not go (not connected). */
  request(req: AccessRequest, ctx?: { user?: boolean; older?: boolean }): boolean;
  /** Logged in (or signed up): this is who the page is now. */
  signedIn(r: ResultOf<'login'>): void;
  /** Logged out: the page goes on as a new guest. */
  signedOut(): void;
  /** A room the server took the page out of. */
  removed(room: string): void;
  /** A room to list (an invitation). */
  invited(room: string): void;
  /** Says a line in a room's log (the current one by default) and to screen readers. */
  say(text: string, cls?: string, room?: string): void;
  /** The page's address, for invite links. */
  pageUrl(): string;
}

/** The kinds of request whose replies and errors are this module's. */
const KINDS = new Set([
  'register',
  'login',
  'logout',
  'password',
  'sessions',
  'revoke',
  'room',
  'settings',
  'moderate',
  'audit',
  'users',
  'role',
  'invite',
]);

export class Access {
  readonly #d: AccessDeps;
  #role: ServerRole | null;
  #name = '';
  /** What the server said of each room asked about (settings, roles, my role). */
  readonly #rooms = new Map<string, RoomResult>();
  /** A reset link's code, for the new-password form. */
  #ticket: string | undefined;

  constructor(deps: AccessDeps, role: ServerRole | null) {
    this.#d = deps;
    this.#role = role;
  }

  get role(): ServerRole | null {
    return this.#role;
  }

  /** Who the page is, from a hello or a login; guests have no role. */
  identified(name: string, role: ServerRole | null): void {
    this.#name = name;
    this.#role = role;
    this.#d.view.setAccount(name, role);
    this.#showRoom(this.#d.roster.current);
  }

  /** A link from the address: the form it asks for. */
  openLink(link: TicketLink): void {
    this.#ticket = link.code;
    this.#d.view.openAuth(
      link.kind === 'reset' ? 'reset' : link.kind === 'setup' ? 'setup' : 'signup',
    );
  }

  // ---- the person's actions ------------------------------------------------------------------

  signIn(name: string, password: string): void {
    this.#send({ type: 'login', name, password });
  }

  signUp(name: string, password: string): void {
    const ticket = this.#ticket;
    this.#send({ type: 'register', name, password, ...(ticket !== undefined && { ticket }) });
  }

  /** The new password of a reset link. */
  reset(password: string): void {
    const ticket = this.#ticket;
    if (ticket === undefined) this.#d.view.authError('This page has no reset link open.');
    else this.#send({ type: 'password', password, ticket });
  }

  changePassword(password: string, old: string): void {
    this.#send({ type: 'password', password, ...(old && { old }) });
  }

  signOut(everywhere: boolean): void {
    this.#send(everywhere ? { type: 'logout', everywhere: true } : { type: 'logout' });
  }

  /** The account menu opened: its sessions are asked for. */
  accountOpened(): void {
    this.#send({ type: 'sessions' });
  }

  endSession(id: string): void {
    this.#send({ type: 'revoke', session: id });
  }

  /** The room settings opened (or the room changed): asks for what they show. */
  roomOpened(room = this.#d.roster.current): void {
    // A page that shows no rooms' settings (the chat alone, in tests) asks nothing of them.
    if (room.startsWith('@') || this.#d.view === NO_ACCESS_VIEW) return;
    this.#d.request({ type: 'room', room });
  }

  saveRoom(topic: string, visibility: 'public' | 'private', guests: boolean): void {
    const room = this.#d.roster.current;
    const was = this.#rooms.get(room);
    const change = {
      ...(topic !== was?.topic && { topic }),
      ...(visibility !== was?.visibility && { visibility }),
      ...(guests !== was?.guests && { guests }),
    };
    if (Object.keys(change).length === 0) {
      this.#d.view.roomNote('Nothing changed.');
      return;
    }
    this.#send({ type: 'settings', room, ...change });
  }

  /** An act on a person in the current room. */
  moderate(action: ModerationAction, name: string): void {
    const room = this.#d.roster.current;
    const who = name.trim().replace(/^@/, '');
    if (!who) return;
    this.#send({ type: 'moderate', action, name: who, room });
  }

  adminOpened(): void {
    this.#send({ type: 'users' });
    this.#send({ type: 'audit', limit: 50 });
  }

  olderAudit(before: number): void {
    this.#d.request({ type: 'audit', before, limit: 50 }, { user: true, older: true });
  }

  setRole(name: string, role: ServerRole): void {
    this.#send({ type: 'role', name, role });
  }

  makeInvite(uses: number, days: number): void {
    this.#send({ type: 'invite', uses, days });
  }

  /**
   * The room shown changed: its topic and what I may do there, as known, then asked again (a
   * role given in a room comes with no notice).
   */
  switched(room: string): void {
    this.#showRoom(room);
    this.roomOpened(room);
  }

  /** A room was joined: what it allows may have changed (an invite, a new room of mine). */
  joined(room: string): void {
    if (room === this.#d.roster.current) this.roomOpened(room);
  }

  // ---- the server's answers ------------------------------------------------------------------

  loggedIn(r: ResultOf<'login'>): void {
    const { view, say } = this.#d;
    this.#ticket = undefined;
    this.#rooms.clear();
    this.#d.signedIn(r);
    this.identified(r.name, r.role);
    view.authDone();
    say(`Signed in as ${r.name}.`);
  }

  loggedOut(r: ResultOf<'logout'>): void {
    this.#rooms.clear();
    this.#d.view.signedOut();
    this.#d.signedOut();
    const n = r.ended;
    this.#d.say(n > 1 ? `Signed out of ${n} sessions.` : 'Signed out.');
  }

  passwordSet(): void {
    const text = 'Password changed. Your other sessions were ended.';
    this.#d.view.accountNote(text);
    this.#d.say(text);
  }

  sessions(r: ResultOf<'sessions'>): void {
    this.#d.view.setSessions(r.sessions);
  }

  revoked(): void {
    this.#d.view.accountNote('Session ended.');
    this.#send({ type: 'sessions' });
  }

  room(r: ResultOf<'room'>): void {
    this.#rooms.set(r.room, r);
    if (r.room === this.#d.roster.current) this.#showRoom(r.room);
  }

  settings(r: ResultOf<'settings'>): void {
    this.#d.view.roomNote('Saved.');
    const { room, topic, visibility, guests } = r;
    this.topic({ type: 'topic', room, topic, visibility, guests }, false);
  }

  moderated(r: ResultOf<'moderate'>, ctx: Pending<'moderate'> | undefined): void {
    const where = ctx?.req.room === undefined ? 'the server' : roomLabel(ctx.req.room);
    const text = `${DONE[r.action as keyof typeof DONE] ?? r.action} ${r.name} (${where}).`;
    this.#d.view.roomNote(text);
    this.#d.say(text);
    if (ctx?.req.room !== undefined) this.roomOpened(ctx.req.room);
  }

  topic(t: TopicEvent, say = true): void {
    const known = this.#rooms.get(t.room);
    if (known) {
      const { topic, visibility, guests } = t;
      this.#rooms.set(t.room, { ...known, topic, visibility, guests });
    }
    if (t.room === this.#d.roster.current) this.#showRoom(t.room);
    if (say && this.#d.roster.get(t.room)) this.#d.say(topicText(t), 'topic', t.room);
  }

  notice(n: NoticeEvent): void {
    const { say, removed, invited } = this.#d;
    if (n.what === 'role' && n.room === undefined && isServerRole(n.role)) {
      this.identified(this.#name, n.role);
    }
    if (n.room !== undefined && (n.what === 'kicked' || n.what === 'banned')) {
      this.#rooms.delete(n.room);
      removed(n.room);
    }
    if (n.room !== undefined && n.what === 'invited') invited(n.room);
    say(noticeText(n), 'notice');
    if (n.room !== undefined && n.what !== 'kicked' && n.what !== 'banned') this.roomOpened(n.room);
  }

  users(r: ResultOf<'users'>): void {
    this.#d.view.setUsers(r.users);
  }

  audit(r: ResultOf<'audit'>, ctx: Pending<'audit'> | undefined): void {
    this.#d.view.setAudit(r.entries, r.more, !!ctx?.older);
  }

  roleSet(r: ResultOf<'role'>): void {
    this.#d.view.adminNote(`${r.name} is now ${r.role}.`);
    this.#send({ type: 'users' });
  }

  inviteMade(r: ResultOf<'invite'>): void {
    this.#d.view.setInvite(`${this.#d.pageUrl()}#invite=${r.code}`, r.uses, r.expires);
  }

  /** An error for one of this module's requests, said where it was asked; false when not one. */
  refused(ctx: AnyPending | undefined, ev: ErrorFrame): boolean {
    const kind = ctx?.req.type;
    if (kind === undefined || !KINDS.has(kind)) return false;
    const { view, say } = this.#d;
    const text = ev.message;
    switch (kind) {
      case 'register':
      case 'login':
        view.authError(text);
        break;
      case 'password':
        if (ctx?.req.type === 'password' && ctx.req.ticket !== undefined) view.authError(text);
        else view.accountNote(text, true);
        break;
      case 'logout':
      case 'sessions':
      case 'revoke':
        view.accountNote(text, true);
        break;
      case 'room':
        // A room I may not see has no settings to show; the join says why.
        return true;
      case 'settings':
      case 'moderate':
        view.roomNote(text, true);
        break;
      default:
        view.adminNote(text, true);
    }
    if (ctx?.user) say(`Error: ${text}`, 'error');
    return true;
  }

  /** A request the person asked for; when offline, they are told. */
  #send(req: AccessRequest): void {
    if (!this.#d.request(req, { user: false })) {
      const text = 'Not connected; try again once the connection is back.';
      this.#d.view.authError(text);
      this.#d.view.accountNote(text, true);
    }
  }

  #showRoom(room: string): void {
    const info = room.startsWith('@') ? undefined : this.#rooms.get(room);
    this.#d.view.setRoomAccess(room, info, powers(this.#role, info?.you));
  }
}

const DONE = {
  invite: 'Invited',
  kick: 'Removed',
  ban: 'Banned',
  unban: 'Lifted the ban on',
  mute: 'Muted',
  unmute: 'Unmuted',
  op: 'Made a moderator:',
  deop: 'No longer a moderator:',
} as const;

function isServerRole(r: string | undefined): r is ServerRole {
  return r === 'owner' || r === 'admin' || r === 'moderator' || r === 'member';
}

/** For a chat with no account parts on its page. */
export const NO_ACCESS_VIEW: AccessView = {
  setAccount() {},
  openAuth() {},
  authDone() {},
  authError() {},
  setSessions() {},
  accountNote() {},
  signedOut() {},
  setRoomAccess() {},
  roomNote() {},
  setUsers() {},
  setAudit() {},
  setInvite() {},
  adminNote() {},
};
