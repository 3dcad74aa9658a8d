// The directory (people, sessions, links, room access, the audit log) in SQLite.

import type Database from 'better-sqlite3';
import type { Claim, Directory, RoomRole } from '../core/directory.js';
import {
  SESSION_ID_LENGTH,
  toAudit,
  toSession,
  toTicket,
  toUser,
  type AuditRow,
  type SessionRow,
  type TicketRow,
  type UserRow,
} from './directory-rows.js';

/** A session's last use is written at most this often: a login per page load is no write. */
const TOUCH_EVERY_MS = 60 * 60 * 1000;

export function sqliteDirectory(
  db: Database.Database,
  later: <T>(f: () => T) => Promise<T>,
): Directory {
  const q = {
    user: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
    userByName: db.prepare<[string], UserRow>(
      'SELECT u.* FROM names n JOIN users u ON u.id = n.user_id WHERE n.key = ?',
    ),
    name: db.prepare<[string], { user_id: string }>('SELECT user_id FROM names WHERE key = ?'),
    lookalike: db.prepare<[string, string], { key: string }>(
      'SELECT key FROM names WHERE skeleton = ? AND user_id <> ? LIMIT 1',
    ),
    insertName: db.prepare<[string, number, string, string]>(
      "INSERT INTO names (key, token_hash, created_at, skeleton, user_id) VALUES (?, '', ?, ?, ?)",
    ),
    insertUser: db.prepare<[string, string, string, string | null, string, number]>(
      'INSERT INTO users (id, key, display, password, role, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    // Unchanged, the row is not written: every hello of a returning person claims its name.
    goBy: db.prepare<{ key: string; display: string; id: string }>(
      'UPDATE users SET key = @key, display = @display ' +
        'WHERE id = @id AND (key IS NOT @key OR display IS NOT @display)',
    ),
    password: db.prepare<[string], { password: string | null }>(
      'SELECT password FROM users WHERE id = ?',
    ),
    setPassword: db.prepare<[string, string]>('UPDATE users SET password = ? WHERE id = ?'),
    setRole: db.prepare<[string, string]>('UPDATE users SET role = ? WHERE id = ?'),
    setBan: db.prepare<[number | null, string | null, string]>(
      'UPDATE users SET banned_until = ?, ban_reason = ? WHERE id = ?',
    ),
    users: db.prepare<[string, number], UserRow>(
      'SELECT * FROM users WHERE key > ? ORDER BY key LIMIT ?',
    ),
    owner: db.prepare<[], { id: string }>("SELECT id FROM users WHERE role = 'owner' LIMIT 1"),
    addSession: db.prepare<[string, string, number, number, string]>(
      'INSERT INTO sessions (token_hash, user_id, created_at, last_seen, label) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (token_hash) DO NOTHING',
    ),
    session: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE token_hash = ?'),
    touch: db.prepare<[number, string, number]>(
      'UPDATE sessions SET last_seen = ? WHERE token_hash = ? AND last_seen < ?',
    ),
    sessions: db.prepare<[string], SessionRow>(
      'SELECT * FROM sessions WHERE user_id = ? ORDER BY last_seen DESC',
    ),
    endSession: db.prepare<[string, string]>(
      `DELETE FROM sessions WHERE user_id = ? AND substr(token_hash, 1, ${SESSION_ID_LENGTH}) = ?`,
    ),
    endSessions: db.prepare<[string, string]>(
      'DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?',
    ),
    addTicket: db.prepare<[string, string, string | null, number, number, string | null, number]>(
      'INSERT INTO tickets (hash, kind, user_id, uses, expires_at, created_by, created_at) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    useTicket: db.prepare<[string, string, number], TicketRow>(
      'UPDATE tickets SET uses = uses - 1 WHERE hash = ? AND kind = ? AND uses > 0 AND expires_at > ? ' +
        'RETURNING *',
    ),
    returnTicket: db.prepare<[string]>('UPDATE tickets SET uses = uses + 1 WHERE hash = ?'),
    tickets: db.prepare<[string, number], TicketRow>(
      'SELECT * FROM tickets WHERE kind = ? AND uses > 0 AND expires_at > ? ORDER BY created_at',
    ),
    revokeTicket: db.prepare<[string]>('DELETE FROM tickets WHERE hash = ?'),
    roomSettings: db.prepare<[string], { visibility: string; topic: string; guests: number }>(
      'SELECT visibility, topic, guests FROM room_settings WHERE room = ?',
    ),
    putRoomSettings: db.prepare<[string, string, string, number]>(
      'INSERT INTO room_settings (room, visibility, topic, guests) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (room) DO UPDATE SET visibility = excluded.visibility, ' +
        'topic = excluded.topic, guests = excluded.guests',
    ),
    roomRole: db.prepare<[string, string], { role: string }>(
      'SELECT role FROM room_roles WHERE room = ? AND user_id = ?',
    ),
    standingOf: db.prepare<
      { room: string; user: string },
      { role: string | null; ban: number | null; mute: number | null }
    >(
      'SELECT (SELECT role FROM room_roles WHERE room = @room AND user_id = @user) AS role, ' +
        "(SELECT until FROM sanctions WHERE room = @room AND user_id = @user AND kind = 'ban') AS ban, " +
        "(SELECT until FROM sanctions WHERE room = @room AND user_id = @user AND kind = 'mute') AS mute",
    ),
    setRoomRole: db.prepare<[string, string, string]>(
      'INSERT INTO room_roles (room, user_id, role) VALUES (?, ?, ?) ' +
        'ON CONFLICT (room, user_id) DO UPDATE SET role = excluded.role',
    ),
    dropRoomRole: db.prepare<[string, string]>(
      'DELETE FROM room_roles WHERE room = ? AND user_id = ?',
    ),
    roomRoles: db.prepare<[string], { user_id: string; role: string }>(
      'SELECT user_id, role FROM room_roles WHERE room = ? ORDER BY user_id',
    ),
    privateRoomsOf: db.prepare<[string], { room: string }>(
      'SELECT r.room FROM room_roles r JOIN room_settings s ON s.room = r.room ' +
        "WHERE r.user_id = ? AND s.visibility = 'private' ORDER BY r.room",
    ),
    roomsOf: db.prepare<[string], { room: string }>(
      'SELECT room FROM room_roles WHERE user_id = ? ORDER BY room',
    ),
    privateRooms: db.prepare<[], { room: string }>(
      "SELECT room FROM room_settings WHERE visibility = 'private' ORDER BY room",
    ),
    sanction: db.prepare<[string, string, string], { until: number }>(
      'SELECT until FROM sanctions WHERE room = ? AND user_id = ? AND kind = ?',
    ),
    setSanction: db.prepare<[string, string, string, number, string]>(
      'INSERT INTO sanctions (room, user_id, kind, until, reason) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (room, user_id, kind) DO UPDATE SET until = excluded.until, reason = excluded.reason',
    ),
    liftSanction: db.prepare<[string, string, string]>(
      'DELETE FROM sanctions WHERE room = ? AND user_id = ? AND kind = ?',
    ),
    audit: db.prepare<[number, string | null, string, string | null, string | null, string]>(
      'INSERT INTO audit (at, actor_id, action, target_id, room, reason) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    auditAfter: db.prepare<[number, number], AuditRow>(
      'SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
    ),
    auditBefore: db.prepare<[number, number], AuditRow>(
      'SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    lastAudit: db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM audit'),
  };

  /** Whether the key can be the user's: theirs already, free, or taken (or looked like). */
  const free = (key: string, skeleton: string, userId: string): Claim | 'free' => {
    const holder = q.name.get(key)?.user_id;
    if (holder !== undefined) return holder === userId ? 'owned' : 'reserved';
    return q.lookalike.get(skeleton, userId) ? 'confusable' : 'free';
  };

  const createTx = db.transaction((u: Parameters<Directory['createUser']>[0]): Claim => {
    const state = free(u.key, u.skeleton, u.id);
    if (state !== 'free') return state === 'owned' ? 'reserved' : state;
    q.insertUser.run(u.id, u.key, u.display, u.passwordHash, u.role, u.now);
    q.insertName.run(u.key, u.now, u.skeleton, u.id);
    return 'claimed';
  });

  const claimTx = db.transaction(
    (key: string, skeleton: string, display: string, userId: string, now: number): Claim => {
      const state = free(key, skeleton, userId);
      if (state === 'reserved' || state === 'confusable') return state;
      if (state === 'free') q.insertName.run(key, now, skeleton, userId);
      q.goBy.run({ key, display, id: userId });
      return state === 'free' ? 'claimed' : 'owned';
    },
  );

  return {
    userById: (id) => later(() => maybe(q.user.get(id), toUser)),
    userByName: (key) => later(() => maybe(q.userByName.get(key), toUser)),
    createUser: (u) => later(() => createTx.immediate(u)),
    claimUserName: (key, skeleton, display, userId, now) =>
      later(() => claimTx.immediate(key, skeleton, display, userId, now)),
    passwordHash: (userId) => later(() => q.password.get(userId)?.password ?? null),
    setPasswordHash: (userId, hash) => later(() => void q.setPassword.run(hash, userId)),
    setRole: (userId, role) => later(() => void q.setRole.run(role, userId)),
    setServerBan: (userId, until, reason) => later(() => void q.setBan.run(until, reason, userId)),
    users: (after, limit) => later(() => q.users.all(after ?? '', limit).map(toUser)),
    hasOwner: () => later(() => q.owner.get() !== undefined),

    addSession: (hash, userId, now, label) =>
      later(() => void q.addSession.run(hash, userId, now, now, label)),
    session: (hash) => later(() => maybe(q.session.get(hash), toSession)),
    touchSession: (hash, now) => later(() => void q.touch.run(now, hash, now - TOUCH_EVERY_MS)),
    sessions: (userId) => later(() => q.sessions.all(userId).map(toSession)),
    endSession: (userId, id) => later(() => q.endSession.run(userId, id).changes > 0),
    endSessions: (userId, keep) => later(() => q.endSessions.run(userId, keep ?? '').changes),

    addTicket: (hash, t) =>
      later(
        () =>
          void q.addTicket.run(hash, t.kind, t.userId, t.uses, t.expires, t.createdBy, t.created),
      ),
    useTicket: (hash, kind, now) => later(() => maybe(q.useTicket.get(hash, kind, now), toTicket)),
    returnTicket: (hash) => later(() => void q.returnTicket.run(hash)),
    tickets: (kind, now) =>
      later(() => q.tickets.all(kind, now).map((r) => ({ ...toTicket(r), hash: r.hash }))),
    revokeTicket: (hash) => later(() => q.revokeTicket.run(hash).changes > 0),

    roomSettings: (room) =>
      later(() => {
        const r = q.roomSettings.get(room);
        return r
          ? {
              visibility: r.visibility === 'private' ? 'private' : 'public',
              topic: r.topic,
              guests: r.guests === 1,
            }
          : null;
      }),
    putRoomSettings: (room, s) =>
      later(() => void q.putRoomSettings.run(room, s.visibility, s.topic, s.guests ? 1 : 0)),
    roomRole: (room, userId) =>
      later(() => (q.roomRole.get(room, userId)?.role ?? null) as RoomRole | null),
    standingOf: (room, userId) =>
      later(() => {
        const r = q.standingOf.get({ room, user: userId });
        return {
          role: (r?.role ?? null) as RoomRole | null,
          ban: r?.ban ?? null,
          mute: r?.mute ?? null,
        };
      }),
    setRoomRole: (room, userId, role) =>
      later(() => {
        if (role === null) q.dropRoomRole.run(room, userId);
        else q.setRoomRole.run(room, userId, role);
      }),
    roomRoles: (room) =>
      later(() =>
        q.roomRoles.all(room).map((r) => ({ userId: r.user_id, role: r.role as RoomRole })),
      ),
    roomsOf: (userId) => later(() => q.roomsOf.all(userId).map((r) => r.room)),
    privateRoomsOf: (userId) => later(() => q.privateRoomsOf.all(userId).map((r) => r.room)),
    privateRooms: () => later(() => q.privateRooms.all().map((r) => r.room)),
    sanction: (room, userId, kind) =>
      later(() => q.sanction.get(room, userId, kind)?.until ?? null),
    setSanction: (room, userId, kind, until, reason) =>
      later(() => {
        if (until === null) q.liftSanction.run(room, userId, kind);
        else q.setSanction.run(room, userId, kind, until, reason);
      }),

    audit: (e) =>
      later(() =>
        Number(
          q.audit.run(e.at, e.actorId, e.action, e.targetId, e.room, e.reason).lastInsertRowid,
        ),
      ),
    auditAfter: (after, limit) => later(() => q.auditAfter.all(after, limit).map(toAudit)),
    auditBefore: (before, limit) =>
      later(() => q.auditBefore.all(before ?? Number.MAX_SAFE_INTEGER, limit).map(toAudit)),
    lastAuditSeq: () => later(() => q.lastAudit.get()?.seq ?? 0),
  };
}

function maybe<R, T>(row: R | undefined, f: (r: R) => T): T | null {
  return row === undefined ? null : f(row);
}
