// Wire types of the JSON protocol (WebSocket subprotocol `parley.v1`), shared by server and browser.
// Every client request may carry an `id`; the reply to it (`result`, `ack` or `error`) echoes it.

import type { AccessEvent, AccessRequest, AccessResult } from './access-schema.js';
import type { SearchRequest, SearchResultEvent } from './search-schema.js';
import type { ReadEvent, ReadRequest, ReadResult, ReadState, RoomRead } from './read-schema.js';
import type { ErrorCode } from './errors.js';
import type { LifecycleEvent, LifecycleRequest, ReactionSummary } from './lifecycle-schema.js';

export const SUBPROTOCOL = 'parley.v1';
export const WELCOME_TEXT = 'Welcome to the chat!!!';
export const LOBBY = 'lobby';

/** A room message as stored and delivered. `seq` is 1, 2, 3, ... per room. */
export interface ChatMessage {
  room: string;
  seq: number;
  /** Display name of the sender at the time of sending. */
  from: string;
  /** The sender's user id, which no rename changes; absent on a message stored before ids. */
  fromId?: string;
  text: string;
  /** Milliseconds since the epoch, set by the server at commit. */
  ts: number;
  /** The sender's client message id (idempotency key). */
  cid: string;
  /** An action (`/me waves`) rather than a plain line. */
  me: boolean;
  /** The message this one answers (a seq of the same room). */
  replyTo?: number;
  /** When it was last edited (then `text` is the edited text). */
  edited?: number;
  /** Removed: `text` is empty, the message a placeholder. */
  removed?: boolean;
  /** Reactions, in the order they were first made (history and changes only). */
  reactions?: ReactionSummary[];
}

// ---- the room log ---------------------------------------------------------------------------

/** What every entry of a room's log has, whatever its kind. */
export interface LogEntryBase {
  room: string;
  /** 1, 2, 3, ... per room, over entries of every kind. */
  seq: number;
  /** The client id of the request that made the entry (idempotency key). */
  cid: string;
  /** Who made it: the name key of the sender (its display name, folded as names are). */
  actor: string;
  /** The actor's stable user id, once names have one; null until then. */
  actorId: string | null;
  /** The entry's time: milliseconds since the epoch, set by the server at commit. */
  ts: number;
}

/** A message posted in a room: what a `msg` event carries, and who posted it. */
export interface MessageEntry extends LogEntryBase, ChatMessage {
  kind: 'message';
}

/** What the entries that act on a message have: the message, and the actor's display name. */
interface ChangeEntryBase extends LogEntryBase {
  /** The seq of the message acted on. */
  target: number;
  /** The actor's display name at the time. */
  from: string;
}

/** Message `target` now reads `text`. */
export interface EditEntry extends ChangeEntryBase {
  kind: 'edit';
  /** Empty once the message is removed: a removal purges its edits' text too. */
  text: string;
}

/** Message `target` was removed. */
export interface DeleteEntry extends ChangeEntryBase {
  kind: 'delete';
}

/** The actor put (`on`) or took back their reaction `emoji` on message `target`. */
export interface ReactionEntry extends ChangeEntryBase {
  kind: 'reaction';
  emoji: string;
  on: boolean;
}

/** An entry that changes a message rather than posting one. */
export type ChangeEntry = EditEntry | DeleteEntry | ReactionEntry;

/**
 * Everything a room's log holds, by `kind`. Every layer switches on it exhaustively (ending in
 * `unknownEntry`), so a new kind does not compile until each one handles it.
 */
export type LogEntry = MessageEntry | ChangeEntry;

// ---- client → server ------------------------------------------------------------------------

/** Take a name. A name once taken is reserved to its token; the same token reclaims it. */
export interface HelloRequest {
  type: 'hello';
  id?: string;
  name?: string;
  token?: string;
}
/** Join a room (created on first join). With `since`, replay what came after that sequence. */
export interface JoinRequest {
  type: 'join';
  id?: string;
  room: string;
  since?: number;
}
/** Leave a room. */
export interface PartRequest {
  type: 'part';
  id?: string;
  room: string;
}
/** Send a line to a room, or to a direct conversation with `room: "@name"`. */
export interface SendRequest {
  type: 'send';
  id?: string;
  room: string;
  cid: string;
  text: string;
  me?: boolean;
  /** The seq of the message (in the same room) this one answers. */
  replyTo?: number;
}
/** Page history backwards: messages with seq < before (newest last), at most `limit`. */
export interface HistoryRequest {
  type: 'history';
  id?: string;
  room: string;
  before?: number;
  limit?: number;
}
/** List rooms with member counts, a page at a time in name order: the rooms after `after`. */
export interface RoomsRequest {
  type: 'rooms';
  id?: string;
  after?: string;
  /** At most this many (100 when absent, 500 at most). */
  limit?: number;
}
/** List a room's members. */
export interface WhoRequest {
  type: 'who';
  id?: string;
  room: string;
  /** The names after this one (the last of the previous answer). */
  after?: string;
}
/** Say that the user is typing in a room (the client throttles; the server expires it). */
export interface TypingRequest {
  type: 'typing';
  id?: string;
  room: string;
}

/**
 * Ask for a reply and nothing else: a browser cannot send WebSocket pings, so the page checks
 * that a quiet connection still answers this way.
 */
export interface PingRequest {
  type: 'ping';
  id?: string;
}

