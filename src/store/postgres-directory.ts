// The directory (people, sessions, tickets, room access, the audit log) in PostgreSQL. Every node
// writes the same tables: a claim of a name takes a lock on its skeleton and inserts with
// ON CONFLICT, so two nodes claiming one key cannot both win; a ticket is used by one UPDATE.

import type pg from 'pg';
import type { Claim, Directory, RoomRole, RoomSettings, Visibility } from '../core/directory.js';
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

/** A lastSeen newer than this is left as it is: a session in use writes once a minute. */
const TOUCH_EVERY_MS = 60_000;
const USER_COLUMNS = 'id, key, display, password, role, banned_until, ban_reason, created_at';
/** The same, of the users table under the alias u. */
const U_COLUMNS = USER_COLUMNS.split(', ')
  .map((c) => `u.${c}`)
  .join(', ');
const SESSION_COLUMNS = 'token_hash, user_id, created_at, last_seen, label';
const TICKET_COLUMNS = 'hash, kind, user_id, uses, expires_at, created_by, created_at';
const AUDIT_COLUMNS = 'seq, at, actor_id, action, target_id, room, reason';

export interface PostgresDirectoryContext {
  pool: pg.Pool;
  /** The store's schema, quoted. */
  s: string;
  /** Runs work in a transaction, again when it lost a race with another node. */
  inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** Throws once the store is closed. */
  open(): void;
}

