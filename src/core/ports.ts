// What the core needs from the world, injected so that it stays free of I/O and timers.

import type { ChatMessage, ErrorCode, LogEntry, ReactionSummary } from '../protocol/index.js';
import type { Directory } from './directory.js';

export interface Clock {
  /** Wall-clock milliseconds since the epoch (message timestamps). */
  now(): number;
  /** Monotonic milliseconds with sub-millisecond precision (durations). */
  monotonic(): number;
}

/** What the core reports; the server turns it into metrics. */
export interface Telemetry {
  /** A send request arrived. */
  messageIn(): void;
  /** A group commit of `count` messages took `ms`. */
  committed(count: number, ms: number): void;
  /** One committed message went to `deliveries` local connections in `ms`. */
  fannedOut(deliveries: number, ms: number): void;
  /** Messages sent from the store to catch a connection up. */
  replayed(count: number): void;
  /** A request was refused with this error code. */
  refused(code: string): void;
}

/** A frame encoded once and written to many connections. */
export interface Frame {
  readonly text: string;
  readonly bytes: Uint8Array;
}

/** A connection as the core sees it. */
export interface Peer {
  readonly codec: 'json' | 'text';
  /** The client's address: for logs, and the key its limits are kept under. */
  readonly address: string;
  send(frame: Frame): void;
  close(code: number, reason: string): void;
}

/** A send to be committed: the log assigns `seq` and `ts`. */
export interface MessageDraft {
  kind?: 'message';
  room: string;
  cid: string;
  from: string;
  /** The sender's user id, stored with the message. */
  fromId: string;
  text: string;
  me: boolean;
  /** For a direct conversation, the two participants' user ids; else undefined. */
  direct?: [string, string];
  /** The message (same room) this one answers; the core has checked that it exists. */
  replyTo?: number;
}

interface ChangeDraftBase {
  room: string;
  cid: string;
  /** The actor's display name and user id. */
  from: string;
  fromId: string;
  /** The seq of the message acted on. */
  target: number;
}

/** Replace the text of one's own message; one sent before `editableSince` is past editing. */
export interface EditDraft extends ChangeDraftBase {
  kind: 'edit';
  text: string;
  editableSince: number | null;
}

/** Remove a message; `anyone` when the actor may remove others' (a moderator). */
export interface DeleteDraft extends ChangeDraftBase {
  kind: 'delete';
  anyone: boolean;
}

/** Toggle the actor's reaction: the log decides, in the transaction, whether it is put or taken. */
export interface ReactionDraft extends ChangeDraftBase {
  kind: 'reaction';
  emoji: string;
}

export type ChangeDraft = EditDraft | DeleteDraft | ReactionDraft;
export type Draft = MessageDraft | ChangeDraft;

/** The committed message, and whether it was already there (a resend of the same cid). */
export interface Committed {
  message: ChatMessage;
  duplicate: boolean;
  /** The stored sender's user id (null for a message stored before senders had ids). */
  actorId: string | null;
}

/**
 * A committed change (or the entry first committed with its cid), with the user id of the
 * author of the message it acted on; or why it was refused, nothing written.
 */
export type ChangeOutcome =
  { entry: LogEntry; duplicate: boolean; authorId: string | null } | { refused: ErrorCode };

/** What append gives for each draft: a message draft always commits. */
export type Outcome<D extends Draft> = D extends ChangeDraft ? ChangeOutcome : Committed;

/** A message as it stands now, for the checks before a reply, an edit or a removal. */
export interface MessageState {
  message: ChatMessage;
  senderId: string | null;
}

export interface DirectRoom {
  room: string;
  peer: string;
  peerKey: string | null;
}

/** A search as a store runs it: the core has made the terms and chosen the rooms. */
export interface SearchQuery {
  /** Folded terms (search-terms.ts): a message matches when its text holds every one. */
  terms: string[];
  /** The rooms to look in: exactly those the reader may read. */
  rooms: string[];
  /** Results to skip (the pages before), and most results to return. */
  offset: number;
  limit: number;
}

/** A message a search found. */
export interface SearchHit {
  room: string;
  seq: number;
  from: string;
  text: string;
  ts: number;
  me: boolean;
}

/**
 * How far a search looks, so that its cost is bounded whatever it asks: with a term of
 * INDEXED_TERM_CHARS or more, the newest SEARCH_CANDIDATES matches in the rooms, best first;
 * with short terms only, the newest SEARCH_SCAN_PER_ROOM messages of each room, newest first.
 */
export const SEARCH_CANDIDATES = 2000;
export const SEARCH_SCAN_PER_ROOM = 1000;

