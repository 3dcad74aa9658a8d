// What an edit, a removal or a reaction does to the message it acts on, decided inside the
// store's transaction from the message as it stands then: every store applies these same rules,
// so a refusal never depends on which store, node or batch a request went through.

import { REACTIONS_MAX, type ErrorCode } from '../protocol/index.js';
import type { ChangeDraft } from '../core/ports.js';

/** A message as the rules need it. */
export interface Target {
  senderId: string | null;
  ts: number;
  removed: boolean;
  /** Emoji to the user ids that put it, in the order first made. */
  reactions: Map<string, Set<string>>;
}

/** The change to make, or the refusal (nothing is then written). */
export type Verdict =
  | { refused: ErrorCode }
  | { kind: 'edit'; text: string }
  | { kind: 'delete' }
  | { kind: 'reaction'; emoji: string; on: boolean };

/** Judges a change against its target (undefined: there is no such message). */
export function judge(d: ChangeDraft, t: Target | undefined): Verdict {
  if (!t) return { refused: 'NO_SUCH_MESSAGE' };
  if (t.removed) return { refused: 'MESSAGE_REMOVED' };
  const own = t.senderId !== null && t.senderId === d.fromId;
  switch (d.kind) {
    case 'edit':
      if (!own) return { refused: 'NOT_YOUR_MESSAGE' };
      if (d.editableSince !== null && t.ts < d.editableSince) {
        return { refused: 'EDIT_WINDOW_PASSED' };
      }
      return { kind: 'edit', text: d.text };
    case 'delete':
      return own || d.anyone ? { kind: 'delete' } : { refused: 'NOT_YOUR_MESSAGE' };
    case 'reaction': {
      const by = t.reactions.get(d.emoji);
      if (by?.has(d.fromId)) return { kind: 'reaction', emoji: d.emoji, on: false };
      if (!by && t.reactions.size >= REACTIONS_MAX) return { refused: 'TOO_MANY_REACTIONS' };
      return { kind: 'reaction', emoji: d.emoji, on: true };
    }
  }
}

/** Applies a verdict to the in-memory target, for the next draft of the same batch. */
export function applyVerdict(t: Target, v: Verdict, userId: string): void {
  if ('refused' in v) return;
  switch (v.kind) {
    case 'edit':
      return;
    case 'delete':
      t.removed = true;
      t.reactions.clear();
      return;
    case 'reaction': {
      const by = t.reactions.get(v.emoji) ?? new Set<string>();
      if (v.on) by.add(userId);
      else by.delete(userId);
      if (by.size === 0) t.reactions.delete(v.emoji);
      else t.reactions.set(v.emoji, by);
      return;
    }
  }
}

/** A draft is a change (an edit, a removal or a reaction), not a message. */
export function isChange(d: { kind?: string }): d is ChangeDraft {
  return d.kind !== undefined && d.kind !== 'message';
}
