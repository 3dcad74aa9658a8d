// The directory's rows as both stores read them, and the records the core gets. PostgreSQL
// returns BIGINT columns as strings, SQLite as numbers; times in ms stay far below 2^53, so
// Number() is exact either way.

import type {
  AuditEntry,
  ServerRole,
  SessionRecord,
  TicketKind,
  TicketRecord,
  UserRecord,
} from '../core/directory.js';

type Int = number | string;

export interface UserRow {
  id: string;
  key: string;
  display: string;
  password: string | null;
  role: string;
  banned_until: Int | null;
  ban_reason: string | null;
  created_at: Int;
}

export interface SessionRow {
  token_hash: string;
  user_id: string;
  created_at: Int;
  last_seen: Int;
  label: string;
}

export interface TicketRow {
  hash: string;
  kind: string;
  user_id: string | null;
  uses: number;
  expires_at: Int;
  created_by: string | null;
  created_at: Int;
}

export interface AuditRow {
  seq: Int;
  at: Int;
  actor_id: string | null;
  action: string;
  target_id: string | null;
  room: string | null;
  reason: string;
}

/** The length of the short id a session is shown by: a prefix of its token's hash. */
export const SESSION_ID_LENGTH = 12;

const orNull = (v: Int | null) => (v === null ? null : Number(v));

export function toUser(r: UserRow): UserRecord {
  return {
    id: r.id,
    key: r.key,
    display: r.display,
    role: r.role as ServerRole,
    hasPassword: r.password !== null,
    bannedUntil: orNull(r.banned_until),
    banReason: r.ban_reason,
    created: Number(r.created_at),
  };
}

export function toSession(r: SessionRow): SessionRecord {
  return {
    id: r.token_hash.slice(0, SESSION_ID_LENGTH),
    userId: r.user_id,
    created: Number(r.created_at),
    lastSeen: Number(r.last_seen),
    label: r.label,
  };
}

export function toTicket(r: TicketRow): TicketRecord {
  return {
    kind: r.kind as TicketKind,
    userId: r.user_id,
    uses: r.uses,
    expires: Number(r.expires_at),
    createdBy: r.created_by,
    created: Number(r.created_at),
  };
}

export function toAudit(r: AuditRow): AuditEntry {
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    actorId: r.actor_id,
    action: r.action,
    targetId: r.target_id,
    room: r.room,
    reason: r.reason,
  };
}
