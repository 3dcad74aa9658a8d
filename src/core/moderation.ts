// What room moderators and server staff do: act on a person in a room (invite, kick, ban, mute,
// op), change a room's settings, and the server-wide acts of admins. Each act is checked by the
// policy, written to the store, and entered in the audit log, which every node follows.

import {
  ChatError,
  isDirect,
  normalizeName,
  normalizeRoom,
  type ModerationAction,
  type RoomResult,
} from '../protocol/index.js';
import {
  FOREVER,
  type AuditEntry,
  type RoomSettings,
  type ServerRole,
  type UserRecord,
} from './directory.js';
import type { Guard } from './guard.js';
import type { Identities } from './identities.js';
import { LEGACY_SETTINGS, outranks, refusal, serverRefusal, type Actor } from './policy.js';
import type { CoreDeps } from './ports.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

const TOPIC_MAX = 300;
const REASON_MAX = 300;
const AUDIT_PAGE = 50;
const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30m`, `2h`, `7d` in ms; undefined for no duration (until lifted). */
export function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const m = /^(\d{1,5})([mhd])$/.exec(text.trim().toLowerCase());
  const unit = m?.[2] && UNITS[m[2]];
  if (!m || !unit || Number(m[1]) === 0) throw new ChatError('DURATION_INVALID');
  return Number(m[1]) * unit;
}

/** A person acted on: an account, or a guest connected now. */
interface Target extends Actor {
  id: string;
  display: string;
  claimed: boolean;
}

export class Moderation {
  constructor(
    private readonly deps: CoreDeps,
    private readonly identities: Identities,
    private readonly guard: Guard,
  ) {}

  private read<T>(f: () => Promise<T>): Promise<T> {
    return readStore(this.deps, f);
  }

  private roomId(label: string): string {
    const room = isDirect(label) ? null : normalizeRoom(label);
    if (!room) throw new ChatError('ROOM_INVALID');
    return room.key;
  }

  private async target(raw: string): Promise<Target> {
    const n = normalizeName(raw.replace(/^@/, ''));
    if (!n) throw new ChatError('NO_SUCH_USER');
    const user = await this.read(() => this.deps.dir.userByName(n.key));
    if (user) return { id: user.id, display: user.display, role: user.role, claimed: true };
    const guest = this.identities.get(n.key)?.sessions[0];
    if (guest && !guest.claimed) {
      return { id: guest.userId, display: guest.name, role: null, claimed: false };
    }
    throw new ChatError('NO_SUCH_USER');
  }

  async moderate(
    session: Session,
    action: ModerationAction,
    name: string,
    label: string | undefined,
    duration: string | undefined,
    rawReason: string | undefined,
  ): Promise<{ action: string; name: string }> {
    const reason = (rawReason ?? '').slice(0, REASON_MAX);
    const span = parseDuration(duration);
    if (label === undefined) return this.serverBan(session, action, name, span, reason);
    const room = this.roomId(label);
    const mine = await this.guard.standing(session, room);
    const needed =
      action === 'unban' ? 'ban' : action === 'unmute' ? 'mute' : action === 'deop' ? 'op' : action;
    const code = refusal(needed, session, mine);
    if (code) throw new ChatError(code);
    const t = await this.target(name);
    const { dir } = this.deps;
    const theirs = t.claimed ? await this.read(() => dir.roomRole(room, t.id)) : null;
    if (action !== 'invite' && !outranks(session, mine.role, t, theirs)) {
      throw new ChatError('FORBIDDEN', `You cannot ${action} ${t.display}.`);
    }
    if (!t.claimed && (action === 'invite' || action === 'op' || action === 'deop')) {
      throw new ChatError(
        'ACCOUNT_REQUIRED',
        `${t.display} is a guest: they need an account first.`,
      );
    }
    const until = span === undefined ? FOREVER : this.deps.clock.now() + span;
    const privateRoom = (mine.settings ?? LEGACY_SETTINGS).visibility === 'private';
    await this.read(async () => {
      switch (action) {
        case 'invite':
          if (theirs === null) await dir.setRoomRole(room, t.id, 'member');
          await dir.setSanction(room, t.id, 'ban', null, '');
          return;
        case 'kick':
          // Out of a private room is out of its members too; a public one may be joined again.
          if (privateRoom && theirs !== 'owner') await dir.setRoomRole(room, t.id, null);
          return;
        case 'ban':
          await dir.setSanction(room, t.id, 'ban', until, reason);
          if (theirs !== null) await dir.setRoomRole(room, t.id, null);
          return;
        case 'unban':
          await dir.setSanction(room, t.id, 'ban', null, '');
          return;
        case 'mute':
          await dir.setSanction(room, t.id, 'mute', until, reason);
          return;
        case 'unmute':
          await dir.setSanction(room, t.id, 'mute', null, '');
          return;
        case 'op':
          await dir.setRoomRole(room, t.id, 'moderator');
          return;
        case 'deop':
          if (theirs === 'moderator') await dir.setRoomRole(room, t.id, 'member');
          return;
      }
    });
    await this.log(session.userId, action, t.id, room, withSpan(reason, duration));
    return { action, name: t.display };
  }

  private async serverBan(
    session: Session,
    action: ModerationAction,
    name: string,
    span: number | undefined,
    reason: string,
  ): Promise<{ action: string; name: string }> {
    if (action !== 'ban' && action !== 'unban') {
      throw new ChatError('BAD_REQUEST', `${action} needs a room.`);
    }
    const code = serverRefusal('ban', session);
    if (code) throw new ChatError(code);
    const t = await this.target(name);
    if (!t.claimed)
      throw new ChatError(
        'NO_SUCH_USER',
        'Guests are kicked from rooms, not banned from the server.',
      );
    if (!outranks(session, null, t, null))
      throw new ChatError('FORBIDDEN', `You cannot ban ${t.display}.`);
    const until =
      action === 'ban' ? (span === undefined ? FOREVER : this.deps.clock.now() + span) : null;
    await this.read(() =>
      this.deps.dir.setServerBan(t.id, until, action === 'ban' ? reason : null),
    );
    await this.log(session.userId, `server ${action}`, t.id, null, reason);
    return { action, name: t.display };
  }

  /** A room's settings and its people with a role, for those who may see it. */
  async info(session: Session, label: string): Promise<Omit<RoomResult, 'type' | 'id' | 'of'>> {
    const room = this.roomId(label);
    const s = await this.guard.checkRead(session, room);
    const settings = s.settings ?? LEGACY_SETTINGS;
    const roles = await this.read(() => this.deps.dir.roomRoles(room));
    const named: [string, 'owner' | 'moderator' | 'member'][] = [];
    for (const r of roles) {
      const u = await this.read(() => this.deps.dir.userById(r.userId));
      if (u) named.push([u.display, r.role]);
    }
    return { room, ...settings, roles: named, you: s.role ?? undefined };
  }

  async settings(
    session: Session,
    label: string,
    change: Partial<RoomSettings>,
  ): Promise<RoomSettings & { room: string }> {
    const room = this.roomId(label);
    const s = await this.guard.standing(session, room);
    const asks: ('topic' | 'visibility')[] = [];
    if (change.topic !== undefined) asks.push('topic');
    if (change.visibility !== undefined || change.guests !== undefined) asks.push('visibility');
    for (const a of asks) {
      const code = refusal(a, session, s);
      if (code) throw new ChatError(code);
    }
    if (change.topic !== undefined && [...change.topic].length > TOPIC_MAX) {
      throw new ChatError('BAD_REQUEST', `A topic is at most ${TOPIC_MAX} characters.`);
    }
    const now = s.settings ?? LEGACY_SETTINGS;
    const next: RoomSettings = {
      visibility: change.visibility ?? now.visibility,
      topic: change.topic ?? now.topic,
      guests:
        (change.visibility ?? now.visibility) === 'private' ? false : (change.guests ?? now.guests),
    };
    if (next.visibility === 'private' && now.visibility === 'public') await this.keepMembers(room);
    await this.read(() => this.deps.dir.putRoomSettings(room, next));
    const what = describe(now, next);
    await this.log(session.userId, 'settings', null, room, what);
    return { room, ...next };
  }

  /** A room made private keeps the people with an account who are in it now. */
  private async keepMembers(room: string): Promise<void> {
    const { dir } = this.deps;
    const live = this.guard.liveMembers(room);
    for (const key of live) {
      const u = await this.read(() => dir.userByName(key));
      if (u && (await this.read(() => dir.roomRole(room, u.id))) === null) {
        await this.read(() => dir.setRoomRole(room, u.id, 'member'));
      }
    }
  }

  // ---- server-wide --------------------------------------------------------------------------

  async audit(
    session: Session,
    before: number | undefined,
    limit: number | undefined,
  ): Promise<{ entries: ReturnType<typeof shown>[]; more: boolean }> {
    const code = serverRefusal('audit', session);
    if (code) throw new ChatError(code);
    const n = Math.min(Math.max(limit ?? AUDIT_PAGE, 1), 200);
    const rows = await this.read(() => this.deps.dir.auditBefore(before, n + 1));
    const names = new Map<string, string>();
    const nameOf = async (id: string | null): Promise<string | undefined> => {
      if (id === null) return undefined;
      if (!names.has(id)) {
        const u = await this.read(() => this.deps.dir.userById(id));
        names.set(id, u?.display ?? id);
      }
      return names.get(id);
    };
    const entries = [];
    for (const e of rows.slice(0, n))
      entries.push(shown(e, await nameOf(e.actorId), await nameOf(e.targetId)));
    return { entries, more: rows.length > n };
  }

  async users(
    session: Session,
    after: string | undefined,
  ): Promise<{
    users: { name: string; role: ServerRole; banned: boolean; created: number }[];
    next?: string;
  }> {
    const code = serverRefusal('users', session);
    if (code) throw new ChatError(code);
    const page = 100;
    const rows = await this.read(() => this.deps.dir.users(after, page + 1));
    const now = this.deps.clock.now();
    const users = rows.slice(0, page).map((u: UserRecord) => ({
      name: u.display,
      role: u.role,
      banned: u.bannedUntil !== null && u.bannedUntil > now,
      created: u.created,
    }));
    const last = rows[page - 1];
    return rows.length > page && last ? { users, next: last.key } : { users };
  }

  async setRole(
    session: Session,
    name: string,
    role: ServerRole,
  ): Promise<{ name: string; role: ServerRole }> {
    const code = serverRefusal('role', session);
    if (code) throw new ChatError(code);
    const t = await this.target(name);
    if (!t.claimed) throw new ChatError('NO_SUCH_USER');
    // Nobody makes someone their equal or above, nor changes someone who is.
    const makes: Actor = { role };
    if (!outranks(session, null, t, null) || !outranks(session, null, makes, null)) {
      throw new ChatError('FORBIDDEN', `You cannot make ${t.display} ${role}.`);
    }
    await this.read(() => this.deps.dir.setRole(t.id, role));
    await this.log(session.userId, 'role', t.id, null, role);
    return { name: t.display, role };
  }

  async invite(
    session: Session,
    uses: number | undefined,
    days: number | undefined,
  ): Promise<{ code: string; uses: number; expires: number }> {
    const code = serverRefusal('invite', session);
    if (code) throw new ChatError(code);
    const ticket = this.deps.newToken();
    const n = Math.min(Math.max(uses ?? 1, 1), 1000);
    const expires = this.deps.clock.now() + Math.min(Math.max(days ?? 7, 1), 365) * 86_400_000;
    await this.read(() =>
      this.deps.dir.addTicket(this.deps.hashToken(ticket), {
        kind: 'invite',
        userId: null,
        uses: n,
        expires,
        createdBy: session.userId,
        created: this.deps.clock.now(),
      }),
    );
    await this.log(session.userId, 'invite link', null, null, `${n} use${n === 1 ? '' : 's'}`);
    return { code: ticket, uses: n, expires };
  }

  private async log(
    actorId: string,
    action: string,
    targetId: string | null,
    room: string | null,
    reason: string,
  ): Promise<void> {
    const seq = await this.read(() =>
      this.deps.dir.audit({ at: this.deps.clock.now(), actorId, action, targetId, room, reason }),
    );
    await this.guard.appliedLocally(seq);
  }
}

function withSpan(reason: string, duration: string | undefined): string {
  return duration ? `${reason}${reason ? ' ' : ''}(${duration})` : reason;
}

function describe(before: RoomSettings, after: RoomSettings): string {
  const parts: string[] = [];
  if (before.topic !== after.topic) parts.push(`topic "${after.topic}"`);
  if (before.visibility !== after.visibility) parts.push(after.visibility);
  if (before.guests !== after.guests)
    parts.push(after.guests ? 'open to guests' : 'closed to guests');
  return parts.join(', ');
}

function shown(e: AuditEntry, actor: string | undefined, target: string | undefined) {
  return {
    seq: e.seq,
    at: e.at,
    actor,
    action: e.action,
    target,
    room: e.room ?? undefined,
    reason: e.reason,
  };
}
