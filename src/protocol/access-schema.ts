// The wire shapes of accounts, sessions, room settings and moderation: requests, their results
// and the events they cause. Their types are the schemas' static types, so the two cannot part.

import type { Static } from '@sinclair/typebox';
import { MODERATION_ACTIONS, type ModerationAction } from './moderation-actions.js';
import { RoomReadSchema } from './read-schema.js';
import { Type } from './typebox.js';
import { Count, Str, Time, request, result } from './shapes.js';

const ServerRoleSchema = Type.Union([
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('moderator'),
  Type.Literal('member'),
]);
const RoomRoleSchema = Type.Union([
  Type.Literal('owner'),
  Type.Literal('moderator'),
  Type.Literal('member'),
]);
const VisibilitySchema = Type.Union([Type.Literal('public'), Type.Literal('private')]);

export { MODERATION_ACTIONS, type ModerationAction };

// ---- requests -------------------------------------------------------------------------------

export const ACCESS_REQUEST_SCHEMAS = {
  /** Make an account with a password; `ticket` is an invite or the owner's setup link code. */
  register: request('register', {
    name: Str,
    password: Str,
    ticket: Type.Optional(Str),
  }),
  login: request('login', { name: Str, password: Str }),
  /** End this session, or with `everywhere` every session of the account. */
  logout: request('logout', { everywhere: Type.Optional(Type.Boolean()) }),
  /**
   * Set a password: logged in, with the current one (`old`) when there is one; or, logged out,
   * with a reset link's `ticket`, which also logs in.
   */
  password: request('password', {
    password: Str,
    old: Type.Optional(Str),
    ticket: Type.Optional(Str),
  }),
  /** The account's sessions. */
  sessions: request('sessions', {}),
  /** End one of the account's sessions by its id. */
  revoke: request('revoke', { session: Str }),
  /** A room's settings, its people with a role, and the asker's own role. */
  room: request('room', { room: Str }),
  /** Change a room's settings (each field optional). */
  settings: request('settings', {
    room: Str,
    topic: Type.Optional(Str),
    visibility: Type.Optional(VisibilitySchema),
    guests: Type.Optional(Type.Boolean()),
  }),
  /**
   * Act on a person in a room: invite, kick, ban, unban, mute, unmute, op, deop. Without `room`
   * (server moderators and up), ban and unban act on the whole instance. `duration` reads like
   * 30m, 2h or 7d; without one a ban or mute lasts until lifted.
   */
  moderate: request('moderate', {
    action: Type.Union(MODERATION_ACTIONS.map((a) => Type.Literal(a))),
    name: Str,
    room: Type.Optional(Str),
    duration: Type.Optional(Str),
    reason: Type.Optional(Str),
  }),
  /** Admins: the audit log, newest first, before `before`. */
  audit: request('audit', { before: Type.Optional(Count), limit: Type.Optional(Count) }),
  /** Admins: the accounts, in name order after `after`. */
  users: request('users', { after: Type.Optional(Str) }),
  /** Admins: set a person's server role. */
  role: request('role', { name: Str, role: ServerRoleSchema }),
  /** Admins: make an invite link to the instance. */
  invite: request('invite', { uses: Type.Optional(Count), days: Type.Optional(Count) }),
};

// ---- results --------------------------------------------------------------------------------

const SessionSchema = Type.Object({
  id: Str,
  label: Str,
  created: Time,
  lastSeen: Time,
  current: Type.Boolean(),
});

const AuditSchema = Type.Object({
  seq: Count,
  at: Time,
  actor: Type.Optional(Str),
  action: Str,
  target: Type.Optional(Str),
  room: Type.Optional(Str),
  reason: Str,
});

const UserSchema = Type.Object({
  name: Str,
  role: ServerRoleSchema,
  banned: Type.Boolean(),
  created: Time,
});

export const ACCESS_RESULT_SCHEMAS = {
  /** Logged in (register, login, a reset): the token is a secret for `hello`; keep it. */
  login: result('login', {
    name: Str,
    token: Str,
    /** The person's user id (see the hello result). */
    userId: Str,
    role: ServerRoleSchema,
    direct: Type.Array(Str),
    /** The rooms the person has a part in (owner, moderator, invited). */
    rooms: Type.Array(Str),
    /** Direct conversations with something unread (see read-schema.ts). */
    read: Type.Optional(Type.Array(RoomReadSchema)),
  }),
  logout: result('logout', { ended: Count }),
  password: result('password', {}),
  sessions: result('sessions', { sessions: Type.Array(SessionSchema) }),
  revoke: result('revoke', {}),
  room: result('room', {
    room: Str,
    topic: Str,
    visibility: VisibilitySchema,
    guests: Type.Boolean(),
    /** People with a role in the room, as [name, role]. */
    roles: Type.Array(Type.Tuple([Str, RoomRoleSchema])),
    /** The asker's own role in the room, if any. */
    you: Type.Optional(RoomRoleSchema),
  }),
  settings: result('settings', {
    room: Str,
    topic: Str,
    visibility: VisibilitySchema,
    guests: Type.Boolean(),
  }),
  moderate: result('moderate', { action: Str, name: Str }),
  audit: result('audit', { entries: Type.Array(AuditSchema), more: Type.Boolean() }),
  users: result('users', { users: Type.Array(UserSchema), next: Type.Optional(Str) }),
  role: result('role', { name: Str, role: ServerRoleSchema }),
  invite: result('invite', { code: Str, uses: Count, expires: Time }),
};

// ---- events ---------------------------------------------------------------------------------

export const ACCESS_EVENT_SCHEMAS = {
  /** A room's topic, visibility or guest setting changed. */
  topic: Type.Object({
    type: Type.Literal('topic'),
    room: Str,
    topic: Str,
    visibility: VisibilitySchema,
    guests: Type.Boolean(),
    by: Type.Optional(Str),
  }),
  /**
   * Something was done to this person: removed from a room (kicked or banned: the room is left
   * at once), muted or unmuted, given or taken a role, or the session ended (the connection then
   * closes).
   */
  notice: Type.Object({
    type: Type.Literal('notice'),
    what: Type.Union([
      Type.Literal('kicked'),
      Type.Literal('banned'),
      Type.Literal('muted'),
      Type.Literal('unmuted'),
      Type.Literal('role'),
      Type.Literal('invited'),
    ]),
    room: Type.Optional(Str),
    by: Type.Optional(Str),
    reason: Type.Optional(Str),
    until: Type.Optional(Time),
    role: Type.Optional(Str),
  }),
};

export type AccessRequest = {
  [K in keyof typeof ACCESS_REQUEST_SCHEMAS]: Static<(typeof ACCESS_REQUEST_SCHEMAS)[K]>;
}[keyof typeof ACCESS_REQUEST_SCHEMAS];
export type AccessResult = {
  [K in keyof typeof ACCESS_RESULT_SCHEMAS]: Static<(typeof ACCESS_RESULT_SCHEMAS)[K]>;
}[keyof typeof ACCESS_RESULT_SCHEMAS];
export type AccessEvent = {
  [K in keyof typeof ACCESS_EVENT_SCHEMAS]: Static<(typeof ACCESS_EVENT_SCHEMAS)[K]>;
}[keyof typeof ACCESS_EVENT_SCHEMAS];
export type NoticeEvent = Static<typeof ACCESS_EVENT_SCHEMAS.notice>;
export type TopicEvent = Static<typeof ACCESS_EVENT_SCHEMAS.topic>;
export type RoomResult = Static<typeof ACCESS_RESULT_SCHEMAS.room>;
