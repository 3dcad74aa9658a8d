// The wire shapes of search: the request and its result. Their types are the schemas' static
// types, so the two cannot part.

import type { Static } from '@sinclair/typebox';
import { Type } from './typebox.js';
import { Count, Str } from './shapes.js';

/** A query longer than this is refused unread; the server reads its first 200 characters. */
export const SEARCH_QUERY_MAX = 1000;

export const SEARCH_REQUEST_SCHEMAS = {
  /**
   * Messages holding every word of `query` (a "quoted phrase" is one word), best first, in the
   * rooms the person may read, or in `room`; `before` is a result's `next`, for the next page.
   */
  search: Type.Object({
    type: Type.Literal('search'),
    id: Type.Optional(Type.String({ maxLength: 64 })),
    query: Type.String({ maxLength: SEARCH_QUERY_MAX }),
    room: Type.Optional(Str),
    before: Type.Optional(Type.String({ maxLength: 16 })),
    limit: Type.Optional(Count),
  }),
};

const SearchHitSchema = Type.Object({
  room: Str,
  seq: Count,
  from: Str,
  text: Str,
  ts: Type.Number(),
  me: Type.Boolean(),
  /** [start, end) offsets in UTF-16 units of what matched, to highlight. */
  match: Type.Array(Type.Tuple([Count, Count])),
});

export const SEARCH_RESULT_SCHEMAS = {
  search: Type.Object({
    type: Type.Literal('result'),
    id: Type.Optional(Str),
    of: Type.Literal('search'),
    results: Type.Array(SearchHitSchema),
    more: Type.Boolean(),
    next: Type.Optional(Str),
  }),
};

export type SearchRequest = Static<typeof SEARCH_REQUEST_SCHEMAS.search>;
export type SearchResultEvent = Static<typeof SEARCH_RESULT_SCHEMAS.search>;
export type SearchHitWire = Static<typeof SearchHitSchema>;
