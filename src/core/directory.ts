// The directory: who the people of an instance are, how they prove it, and who may do what in
// which room. Every store implements it beside the message log (src/store); the core reads it
// through this port only.

/** A person's rank on the whole instance; a guest (not logged in) has none. */
export type ServerRole = 'owner' | 'admin' | 'moderator' | 'member';
/** A person's standing in one room. */
export type RoomRole = 'owner' | 'moderator' | 'member';
export type Visibility = 'public' | 'private';

export interface UserRecord {
  id: string;
  /** The name key the person goes by now. */
  key: string;
  display: string;
  role: ServerRole;
  hasPassword: boolean;
  /** A ban from the whole instance: until this time (ms), null for none, FOREVER for no end. */
  bannedUntil: number | null;
  banReason: string | null;
  created: number;
}

/** Ms since the epoch far enough away to mean "until lifted". */
export const FOREVER = 8_640_000_000_000_000;

export interface SessionRecord {
  /** A short id for the person to name the session by: never the token or its full hash. */
  id: string;
  userId: string;
  created: number;
  lastSeen: number;
  /** What the person logged in with, as they were told it (e.g. "Firefox on Linux", "text"). */
  label: string;
}

/** A one-time (or few-times) link: the owner's setup, an invite to the instance, a reset. */
export type TicketKind = 'setup' | 'invite' | 'reset';

export interface TicketRecord {
  kind: TicketKind;
  /** Only for a reset: whose password it sets. */
  userId: string | null;
  /** Uses left. */
  uses: number;
  expires: number;
  createdBy: string | null;
  created: number;
}

export interface RoomSettings {
  visibility: Visibility;
  topic: string;
  /** Whether guests may join and talk (a public room only). */
  guests: boolean;
}

/** A ban or a mute, in one room or (room '') on the whole instance. */
export type SanctionKind = 'ban' | 'mute';

/** A user's standing in a room as stored: sanctions until when (ms, FOREVER), or null. */
export interface StoredStanding {
  role: RoomRole | null;
  ban: number | null;
  mute: number | null;
}

export interface AuditEntry {
  /** Assigned by the store: every change to who may do what gets the next number. */
  seq: number;
  at: number;
  /** Who did it: a user id, or null for the operator's command line. */
  actorId: string | null;
  action: string;
  targetId: string | null;
  /** The room it was done in, or null for the whole instance. */
  room: string | null;
  reason: string;
}

export type NewAuditEntry = Omit<AuditEntry, 'seq'>;

export type Claim = 'claimed' | 'owned' | 'reserved' | 'confusable';

export interface Directory {
  // ---- people -------------------------------------------------------------------------------
  userById(id: string): Promise<UserRecord | null>;
  /** The user a name key is reserved to (a name they went by earlier counts too). */
  userByName(key: string): Promise<UserRecord | null>;
  /**
   * Makes a user with a first name, in one transaction: 'reserved' or 'confusable' (as for
   * claimName) when the name is not free, and then nothing is written.
   */
  createUser(user: {
    id: string;
    key: string;
    skeleton: string;
    display: string;
    passwordHash: string | null;
    role: ServerRole;
    now: number;
  }): Promise<Claim>;
  /**
   * Reserves a name key to a user, who from now on goes by it: 'claimed' when newly reserved,
   * 'owned' when already theirs, 'reserved' when another's, 'confusable' when free but one that
   * looks the same is another's.
   */
  claimUserName(
    key: string,
    skeleton: string,
    display: string,
    userId: string,
    now: number,
  ): Promise<Claim>;
  /** The stored password hash (a PHC string), or null when the person has set none. */
  passwordHash(userId: string): Promise<string | null>;
  setPasswordHash(userId: string, hash: string): Promise<void>;
  setRole(userId: string, role: ServerRole): Promise<void>;
  setServerBan(userId: string, until: number | null, reason: string | null): Promise<void>;
  /** Users in name order after the key `after`, at most `limit`. */
  users(after: string | undefined, limit: number): Promise<UserRecord[]>;
  /** True once someone holds the owner role. */
  hasOwner(): Promise<boolean>;

  // ---- sessions (tokens are kept only as hashes) --------------------------------------------
  addSession(tokenHash: string, userId: string, now: number, label: string): Promise<void>;
  /** The session of a token hash, or null when there is none (ended, or never made). */
  session(tokenHash: string): Promise<SessionRecord | null>;
  /** Records use; a store may skip the write when lastSeen is recent. */
  touchSession(tokenHash: string, now: number): Promise<void>;
  sessions(userId: string): Promise<SessionRecord[]>;
  /** Ends one session of the user by its short id; false when there is no such session. */
  endSession(userId: string, sessionId: string): Promise<boolean>;
  /** Ends every session of the user but the one of `keepHash`; returns how many ended. */
  endSessions(userId: string, keepHash?: string): Promise<number>;

  // ---- tickets (links) ----------------------------------------------------------------------
  addTicket(hash: string, ticket: TicketRecord): Promise<void>;
  /** Uses a ticket once when it is of that kind, unexpired and has uses left; else null. */
  useTicket(hash: string, kind: TicketKind, now: number): Promise<TicketRecord | null>;
  /** Gives back a use taken by useTicket, when what it was for failed. */
  returnTicket(hash: string): Promise<void>;
  tickets(kind: TicketKind, now: number): Promise<(TicketRecord & { hash: string })[]>;
  /** Makes a ticket unusable. */
  revokeTicket(hash: string): Promise<boolean>;

  // ---- rooms --------------------------------------------------------------------------------
  /** A room's settings, or null for a room that has none stored (older rooms: public). */
  roomSettings(room: string): Promise<RoomSettings | null>;
  putRoomSettings(room: string, settings: RoomSettings): Promise<void>;
  roomRole(room: string, userId: string): Promise<RoomRole | null>;
  /** The user's role, ban and mute in a room, in one read: what every check of a room needs. */
  standingOf(room: string, userId: string): Promise<StoredStanding>;
  setRoomRole(room: string, userId: string, role: RoomRole | null): Promise<void>;
  roomRoles(room: string): Promise<{ userId: string; role: RoomRole }[]>;
  /** Every room the user has a role in, in name order (a second device finds them again). */
  roomsOf(userId: string): Promise<string[]>;
  /** The private rooms the user has a role in (for the room list). */
  privateRoomsOf(userId: string): Promise<string[]>;
  /** Every private room (the room list leaves them out for everyone else). */
  privateRooms(): Promise<string[]>;
  /** Until when (ms, FOREVER) the user is under the sanction in the room ('' for the instance). */
  sanction(room: string, userId: string, kind: SanctionKind): Promise<number | null>;
  setSanction(
    room: string,
    userId: string,
    kind: SanctionKind,
    until: number | null,
    reason: string,
  ): Promise<void>;

  // ---- the audit log: also the feed every node follows to apply changes --------------------
  audit(entry: NewAuditEntry): Promise<number>;
  /** Entries with seq > after, oldest first. */
  auditAfter(after: number, limit: number): Promise<AuditEntry[]>;
  /** Entries with seq < before (all when undefined), newest first. */
  auditBefore(before: number | undefined, limit: number): Promise<AuditEntry[]>;
  lastAuditSeq(): Promise<number>;
}
