// The one policy: who may do what, in which room. Pure: the caller gathers what it needs (the
// person's server role, their standing in the room, the room's settings) and asks here. Every
// route (WebSocket, text mode, HTTP, replay, another node) goes through these functions.

import type { ErrorCode } from '../protocol/index.js';
import type { RoomRole, RoomSettings, ServerRole } from './directory.js';

/** A person as the policy sees them: a guest has no role. */
export interface Actor {
  role: ServerRole | null;
}

/** A room and the person's standing in it. */
export interface Standing {
  /** Null for a room nothing is stored of (new, or from before rooms had settings). */
  settings: RoomSettings | null;
  role: RoomRole | null;
  banned: boolean;
  muted: boolean;
}

export type RoomAction =
  'read' | 'send' | 'create' | 'topic' | 'visibility' | 'invite' | 'kick' | 'ban' | 'mute' | 'op';

const SERVER_RANK: Record<ServerRole, number> = { member: 1, moderator: 4, admin: 5, owner: 6 };
const ROOM_RANK: Record<RoomRole, number> = { member: 1, moderator: 2, owner: 3 };

/**
 * One number for how much say a person has in a room: server moderators and up outrank any
 * room's own owner, and a guest has none.
 */
export function power(actor: Actor, role: RoomRole | null): number {
  if (actor.role === null) return 0;
  return Math.max(SERVER_RANK[actor.role], role ? ROOM_RANK[role] : 1);
}

/** Settings of a room nothing is stored of: rooms from before settings were public to all. */
export const LEGACY_SETTINGS: RoomSettings = { visibility: 'public', topic: '', guests: true };

/** What a new room gets: public, and open to guests only where the creator says so. */
export const NEW_ROOM_SETTINGS: RoomSettings = { visibility: 'public', topic: '', guests: false };

/**
 * Whether the actor may see the room at all. A private room is, to anyone without a role in it
 * (and below server moderator), exactly a room that does not exist.
 */
export function canSee(actor: Actor, s: Standing): boolean {
  const settings = s.settings ?? LEGACY_SETTINGS;
  if (settings.visibility === 'public') return true;
  return s.role !== null || power(actor, null) >= SERVER_RANK.moderator;
}

/** The refusal for an action in a room, or null when it is allowed. */
export function refusal(action: RoomAction, actor: Actor, s: Standing): ErrorCode | null {
  const settings = s.settings ?? LEGACY_SETTINGS;
  const p = power(actor, s.role);
  if (action === 'create') return actor.role === null ? 'ACCOUNT_REQUIRED' : null;
  if (!canSee(actor, s)) return 'NO_SUCH_ROOM';
  if (s.banned && p < SERVER_RANK.moderator) return 'BANNED';
  switch (action) {
    case 'read':
      return actor.role === null && !settings.guests ? 'ACCOUNT_REQUIRED' : null;
    case 'send':
      if (actor.role === null && !settings.guests) return 'ACCOUNT_REQUIRED';
      return s.muted && p < ROOM_RANK.moderator ? 'MUTED' : null;
    case 'topic':
    case 'invite':
    case 'kick':
    case 'ban':
    case 'mute':
      return p >= ROOM_RANK.moderator ? null : 'FORBIDDEN';
    case 'visibility':
    case 'op':
      return p >= ROOM_RANK.owner ? null : 'FORBIDDEN';
  }
}

/** Whether one person may act on another (kick, ban, mute, op): only on someone below them. */
export function outranks(
  actor: Actor,
  actorRole: RoomRole | null,
  target: Actor,
  targetRole: RoomRole | null,
): boolean {
  return power(actor, actorRole) > power(target, targetRole);
}

/** Server-wide acts (ban from the server, see the audit log, set roles, make invites). */
export function serverRefusal(
  action: 'ban' | 'audit' | 'role' | 'invite' | 'users',
  actor: Actor,
): ErrorCode | null {
  const p = power(actor, null);
  const needed = action === 'ban' ? SERVER_RANK.moderator : SERVER_RANK.admin;
  return p >= needed ? null : 'FORBIDDEN';
}

/** Direct messages: between people with accounts only. */
export function directRefusal(actor: Actor): ErrorCode | null {
  return actor.role === null ? 'ACCOUNT_REQUIRED' : null;
}

/**
 * Whether the actor may remove anyone's message in the room (room moderators and up, server
 * moderators and up); everyone may remove their own.
 */
export function removesAnyone(actor: Actor, s: Standing): boolean {
  return canSee(actor, s) && power(actor, s.role) >= ROOM_RANK.moderator;
}
