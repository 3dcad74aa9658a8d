// Entries of a room's log: made from what the store and the bus carry, and turned back into
// what the wire carries.

import { foldKey } from './rules.js';
import type { ChatMessage, LogEntry, MessageEntry } from './types.js';

/** The entry of a message whose sender's user id is not known (one stored before ids). */
export function messageEntry(m: ChatMessage): MessageEntry {
  return sentEntry(m, null);
}

/** The entry of a stored or delivered message, with its sender's user id. */
export function sentEntry(m: ChatMessage, actorId: string | null): MessageEntry {
  return {
    kind: 'message',
    room: m.room,
    seq: m.seq,
    from: m.from,
    text: m.text,
    ts: m.ts,
    cid: m.cid,
    me: m.me,
    actor: foldKey(m.from),
    actorId,
  };
}

/** The message as the wire carries it: exactly its fields, none of the entry's. */
export function wireMessage(e: MessageEntry): ChatMessage {
  return { room: e.room, seq: e.seq, from: e.from, text: e.text, ts: e.ts, cid: e.cid, me: e.me };
}

/** The message an entry shows a reader, or undefined for an entry that is not one. */
export function entryMessage(e: LogEntry): ChatMessage | undefined {
  switch (e.kind) {
    case 'message':
      return wireMessage(e);
    default:
      return unknownEntry(e.kind);
  }
}

/** The end of an exhaustive switch on an entry's kind: a kind left out fails to compile. */
export function unknownEntry(kind: never): never {
  throw new Error(`unknown log entry kind: ${String(kind)}`);
}
