// The wire shapes of read markers: each person's last-read position per room, kept by the server
// and told to that person's own sessions only. A marker is the seq of the last log entry read;
// it only moves forward. Their types are the schemas' static types, so the two cannot part.

import type { Static } from '@sinclair/typebox';
import { Type } from './typebox.js';
import { Count, Str, request, result } from './shapes.js';

/**
 * A person's marker in a room and what is unread after it: the messages of others (not removed)
 * with seq > `seq` up to the entry `upTo`, and how many of those mention the person (every one,
 * in a direct conversation). With `more`, the server stopped counting at its bound: there are at
 * least these many.
 */
export const ReadStateSchema = Type.Object({
  seq: Count,
  unread: Count,
  mentions: Count,
  upTo: Count,
  more: Type.Optional(Type.Boolean()),
});
export type ReadState = Static<typeof ReadStateSchema>;

/** A read state with the room it is of, as the reader calls it. */
export const RoomReadSchema = Type.Object({ room: Str, ...ReadStateSchema.properties });
export type RoomRead = Static<typeof RoomReadSchema>;

export const READ_REQUEST_SCHEMAS = {
  /**
   * Everything up to entry `seq` of the room is read. The marker only moves forward; a seq past
   * the room's last entry is taken as its last.
   */
  read: request('read', { room: Str, seq: Count }),
};

export const READ_RESULT_SCHEMAS = {
  /** The marker as it is now (not lower than asked, unless past the room's end). */
  read: result('read', { room: Str, seq: Count }),
};

export const READ_EVENT_SCHEMAS = {
  /** Another session of yours moved your marker in `room`: what is unread now. */
  read: Type.Object({ type: Type.Literal('read'), ...RoomReadSchema.properties }),
};

export type ReadRequest = Static<typeof READ_REQUEST_SCHEMAS.read>;
export type ReadResult = Static<typeof READ_RESULT_SCHEMAS.read>;
export type ReadEvent = Static<typeof READ_EVENT_SCHEMAS.read>;