export type ClientRequest =
  | HelloRequest
  | JoinRequest
  | PartRequest
  | SendRequest
  | HistoryRequest
  | RoomsRequest
  | WhoRequest
  | TypingRequest
  | PingRequest
  | AccessRequest
  | LifecycleRequest
  | SearchRequest
  | ReadRequest;

export type RequestType = ClientRequest['type'];

// ---- server → client ------------------------------------------------------------------------

export interface RoomInfo {
  room: string;
  members: number;
}

/** First frame on every connection. */
export interface WelcomeEvent {
  type: 'welcome';
  text: string;
  name: string;
  limits: WelcomeLimits;
}
/** The limits a client should keep to on this connection. */
export interface WelcomeLimits {
  /** Largest frame the server reads; a bigger one closes the connection with 1009. */
  maxMessageBytes: number;
  /** Largest message text, in UTF-8 bytes. */
  maxTextBytes: number;
  /** Messages replayed on resume before a gap marker. */
  historyBound: number;
  /** Requests of every kind per second on one connection, refilled steadily... */
  ratePerSecond: number;
  /** ...with this many allowed at once; past them requests get RATE_LIMITED. */
  rateBurst: number;
  /** How long after sending a message may be edited, in ms (`--edit-window`); 0: always. */
  editWindowMs: number;
}
/** Reply to hello. `token` is the secret that reclaims the name; keep it. */
export interface HelloResult {
  type: 'result';
  id?: string;
  of: 'hello';
  name: string;
  token: string;
  /** The person's user id, which no rename changes: a message's `fromId` when it is theirs. */
  userId: string;
  /** Direct conversations this name has, as `@peer` rooms. */
  direct: string[];
  /** Signed in: the person's server role. */
  role?: 'owner' | 'admin' | 'moderator' | 'member';
  /** Signed in: the rooms the person has a part in (owner, moderator, invited). */
  rooms?: string[];
  /** The direct conversations with something unread after the person's marker. */
  read?: RoomRead[];
}
export interface JoinResult {
  type: 'result';
  id?: string;
  of: 'join';
  room: string;
  lastSeq: number;
  /** The first MEMBERS_LISTED members in name order; `who` with `after` pages on. */
  members: string[];
  /** How many are present. */
  memberCount: number;
  /** The person's read marker here and what is unread after it (a person who said hello). */
  read?: ReadState;
}
export interface PartResult {
  type: 'result';
  id?: string;
  of: 'part';
  room: string;
}
export interface HistoryResult {
  type: 'result';
  id?: string;
  of: 'history';
  room: string;
  messages: ChatMessage[];
  /** True when older messages exist before the first one returned. */
  more: boolean;
}
/** The current state of the messages changed since an entry seq (`changes`). */
export interface ChangesResult {
  type: 'result';
  id?: string;
  of: 'changes';
  room: string;
  messages: ChatMessage[];
  /** Changes up to this entry seq are in; with `more`, ask again with it as `since`. */
  upTo: number;
  more: boolean;
}
export interface RoomsResult {
  type: 'result';
  id?: string;
  of: 'rooms';
  rooms: RoomInfo[];
  /** When more rooms follow: the `after` that asks for the next page. */
  next?: string;
  /** How many rooms follow this page. */
  remaining: number;
}
export interface WhoResult {
  type: 'result';
  id?: string;
  of: 'who';
  room: string;
  /** At most MEMBERS_LISTED names in name order, after the request's `after`. */
  members: string[];
  memberCount: number;
}
export interface TypingResult {
  type: 'result';
  id?: string;
  of: 'typing';
  room: string;
}
export interface PingResult {
  type: 'result';
  id?: string;
  of: 'ping';
}
/** The send with this `cid` is committed as `seq`. A resend of the same cid gets the same ack. */
export interface AckEvent {
  type: 'ack';
  id?: string;
  room: string;
  cid: string;
  seq: number;
  ts: number;
}
/** A message as it goes out, live or replayed: its reactions come as entries of their own. */
export interface MessageEvent extends Omit<ChatMessage, 'reactions'> {
  type: 'msg';
}
/**
 * Replay after a reconnect was cut at the bound: messages with `after` < seq < `before` were
 * not sent; page them with `history` if wanted. Live messages from `before` on follow.
 */
export interface GapEvent {
  type: 'gap';
  room: string;
  after: number;
  before: number;
}
export interface PresenceEvent {
  type: 'presence';
  room: string;
  name: string;
  event: 'join' | 'leave';
  /** Who else joined (or left) right after `name`, in order: notices held under load, as one. */
  others?: string[];
}
export interface RenameEvent {
  type: 'rename';
  room: string;
  from: string;
  to: string;
}
export interface TypingEvent {
  type: 'typing';
  room: string;
  name: string;
  /** How long the indicator stays on unless renewed. */
  ttlMs: number;
}
export interface ErrorEvent {
  type: 'error';
  id?: string;
  code: ErrorCode;
  message: string;
}

export type RequestResult =
  | HelloResult
  | JoinResult
  | PartResult
  | HistoryResult
  | RoomsResult
  | WhoResult
  | TypingResult
  | PingResult
  | ChangesResult
  | AccessResult
  | SearchResultEvent
  | ReadResult;

export type ServerEvent =
  | WelcomeEvent
  | RequestResult
  | AckEvent
  | MessageEvent
  | GapEvent
  | PresenceEvent
  | RenameEvent
  | TypingEvent
  | ErrorEvent
  | AccessEvent
  | LifecycleEvent
  | ReadEvent;
