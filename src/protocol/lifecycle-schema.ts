// The wire shapes of a message's life after it is sent: edits, removals, reactions, and the
// changes a client asks for after a gap. Each edit, removal and reaction is an entry of the
// room's log, with its own sequence number; `target` is the message it acts on. Their types are
// the schemas' static types, so the two cannot part.

import type { Static } from '@sinclair/typebox';
import { Type } from './typebox.js';
import { Count, Str, Time, request } from './shapes.js';

/** Most distinct emoji on one message. */
export const REACTIONS_MAX = 20;

/** One emoji on a message: how many reacted with it, and who (display names). */
export const ReactionSummarySchema = Type.Object({
  emoji: Str,
  count: Count,
  by: Type.Array(Str),
});
export type ReactionSummary = Static<typeof ReactionSummarySchema>;

export const LIFECYCLE_REQUEST_SCHEMAS = {
  /** Replace the text of one's own message `seq`; acked as a send is. */
  edit: request('edit', { room: Str, cid: Str, seq: Count, text: Str }),
  /** Remove a message: one's own, or anyone's for the room's moderators. */
  delete: request('delete', { room: Str, cid: Str, seq: Count }),
  /** Put one's reaction `emoji` on message `seq`, or take it back when it is there. */
  react: request('react', { room: Str, cid: Str, seq: Count, emoji: Str }),
  /**
   * The current state of the messages (seq < before) that log entries after `since` changed:
   * for a client that came back past the replay bound and holds older messages.
   */
  changes: request('changes', {
    room: Str,
    since: Count,
    before: Type.Optional(Count),
  }),
};

/** What every lifecycle event has: the entry's own seq, and the message it acts on. */
const entryFields = {
  room: Str,
  seq: Count,
  cid: Str,
  from: Str,
  ts: Time,
  target: Count,
};

export const LIFECYCLE_EVENT_SCHEMAS = {
  /** Message `target` now reads `text`, edited at `ts`. */
  edit: Type.Object({ type: Type.Literal('edit'), ...entryFields, text: Str }),
  /** Message `target` was removed: its text is gone, a placeholder keeps its place. */
  delete: Type.Object({ type: Type.Literal('delete'), ...entryFields }),
  /** `from` put (`on`) or took back their reaction `emoji` on message `target`. */
  reaction: Type.Object({
    type: Type.Literal('reaction'),
    ...entryFields,
    emoji: Str,
    on: Type.Boolean(),
  }),
};

export type LifecycleRequest = {
  [K in keyof typeof LIFECYCLE_REQUEST_SCHEMAS]: Static<(typeof LIFECYCLE_REQUEST_SCHEMAS)[K]>;
}[keyof typeof LIFECYCLE_REQUEST_SCHEMAS];
export type LifecycleEvent = {
  [K in keyof typeof LIFECYCLE_EVENT_SCHEMAS]: Static<(typeof LIFECYCLE_EVENT_SCHEMAS)[K]>;
}[keyof typeof LIFECYCLE_EVENT_SCHEMAS];
export type EditEvent = Static<typeof LIFECYCLE_EVENT_SCHEMAS.edit>;
export type DeleteEvent = Static<typeof LIFECYCLE_EVENT_SCHEMAS.delete>;
export type ReactionEvent = Static<typeof LIFECYCLE_EVENT_SCHEMAS.reaction>;