export function postgresDirectory(ctx: PostgresDirectoryContext): Directory {
  const { pool, s, inTransaction, open } = ctx;
  const t = {
    names: `${s}.names`,
    users: `${s}.users`,
    sessions: `${s}.sessions`,
    tickets: `${s}.tickets`,
    roomSettings: `${s}.room_settings`,
    roomRoles: `${s}.room_roles`,
    sanctions: `${s}.sanctions`,
    audit: `${s}.audit`,
  };

  async function query<R extends pg.QueryResultRow>(
    sql: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    open();
    return pool.query<R>(sql, values);
  }

  /** Look-alike claims on two nodes at once: the lock on the skeleton puts one after the other. */
  async function lockSkeleton(client: pg.PoolClient, skeleton: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`parley:name:${skeleton}`]);
  }

  async function holderOf(client: pg.PoolClient, key: string): Promise<string | null | undefined> {
    const res = await client.query<{ user_id: string | null }>(
      `SELECT user_id FROM ${t.names} WHERE key = $1`,
      [key],
    );
    return res.rows[0]?.user_id;
  }

  /** Reserves the key to the user unless another node did first; ownership is by user id. */
  async function insertName(
    client: pg.PoolClient,
    key: string,
    skeleton: string,
    userId: string,
    now: number,
  ): Promise<boolean> {
    const res = await client.query(
      `INSERT INTO ${t.names} (key, token_hash, created_at, skeleton, user_id)
       VALUES ($1, '', $2, $3, $4) ON CONFLICT (key) DO NOTHING RETURNING key`,
      [key, now, skeleton, userId],
    );
    return res.rowCount === 1;
  }

  async function goesBy(
    client: pg.PoolClient,
    userId: string,
    key: string,
    display: string,
  ): Promise<void> {
    // Unchanged, the row is not written (no dead tuple): every hello of a returning person
    // claims its name.
    await client.query(
      `UPDATE ${t.users} SET key = $2, display = $3
        WHERE id = $1 AND (key IS DISTINCT FROM $2 OR display IS DISTINCT FROM $3)`,
      [userId, key, display],
    );
  }

  return {
    // ---- people -----------------------------------------------------------------------------
    async userById(id) {
      const res = await query<UserRow>(`SELECT ${USER_COLUMNS} FROM ${t.users} WHERE id = $1`, [
        id,
      ]);
      const r = res.rows[0];
      return r ? toUser(r) : null;
    },
    async userByName(key) {
      const res = await query<UserRow>(
        `SELECT ${U_COLUMNS}
           FROM ${t.names} n JOIN ${t.users} u ON u.id = n.user_id WHERE n.key = $1`,
        [key],
      );
      const r = res.rows[0];
      return r ? toUser(r) : null;
    },
    async createUser(user) {
      open();
      return inTransaction(async (client): Promise<Claim> => {
        await lockSkeleton(client, user.skeleton);
        if ((await holderOf(client, user.key)) !== undefined) return 'reserved';
        const alike = await client.query(`SELECT 1 FROM ${t.names} WHERE skeleton = $1 LIMIT 1`, [
          user.skeleton,
        ]);
        if (alike.rowCount !== 0) return 'confusable';
        // The name first: when another node won it meanwhile, no user is written.
        if (!(await insertName(client, user.key, user.skeleton, user.id, user.now))) {
          return 'reserved';
        }
        await client.query(
          `INSERT INTO ${t.users} (id, key, display, password, role, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [user.id, user.key, user.display, user.passwordHash, user.role, user.now],
        );
        return 'claimed';
      });
    },
    async claimUserName(key, skeleton, display, userId, now) {
      open();
      return inTransaction(async (client): Promise<Claim> => {
        await lockSkeleton(client, skeleton);
        const holder = await holderOf(client, key);
        if (holder === undefined) {
          const alike = await client.query(
            `SELECT 1 FROM ${t.names}
              WHERE skeleton = $1 AND user_id IS DISTINCT FROM $2 LIMIT 1`,
            [skeleton, userId],
          );
          if (alike.rowCount !== 0) return 'confusable';
          if (await insertName(client, key, skeleton, userId, now)) {
            await goesBy(client, userId, key, display);
            return 'claimed';
          }
        }
        // Already reserved, or reserved by another node since the look-up.
        const owner = holder ?? (await holderOf(client, key));
        if (owner !== userId) return 'reserved';
        await goesBy(client, userId, key, display);
        return 'owned';
      });
    },
    async passwordHash(userId) {
      const res = await query<{ password: string | null }>(
        `SELECT password FROM ${t.users} WHERE id = $1`,
        [userId],
      );
      return res.rows[0]?.password ?? null;
    },
    async setPasswordHash(userId, hash) {
      await query(`UPDATE ${t.users} SET password = $2 WHERE id = $1`, [userId, hash]);
    },
    async setRole(userId, role) {
      await query(`UPDATE ${t.users} SET role = $2 WHERE id = $1`, [userId, role]);
    },
    async setServerBan(userId, until, reason) {
      await query(`UPDATE ${t.users} SET banned_until = $2, ban_reason = $3 WHERE id = $1`, [
        userId,
        until,
        until === null ? null : reason,
      ]);
    },
    async users(after, limit) {
      // COLLATE "C" orders by code point, as SQLite does, whatever the database's locale.
      const res = await query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM ${t.users}
          WHERE $1::text IS NULL OR key COLLATE "C" > $1::text
          ORDER BY key COLLATE "C" LIMIT $2`,
        [after ?? null, limit],
      );
      return res.rows.map(toUser);
    },
    async hasOwner() {
      const res = await query(`SELECT 1 FROM ${t.users} WHERE role = 'owner' LIMIT 1`);
      return res.rowCount === 1;
    },

    // ---- sessions ---------------------------------------------------------------------------
    async addSession(tokenHash, userId, now, label) {
      await query(`INSERT INTO ${t.sessions} (${SESSION_COLUMNS}) VALUES ($1, $2, $3, $3, $4)`, [
        tokenHash,
        userId,
        now,
        label,
      ]);
    },
    async session(tokenHash) {
      const res = await query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM ${t.sessions} WHERE token_hash = $1`,
        [tokenHash],
      );
      const r = res.rows[0];
      return r ? toSession(r) : null;
    },
    async touchSession(tokenHash, now) {
      await query(
        `UPDATE ${t.sessions} SET last_seen = $2 WHERE token_hash = $1 AND last_seen < $3`,
        [tokenHash, now, now - TOUCH_EVERY_MS],
      );
    },
    async sessions(userId) {
      const res = await query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM ${t.sessions} WHERE user_id = $1
          ORDER BY created_at, token_hash COLLATE "C"`,
        [userId],
      );
      return res.rows.map(toSession);
    },
    async endSession(userId, sessionId) {
      if (sessionId.length !== SESSION_ID_LENGTH) return false;
      const res = await query(
        `DELETE FROM ${t.sessions} WHERE user_id = $1 AND substr(token_hash, 1, $3) = $2`,
        [userId, sessionId, SESSION_ID_LENGTH],
      );
      return (res.rowCount ?? 0) > 0;
    },
    async endSessions(userId, keepHash) {
      const res = await query(
        `DELETE FROM ${t.sessions}
          WHERE user_id = $1 AND ($2::text IS NULL OR token_hash <> $2::text)`,
        [userId, keepHash ?? null],
      );
      return res.rowCount ?? 0;
    },

    // ---- tickets ----------------------------------------------------------------------------
    async addTicket(hash, ticket) {
      await query(
        `INSERT INTO ${t.tickets} (${TICKET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          hash,
          ticket.kind,
          ticket.userId,
          ticket.uses,
          ticket.expires,
          ticket.createdBy,
          ticket.created,
        ],
      );
    },
    async useTicket(hash, kind, now) {
      // One statement: two nodes using the last use at once cannot both get it.
      const res = await query<TicketRow>(
        `UPDATE ${t.tickets} SET uses = uses - 1
          WHERE hash = $1 AND kind = $2 AND uses > 0 AND expires_at > $3
          RETURNING ${TICKET_COLUMNS}`,
        [hash, kind, now],
      );
      const r = res.rows[0];
      return r ? toTicket(r) : null;
    },
    async returnTicket(hash) {
      await query(`UPDATE ${t.tickets} SET uses = uses + 1 WHERE hash = $1`, [hash]);
    },
    async tickets(kind, now) {
      const res = await query<TicketRow>(
        `SELECT ${TICKET_COLUMNS} FROM ${t.tickets}
          WHERE kind = $1 AND uses > 0 AND expires_at > $2
          ORDER BY created_at, hash COLLATE "C"`,
        [kind, now],
      );
      return res.rows.map((r) => ({ ...toTicket(r), hash: r.hash }));
    },
    async revokeTicket(hash) {
      // Deleted rather than emptied: a use given back later cannot bring it back.
      const res = await query(`DELETE FROM ${t.tickets} WHERE hash = $1`, [hash]);
      return res.rowCount === 1;
    },

    // ---- rooms ------------------------------------------------------------------------------
    async roomSettings(room) {
      const res = await query<{ visibility: string; topic: string; guests: boolean }>(
        `SELECT visibility, topic, guests FROM ${t.roomSettings} WHERE room = $1`,
        [room],
      );
      const r = res.rows[0];
      return r
        ? ({
            visibility: r.visibility as Visibility,
            topic: r.topic,
            guests: r.guests,
          } satisfies RoomSettings)
        : null;
    },
    async putRoomSettings(room, settings) {
      await query(
        `INSERT INTO ${t.roomSettings} (room, visibility, topic, guests) VALUES ($1, $2, $3, $4)
         ON CONFLICT (room) DO UPDATE SET visibility = EXCLUDED.visibility,
           topic = EXCLUDED.topic, guests = EXCLUDED.guests`,
        [room, settings.visibility, settings.topic, settings.guests],
      );
    },
    async roomRole(room, userId) {
      const res = await query<{ role: string }>(
        `SELECT role FROM ${t.roomRoles} WHERE room = $1 AND user_id = $2`,
        [room, userId],
      );
      return (res.rows[0]?.role as RoomRole | undefined) ?? null;
    },
    async standingOf(room, userId) {
      const res = await query<{ role: string | null; ban: string | null; mute: string | null }>(
        `SELECT (SELECT role FROM ${t.roomRoles} WHERE room = $1 AND user_id = $2) AS role,
                (SELECT until FROM ${t.sanctions} WHERE room = $1 AND user_id = $2 AND kind = 'ban') AS ban,
                (SELECT until FROM ${t.sanctions} WHERE room = $1 AND user_id = $2 AND kind = 'mute') AS mute`,
        [room, userId],
      );
      const r = res.rows[0];
      const at = (v: string | null | undefined) =>
        v === null || v === undefined ? null : Number(v);
      return {
        role: (r?.role as RoomRole | null | undefined) ?? null,
        ban: at(r?.ban),
        mute: at(r?.mute),
      };
    },
    async setRoomRole(room, userId, role) {
      if (role === null) {
        await query(`DELETE FROM ${t.roomRoles} WHERE room = $1 AND user_id = $2`, [room, userId]);
        return;
      }
      await query(
        `INSERT INTO ${t.roomRoles} (room, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (room, user_id) DO UPDATE SET role = EXCLUDED.role`,
        [room, userId, role],
      );
    },
    async roomRoles(room) {
      const res = await query<{ user_id: string; role: string }>(
        `SELECT user_id, role FROM ${t.roomRoles} WHERE room = $1 ORDER BY user_id COLLATE "C"`,
        [room],
      );
      return res.rows.map((r) => ({ userId: r.user_id, role: r.role as RoomRole }));
    },
    async roomsOf(userId) {
      const res = await query<{ room: string }>(
        `SELECT room FROM ${t.roomRoles} WHERE user_id = $1 ORDER BY room COLLATE "C"`,
        [userId],
      );
      return res.rows.map((r) => r.room);
    },
    async privateRoomsOf(userId) {
      const res = await query<{ room: string }>(
        `SELECT r.room FROM ${t.roomRoles} r JOIN ${t.roomSettings} s ON s.room = r.room
          WHERE r.user_id = $1 AND s.visibility = 'private' ORDER BY r.room COLLATE "C"`,
        [userId],
      );
      return res.rows.map((r) => r.room);
    },
    async privateRooms() {
      const res = await query<{ room: string }>(
        `SELECT room FROM ${t.roomSettings} WHERE visibility = 'private' ORDER BY room COLLATE "C"`,
      );
      return res.rows.map((r) => r.room);
    },
    async sanction(room, userId, kind) {
      const res = await query<{ until: string }>(
        `SELECT until FROM ${t.sanctions} WHERE room = $1 AND user_id = $2 AND kind = $3`,
        [room, userId, kind],
      );
      const r = res.rows[0];
      return r ? Number(r.until) : null;
    },
    async setSanction(room, userId, kind, until, reason) {
      if (until === null) {
        await query(`DELETE FROM ${t.sanctions} WHERE room = $1 AND user_id = $2 AND kind = $3`, [
          room,
          userId,
          kind,
        ]);
        return;
      }
      await query(
        `INSERT INTO ${t.sanctions} (room, user_id, kind, until, reason) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (room, user_id, kind) DO UPDATE SET until = EXCLUDED.until,
           reason = EXCLUDED.reason`,
        [room, userId, kind, until, reason],
      );
    },

    // ---- the audit log ----------------------------------------------------------------------
    async audit(entry) {
      open();
      return inTransaction(async (client) => {
        // Nodes follow the log by seq: one number is taken and committed before the next is
        // taken, so no entry can appear behind a number a follower has already passed.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`parley:audit:${s}`]);
        const res = await client.query<{ seq: string }>(
          `INSERT INTO ${t.audit} (at, actor_id, action, target_id, room, reason)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
          [entry.at, entry.actorId, entry.action, entry.targetId, entry.room, entry.reason],
        );
        return Number(res.rows[0]?.seq);
      });
    },
    async auditAfter(after, limit) {
      const res = await query<AuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM ${t.audit} WHERE seq > $1 ORDER BY seq LIMIT $2`,
        [after, limit],
      );
      return res.rows.map(toAudit);
    },
    async auditBefore(before, limit) {
      const res = await query<AuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM ${t.audit}
          WHERE $1::bigint IS NULL OR seq < $1::bigint ORDER BY seq DESC LIMIT $2`,
        [before ?? null, limit],
      );
      return res.rows.map(toAudit);
    },
    async lastAuditSeq() {
      const res = await query<{ seq: string | null }>(`SELECT max(seq) AS seq FROM ${t.audit}`);
      return Number(res.rows[0]?.seq ?? 0);
    },
  };
}
