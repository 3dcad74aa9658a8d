// The pieces every wire schema is made of: the common field types, and the two builders of a
// request (its `type` and optional `id`) and of a result (`type: "result"`, `of`, the `id` echoed).

import type { TSchema } from '@sinclair/typebox';
import { Type } from './typebox.js';

/** Longest request `id` (and `rooms.after`), in UTF-16 units. */
export const ID_MAX = 64;

export const Str = Type.String();
/** A count or sequence number: a safe integer, 0 or more. */
export const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** A time in ms since the epoch. */
export const Time = Type.Number();
export const Id = Type.String({ maxLength: ID_MAX });
export const OptId = Type.Optional(Id);

export function request<T extends string, P extends Record<string, TSchema>>(type: T, props: P) {
  return Type.Object({ type: Type.Literal(type), id: OptId, ...props });
}

export function result<Of extends string, P extends Record<string, TSchema>>(of: Of, props: P) {
  return Type.Object({
    type: Type.Literal('result'),
    id: Type.Optional(Str),
    of: Type.Literal(of),
    ...props,
  });
}
