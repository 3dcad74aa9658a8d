// A row of the log table as a log entry, for both stores: each store reads its own column types
// into a StoredRow first.

import {
  foldKey,
  sentEntry,
  wireMessage,
  type ChatMessage,
  type LogEntry,
} from '../protocol/index.js';

export interface StoredRow {
  room: string;
  seq: number;
  cid: string;
  sender: string;
  body: string;
  me: boolean;
  ts: number;
  senderId: string | null;
  kind: string;
  target: number | null;
  emoji: string | null;
  reactionOn: boolean | null;
  replyTo: number | null;
  editedAt: number | null;
  removed: boolean;
}

/** The message a message row holds, in its current state (reactions aside). */
export function rowMessage(r: StoredRow): ChatMessage {
  const m: ChatMessage = {
    room: r.room,
    seq: r.seq,
    from: r.sender,
    text: r.body,
    ts: r.ts,
    cid: r.cid,
    me: r.me,
  };
  if (r.replyTo !== null) m.replyTo = r.replyTo;
  if (r.editedAt !== null) m.edited = r.editedAt;
  if (r.removed) m.removed = true;
  return m;
}

/** A stored message as a reader gets it (as wireMessage makes it: its sender's user id too). */
export function rowReaderMessage(r: StoredRow): ChatMessage {
  return wireMessage(sentEntry(rowMessage(r), r.senderId));
}

export function rowEntry(r: StoredRow): LogEntry {
  if (r.kind === 'message') return sentEntry(rowMessage(r), r.senderId);
  const base = {
    room: r.room,
    seq: r.seq,
    cid: r.cid,
    from: r.sender,
    ts: r.ts,
    target: r.target ?? 0,
    actor: foldKey(r.sender),
    actorId: r.senderId,
  };
  switch (r.kind) {
    case 'edit':
      return { kind: 'edit', ...base, text: r.body };
    case 'delete':
      return { kind: 'delete', ...base };
    case 'reaction':
      return { kind: 'reaction', ...base, emoji: r.emoji ?? '', on: r.reactionOn ?? false };
    default:
      throw new Error(`room ${r.room} seq ${r.seq}: unknown entry kind ${r.kind}`);
  }
}

/** Reactions rows (one per person and emoji, oldest first) summed up per message. */
export function summarize(
  rows: readonly { seq: number; emoji: string; name: string }[],
): Map<number, { emoji: string; count: number; by: string[] }[]> {
  const out = new Map<number, { emoji: string; count: number; by: string[] }[]>();
  for (const r of rows) {
    let list = out.get(r.seq);
    if (!list) out.set(r.seq, (list = []));
    let one = list.find((x) => x.emoji === r.emoji);
    if (!one) list.push((one = { emoji: r.emoji, count: 0, by: [] }));
    one.count++;
    one.by.push(r.name);
  }
  return out;
}