/** The message log as the core uses it; every store implements it (src/store). */
export interface Log {
  /**
   * Commits the drafts in one transaction, in order, each getting the room's next sequence
   * number; a draft whose (room, cid) is already stored returns the stored message instead.
   * All or nothing: on error nothing is committed.
   */
  append<D extends Draft>(drafts: readonly D[], now: number): Promise<Outcome<D>[]>;
  /** Entries with seq > after, oldest first, at most limit. */
  after(room: string, after: number, limit: number): Promise<LogEntry[]>;
  /** Entries with seq < before, at most limit, returned oldest first. */
  before(room: string, before: number, limit: number): Promise<LogEntry[]>;
  /**
   * Messages (with text) of the query's rooms that hold every term, ranked, within the bounds
   * above; `more` when a later page has some.
   */
  search(q: SearchQuery): Promise<{ hits: SearchHit[]; more: boolean }>;
  /** The room's last sequence number, 0 when it has none. */
  lastSeq(room: string): Promise<number>;
  /** Message `seq` of the room as it stands now, or null when that seq is no message. */
  message(room: string, seq: number): Promise<MessageState | null>;
  /**
   * The current state (reactions included) of the messages with seq < before that change
   * entries after `since` acted on, looking through at most `scan` change entries. Changes up to
   * entry `upTo` are in; with `more`, ask again from there.
   */
  changed(
    room: string,
    since: number,
    before: number,
    scan: number,
  ): Promise<{ messages: ChatMessage[]; upTo: number; more: boolean }>;
  /** The reactions of these messages, by seq, each in the order first made. */
  reactions(room: string, seqs: readonly number[]): Promise<Map<number, ReactionSummary[]>>;
  /**
   * Rooms that have messages, with their last sequence numbers and the time of their last
   * message (direct ones left out).
   */
  rooms(): Promise<{ room: string; lastSeq: number; lastTs: number }[]>;
  /**
   * The direct conversations this user id takes part in, each with the other participant's id
   * and that person's latest name key (null when the other has none: never for a stored one).
   */
  directRooms(userId: string): Promise<DirectRoom[]>;
  /** The stored direct room of two user ids (in either order), or null when they have none. */
  directRoom(a: string, b: string): Promise<string | null>;
  /** The two participants' user ids of a stored direct room, or null for any other room. */
  directPair(room: string): Promise<[string, string] | null>;
  /**
   * Reserves a name key to a token hash. Returns 'claimed' when newly reserved, 'owned' when
   * already reserved to that hash, 'reserved' when reserved to another, 'confusable' when the key
   * is free but a name with the same skeleton (one that looks the same) is another's.
   */
  claimName(
    key: string,
    skeleton: string,
    tokenHash: string,
    now: number,
  ): Promise<'claimed' | 'owned' | 'reserved' | 'confusable'>;
  /**
   * The user id of a reserved name key, or null when it is free. A name reserved anew gets the
   * id of the other names its token holds (a rename), or a new one.
   */
  nameUser(key: string): Promise<string | null>;
  /** True when the name key is reserved to someone. */
  nameExists(key: string): Promise<boolean>;
  /** The token hash the name key is reserved to, or null when it is free. */
  nameHolder(key: string): Promise<string | null>;
}

/** A read marker to write: the person has read the room up to entry `seq`, as of `at`. */
export interface MarkerWrite {
  userId: string;
  room: string;
  seq: number;
  at: number;
}

/** Each person's read markers; every store keeps them beside the log (src/store). */
export interface Markers {
  /** The person's markers in those of `rooms` they have one in: the last entry seq read. */
  markers(userId: string, rooms: readonly string[]): Promise<Map<string, number>>;
  /** Writes the markers in one transaction; a stored marker never moves back. */
  saveMarkers(markers: readonly MarkerWrite[]): Promise<void>;
}

/** What a node reports of a room in its heartbeat. */
export interface NodeRoom {
  room: string;
  lastSeq: number;
  /**
   * The node's own members, as [key, display] pairs: absent when they have not changed since
   * the node last sent them, and sent in full every so often whatever changed.
   */
  members?: [string, string][];
}

/** Cross-node events; the in-process bus loops them back to this node, which ignores them. */
export type Bell =
  /** A committed log entry (the bus carries a message as a `msg` payload, as it always has). */
  | { kind: 'entry'; node: string; entry: LogEntry }
  | {
      kind: 'presence';
      node: string;
      room: string;
      key: string;
      name: string;
      event: 'join' | 'leave';
      /** In a direct room, the user the name is (the receiver checks it with the store). */
      userId?: string;
      /** Not announced (an address flapping in and out); nor will its leave be. */
      quiet?: true;
    }
  | { kind: 'typing'; node: string; room: string; key: string; name: string }
  /** A person's read marker moved: for their sessions on other nodes only. */
  | { kind: 'read'; node: string; userId: string; room: string; seq: number }
  /** Heartbeat: the node's presence and known sequence numbers, in full. */
  | { kind: 'node'; node: string; rooms: NodeRoom[] }
  /** The node is stopping: forget its members now. */
  | { kind: 'bye'; node: string };

export interface BellPort {
  publish(event: Bell): void;
}

