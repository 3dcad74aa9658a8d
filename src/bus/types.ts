// The bus rings the bell between nodes after a commit; the store stays the log. Delivery is at
// most once, so receivers detect gaps by sequence number and read the store to fill them.

// The events are the core's: the bus carries what the core asks it to.
import type { Bell } from '../core/ports.js';
import type { Static } from '@sinclair/typebox';
import type { ChatMessage } from '../protocol/index.js';
import type { DeleteBellSchema, EditBellSchema, ReactionBellSchema } from './schema.js';

export type BusEvent = Bell;

/** An event as it travels: a log entry goes as the payload its kind always had. */
export type WireBusEvent =
  | Exclude<Bell, { kind: 'entry' }>
  | { kind: 'msg'; node: string; message: ChatMessage; fromId?: string }
  | ChangeBell;

/** A change entry as it travels: its event's fields under the event's type as `kind`. */
export type ChangeBell =
  | Static<typeof EditBellSchema>
  | Static<typeof DeleteBellSchema>
  | Static<typeof ReactionBellSchema>;

export interface Bus {
  /** Other nodes can share it: only then does a node need to announce itself (the heartbeat). */
  readonly shared: boolean;
  /** Fire and forget; a lost event is recovered from the store by the receiver. */
  publish(event: BusEvent): void;
  /** Every event published by any node, this one included. */
  subscribe(handler: (event: BusEvent) => void): void;
  /**
   * Called after the bus was cut off and came back: events may have been missed, so the
   * receiver must resynchronise from the store.
   */
  onResync(handler: () => void): void;
  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
