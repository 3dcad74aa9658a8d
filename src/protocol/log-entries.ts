// Entries of a room's log: made from what the store and the bus carry, and turned back into
// what the wire carries.

import type { LifecycleEvent } from './lifecycle-schema.js';
import { foldKey } from './rules.js';
import type { ChangeEntry, ChatMessage, LogEntry, MessageEntry } from './types.js';

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
    ...(m.replyTo !== undefined && { replyTo: m.replyTo }),
    ...(m.edited !== undefined && { edited: m.edited }),
    ...(m.removed && { removed: true }),
    actor: foldKey(m.from),
    actorId,
  };
}

/** The message as the wire carries it: exactly its fields, none of the entry's. */
export function wireMessage(e: MessageEntry): ChatMessage {
  const m: ChatMessage = {
    room: e.room,
    seq: e.seq,
    from: e.from,
    ...(e.actorId !== null && { fromId: e.actorId }),
    text: e.text,
    ts: e.ts,
    cid: e.cid,
    me: e.me,
  };
  if (e.replyTo !== undefined) m.replyTo = e.replyTo;
  if (e.edited !== undefined) m.edited = e.edited;
  if (e.removed) m.removed = true;
  if (e.reactions !== undefined) m.reactions = e.reactions;
  return m;
}

/** The message an entry shows a reader, or undefined for an entry that is not one. */
export function entryMessage(e: LogEntry): ChatMessage | undefined {
  switch (e.kind) {
    case 'message':
      return wireMessage(e);
    case 'edit':
    case 'delete':
    case 'reaction':
      return undefined;
    default:
      return unknownEntry(e);
  }
}

/** The event of an entry that changes a message, under the reader's label of the room. */
export function changeEvent(e: ChangeEntry, room: string): LifecycleEvent {
  const base = { room, seq: e.seq, cid: e.cid, from: e.from, ts: e.ts, target: e.target };
  switch (e.kind) {
    case 'edit':
      return { type: 'edit', ...base, text: e.text };
    case 'delete':
      return { type: 'delete', ...base };
    case 'reaction':
      return { type: 'reaction', ...base, emoji: e.emoji, on: e.on };
    default:
      return unknownEntry(e);
  }
}

/** The entry of a change event (from the bus), with its actor's user id. */
export function changeEntry(ev: LifecycleEvent, actorId: string | null): ChangeEntry {
  const base = {
    room: ev.room,
    seq: ev.seq,
    cid: ev.cid,
    from: ev.from,
    ts: ev.ts,
    target: ev.target,
    actor: foldKey(ev.from),
    actorId,
  };
  switch (ev.type) {
    case 'edit':
      return { kind: 'edit', ...base, text: ev.text };
    case 'delete':
      return { kind: 'delete', ...base };
    case 'reaction':
      return { kind: 'reaction', ...base, emoji: ev.emoji, on: ev.on };
    default:
      return unknownEntry(ev);
  }
}

/** The end of an exhaustive switch on an entry's kind: a kind left out fails to compile. */
export function unknownEntry(kind: never): never {
  throw new Error(`unknown log entry kind: ${String(kind)}`);
}
