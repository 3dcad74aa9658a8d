// The bus rings the bell between nodes after a commit; the store stays the log. Delivery is at
// most once, so receivers detect gaps by sequence number and read the store to fill them.

import type { ChatMessage } from '../protocol/index.js';

export type BusEvent =
  | { kind: 'msg'; node: string; message: ChatMessage }
  | { kind: 'presence'; node: string; room: string; name: string; event: 'join' | 'leave' }
  | { kind: 'typing'; node: string; room: string; name: string };

export interface Bus {
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
