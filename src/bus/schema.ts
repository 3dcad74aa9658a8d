// The bus payloads between nodes, defined once: the Redis bus checks what it receives against
// these, and docs/protocol.schema.json lists them. test/schema.test.ts fails to typecheck when
// they and the core's Bell part.

import { Type } from '../protocol/typebox.js';
import { ChatMessageSchema } from '../protocol/schema.js';

const Str = Type.String();
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const NodeRoomSchema = Type.Object({
  room: Str,
  lastSeq: Count,
  /** The node's own members, as [key, display] pairs; absent when unchanged since the last. */
  members: Type.Optional(Type.Array(Type.Tuple([Str, Str]))),
});

export const MsgBellSchema = Type.Object({
  kind: Type.Literal('msg'),
  node: Str,
  message: ChatMessageSchema,
  /** The sender's user id; a node of an earlier version sends none. */
  fromId: Type.Optional(Str),
});
export const PresenceBellSchema = Type.Object({
  kind: Type.Literal('presence'),
  node: Str,
  room: Str,
  key: Str,
  name: Str,
  event: Type.Union([Type.Literal('join'), Type.Literal('leave')]),
  /** In a direct room, the user the name is; a node of an earlier version sends none. */
  userId: Type.Optional(Str),
  /** The join was not announced (an address flapping in and out), nor will its leave be. */
  quiet: Type.Optional(Type.Literal(true)),
});
export const TypingBellSchema = Type.Object({
  kind: Type.Literal('typing'),
  node: Str,
  room: Str,
  key: Str,
  name: Str,
});
export const NodeBellSchema = Type.Object({
  kind: Type.Literal('node'),
  node: Str,
  rooms: Type.Array(NodeRoomSchema),
});
export const ByeBellSchema = Type.Object({ kind: Type.Literal('bye'), node: Str });
/** A person's read marker moved; a receiver tells only that person's own sessions. */
export const ReadBellSchema = Type.Object({
  kind: Type.Literal('read'),
  node: Str,
  userId: Str,
  room: Str,
  seq: Count,
});

/** A change entry: its event's fields, the event's type as `kind`, and the actor's user id. */
const changeFields = {
  node: Str,
  room: Str,
  seq: Count,
  cid: Str,
  from: Str,
  ts: Type.Number(),
  target: Count,
  fromId: Type.Optional(Str),
};
export const EditBellSchema = Type.Object({
  kind: Type.Literal('edit'),
  ...changeFields,
  text: Str,
});
export const DeleteBellSchema = Type.Object({ kind: Type.Literal('delete'), ...changeFields });
export const ReactionBellSchema = Type.Object({
  kind: Type.Literal('reaction'),
  ...changeFields,
  emoji: Str,
  on: Type.Boolean(),
});

/** Each bus payload's schema under its `kind`. */
export const BUS_SCHEMAS = {
  msg: MsgBellSchema,
  presence: PresenceBellSchema,
  typing: TypingBellSchema,
  node: NodeBellSchema,
  bye: ByeBellSchema,
  read: ReadBellSchema,
  edit: EditBellSchema,
  delete: DeleteBellSchema,
  reaction: ReactionBellSchema,
};

export const BusEventSchema = Type.Union(Object.values(BUS_SCHEMAS));