export interface Limits {
  /** Messages replayed on resume before a gap marker. */
  historyBound: number;
  /** Most bytes of messages (as JSON) one history answer holds; at least one is always sent. */
  historyMaxBytes: number;
  /** Requests per second per connection (token bucket refill). */
  ratePerSecond: number;
  /** Bucket size: how many requests may come at once. */
  rateBurst: number;
  roomsPerConnection: number;
  /** How long a typing indicator lasts unless renewed. */
  typingTtlMs: number;
  maxMessageBytes: number;
  /** Name changes allowed per minute per connection. */
  renamesPerMinute: number;
  /** Rooms with more members than this stop announcing joins, leaves and renames, and relay
   * one typing notice a second. */
  presenceNoticeLimit: number;
  /** A node not heard from for this long is taken for dead and its members leave. */
  nodeTimeoutMs: number;
  /** Requests per second per client address, over all its connections. */
  addressRatePerSecond: number;
  addressRateBurst: number;
  /** Bytes of message text one address may send per hour. */
  addressBytesPerHour: number;
  /** Joins per minute per address (each pays for its leave too: presence goes to everyone). */
  addressJoinsPerMinute: number;
  /** Names taken anew, and name changes made in a room, per hour per address. */
  addressNamesPerHour: number;
  /** New rooms per hour per address, and for the whole instance. */
  addressRoomsPerHour: number;
  roomsPerHour: number;
  /** Searches per minute per address (each is a request too, and reads many rows). */
  addressSearchesPerMinute: number;
  /** Bytes of history pages per minute per address, over WebSocket and HTTP alike. */
  addressHistoryBytesPerMinute: number;
  /** An empty room with no message for this long leaves the room list (its history stays). */
  roomIdleMs: number;
  /** Most addresses whose buckets are remembered at once (least recently used go first). */
  addressTableSize: number;
  /** How long after sending a message may be edited; 0 for no limit. */
  editWindowMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  historyBound: 500,
  historyMaxBytes: 256 * 1024,
  ratePerSecond: 20,
  rateBurst: 40,
  roomsPerConnection: 50,
  typingTtlMs: 5000,
  maxMessageBytes: 64 * 1024,
  renamesPerMinute: 5,
  nodeTimeoutMs: 15_000,
  presenceNoticeLimit: 200,
  addressRatePerSecond: 30,
  addressRateBurst: 60,
  addressBytesPerHour: 2 * 1024 * 1024,
  addressJoinsPerMinute: 60,
  addressNamesPerHour: 30,
  addressRoomsPerHour: 10,
  roomsPerHour: 300,
  addressSearchesPerMinute: 30,
  addressHistoryBytesPerMinute: 4 * 1024 * 1024,
  roomIdleMs: 30 * 24 * 60 * 60 * 1000,
  addressTableSize: 50_000,
  editWindowMs: 0,
};

/** Password hashing, off the event loop: the server runs it on a bounded thread pool. */
export interface Passwords {
  /** A self-describing hash (PHC string) of the password. */
  hash(password: string): Promise<string>;
  /** Whether the password matches; a hash it cannot read is no match. */
  verify(hash: string, password: string): Promise<boolean>;
  /** Whether a stored hash was made with weaker parameters than today's. */
  needsRehash(hash: string): boolean;
}

/** Who may come in: the operator's settings. */
export interface AccessConfig {
  /** open: anyone may make an account; invite: with an invite link; closed: nobody new. */
  registration: 'open' | 'invite' | 'closed';
  /** on: guests talk in rooms open to them; off: none; open: also make rooms, all open to them. */
  guests: 'on' | 'off' | 'open';
  /** A session of an account with a password ends after this long unused. */
  sessionIdleMs: number;
}

export const DEFAULT_ACCESS: AccessConfig = {
  registration: 'open',
  guests: 'on',
  sessionIdleMs: 30 * 24 * 60 * 60 * 1000,
};

export interface CoreDeps {
  log: Log;
  /** The people and who may do what (the same store as the log). */
  dir: Directory;
  /** Read markers (the same store again). */
  markers: Markers;
  passwords: Passwords;
  access: AccessConfig;
  bus: BellPort;
  clock: Clock;
  /** Runs fn once the current event-loop turn's work is done (batching). */
  defer(fn: () => void): void;
  /**
   * The server is near saturation (its writes gather): notices of joins, leaves and renames
   * are then held and sent together (see Presence.flushDueNotices), not one write each at once.
   */
  overloaded?(): boolean;
  /** One-way hash of a name token (never stored in clear). */
  hashToken(token: string): string;
  /** A fresh secret token. */
  newToken(): string;
  /** A fresh random user id (`u_` and hex). */
  newUserId(): string;
  /** A short random suffix for the guest name of a connection that has not said hello. */
  randomSuffix(): string;
  /**
   * The guest name suffix of a token: keyed by a secret of this instance, so that no one can
   * find offline a token that gives someone else's guest name.
   */
  guestSuffix(token: string): string;
  nodeId: string;
  limits: Limits;
  telemetry: Telemetry;
  /** Reports unexpected errors (the server logs them). */
  onError(err: unknown, context: string): void;
}
