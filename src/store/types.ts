// The message log. Every adapter passes test/store-contract.ts; the server picks one by URL.

import type { ChatMessage } from '../protocol/index.js';

/** A send to be committed: the store assigns `seq` and `ts`. */
export interface Draft {
  room: string;
  cid: string;
  from: string;
  text: string;
  me: boolean;
  /** For a direct conversation, the two participants' name keys; else undefined. */
  direct?: [string, string];
}

/** The committed message, and whether it was already there (a resend of the same cid). */
export interface Committed {
  message: ChatMessage;
  duplicate: boolean;
}

export interface MessageStore {
  /** A line for the start-up log: the engine and its durability setting. */
  readonly description: string;
  /**
   * Commits the drafts in one transaction, in order, each getting the room's next sequence
   * number; a draft whose (room, cid) is already stored returns the stored message instead.
   * All or nothing: on error nothing is committed.
   */
  append(drafts: readonly Draft[], now: number): Promise<Committed[]>;
  /** Messages with seq > after, oldest first, at most limit. */
  after(room: string, after: number, limit: number): Promise<ChatMessage[]>;
  /** Messages with seq < before, at most limit, returned oldest first. */
  before(room: string, before: number, limit: number): Promise<ChatMessage[]>;
  /** The room's last sequence number, 0 when it has none. */
  lastSeq(room: string): Promise<number>;
  /** Rooms that have messages, with their last sequence numbers (direct ones left out). */
  rooms(): Promise<{ room: string; lastSeq: number }[]>;
  /** Direct conversation rooms that this name key takes part in. */
  directRooms(key: string): Promise<string[]>;
  /**
   * Reserves a name key to a token hash. Returns 'claimed' when newly reserved, 'owned' when
   * already reserved to that hash, 'reserved' when reserved to another.
   */
  claimName(key: string, tokenHash: string, now: number): Promise<'claimed' | 'owned' | 'reserved'>;
  /** True when the name key is reserved to someone. */
  nameExists(key: string): Promise<boolean>;
  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
