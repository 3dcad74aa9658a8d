// The message log. Every adapter passes test/store-contract.ts; the server picks one by URL.
// The operations are the core's Log port; a store adds what running it needs.

import type { Directory } from '../core/directory.js';
import type { Log, Markers } from '../core/ports.js';

export type {
  ChangeDraft,
  ChangeOutcome,
  Committed,
  DirectRoom,
  Draft,
  Log,
  MarkerWrite,
  Markers,
  MessageDraft,
  Outcome,
} from '../core/ports.js';

export interface MessageStore extends Log, Directory, Markers {
  /** A line for the start-up log: the engine and its durability setting. */
  readonly description: string;
  /**
   * A random secret made when the store was first opened and kept in it, so that every node of
   * a cluster has the same one. Guest names are derived with it.
   */
  readonly instanceSecret: string;
  /** SQLite: checkpoints of the WAL done and failed so far, for metrics. */
  checkpoints?(): CheckpointCounts;
  /** Cheap round trip for readiness checks; it fails while the store cannot commit. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface CheckpointCounts {
  ok: number;
  failed: number;
}
