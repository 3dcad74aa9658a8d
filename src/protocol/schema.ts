// The one definition of every JSON wire shape: client requests and server events. The server
// decodes requests with these, the page checks events with them, and docs/protocol.schema.json
// is generated from them (`npm run schema`). The interfaces in types.ts stay the names the code
// uses; test/schema.test.ts fails to typecheck when a schema and its interface part.
//
// A schema is what a sender must send. The request decoder is a little kinder and reads an
// optional field that is null as absent, as it always has.

import type { TLiteral, TObject, TSchema } from '@sinclair/typebox';
import { Type } from './typebox.js';
import { Count, ID_MAX, Id, OptId, Str, result } from './shapes.js';
import {
  ACCESS_EVENT_SCHEMAS,
  ACCESS_REQUEST_SCHEMAS,
  ACCESS_RESULT_SCHEMAS,
} from './access-schema.js';
import { ERRORS, type ErrorCode } from './errors.js';
import {
  LIFECYCLE_EVENT_SCHEMAS,
  LIFECYCLE_REQUEST_SCHEMAS,
  ReactionSummarySchema,
} from './lifecycle-schema.js';
import {
  READ_EVENT_SCHEMAS,
  READ_REQUEST_SCHEMAS,
  READ_RESULT_SCHEMAS,
  ReadStateSchema,
  RoomReadSchema,
} from './read-schema.js';
import { SEARCH_REQUEST_SCHEMAS, SEARCH_RESULT_SCHEMAS } from './search-schema.js';

export const RequestIdSchema = Id;

/** A message's fields, as a `msg` event carries them. */
const MESSAGE_FIELDS = {
  room: Str,
  seq: Count,
  from: Str,
  fromId: Type.Optional(Str),
  text: Str,
  ts: Type.Number(),
  cid: Str,
  me: Type.Boolean(),
  replyTo: Type.Optional(Count),
  edited: Type.Optional(Type.Number()),
  removed: Type.Optional(Type.Boolean()),
};

/** A message in its current state, as history and changes give it, reactions included. */
export const ChatMessageSchema = Type.Object({
  ...MESSAGE_FIELDS,
  reactions: Type.Optional(Type.Array(ReactionSummarySchema)),
});

// ---- client → server ------------------------------------------------------------------------

export const HelloRequestSchema = Type.Object({
  type: Type.Literal('hello'),
  id: OptId,
  name: Type.Optional(Str),
  token: Type.Optional(Str),
});
export const JoinRequestSchema = Type.Object({
  type: Type.Literal('join'),
  id: OptId,
  room: Str,
  since: Type.Optional(Count),
});
export const PartRequestSchema = Type.Object({
  type: Type.Literal('part'),
  id: OptId,
  room: Str,
});
export const SendRequestSchema = Type.Object({
  type: Type.Literal('send'),
  id: OptId,
  room: Str,
  cid: Str,
  text: Str,
  me: Type.Optional(Type.Boolean({ default: false })),
  replyTo: Type.Optional(Count),
});
export const HistoryRequestSchema = Type.Object({
  type: Type.Literal('history'),
  id: OptId,
  room: Str,
  before: Type.Optional(Count),
  limit: Type.Optional(Count),
});
export const RoomsRequestSchema = Type.Object({
  type: Type.Literal('rooms'),
  id: OptId,
  after: Type.Optional(Type.String({ maxLength: ID_MAX })),
  limit: Type.Optional(Count),
});
export const WhoRequestSchema = Type.Object({
  type: Type.Literal('who'),
  id: OptId,
  room: Str,
  after: Type.Optional(Type.String({ maxLength: ID_MAX })),
});
export const TypingRequestSchema = Type.Object({
  type: Type.Literal('typing'),
  id: OptId,
  room: Str,
});
export const PingRequestSchema = Type.Object({
  type: Type.Literal('ping'),
  id: OptId,
});

/** Each request's schema under its `type`. */
export const REQUEST_SCHEMAS = {
  hello: HelloRequestSchema,
  join: JoinRequestSchema,
  part: PartRequestSchema,
  send: SendRequestSchema,
  history: HistoryRequestSchema,
  rooms: RoomsRequestSchema,
  who: WhoRequestSchema,
  typing: TypingRequestSchema,
  ping: PingRequestSchema,
  ...ACCESS_REQUEST_SCHEMAS,
  ...LIFECYCLE_REQUEST_SCHEMAS,
  ...SEARCH_REQUEST_SCHEMAS,
  ...READ_REQUEST_SCHEMAS,
};

export const ClientRequestSchema = Type.Union(Object.values(REQUEST_SCHEMAS));

// ---- server → client ------------------------------------------------------------------------

export const RoomInfoSchema = Type.Object({ room: Str, members: Count });

const Limit = Type.Number({ minimum: 0 });
export const WelcomeLimitsSchema = Type.Object({
  maxMessageBytes: Limit,
  maxTextBytes: Limit,
  historyBound: Limit,
  ratePerSecond: Limit,
  rateBurst: Limit,
  editWindowMs: Limit,
});
export const WelcomeEventSchema = Type.Object({
  type: Type.Literal('welcome'),
  text: Str,
  name: Str,
  limits: WelcomeLimitsSchema,
});

export const HelloResultSchema = result('hello', {
  name: Str,
  token: Str,
  userId: Str,
  direct: Type.Array(Str),
  role: Type.Optional(
    Type.Union([
      Type.Literal('owner'),
      Type.Literal('admin'),
      Type.Literal('moderator'),
      Type.Literal('member'),
    ]),
  ),
  rooms: Type.Optional(Type.Array(Str)),
  read: Type.Optional(Type.Array(RoomReadSchema)),
});
export const JoinResultSchema = result('join', {
  room: Str,
  lastSeq: Count,
  members: Type.Array(Str),
  memberCount: Count,
  read: Type.Optional(ReadStateSchema),
});
export const PartResultSchema = result('part', { room: Str });
export const HistoryResultSchema = result('history', {
  room: Str,
  messages: Type.Array(ChatMessageSchema),
  more: Type.Boolean(),
});
export const ChangesResultSchema = result('changes', {
  room: Str,
  messages: Type.Array(ChatMessageSchema),
  upTo: Count,
  more: Type.Boolean(),
});
export const RoomsResultSchema = result('rooms', {
  rooms: Type.Array(RoomInfoSchema),
  next: Type.Optional(Str),
  remaining: Count,
});
export const WhoResultSchema = result('who', {
  room: Str,
  members: Type.Array(Str),
  memberCount: Count,
});
export const TypingResultSchema = result('typing', { room: Str });
export const PingResultSchema = result('ping', {});

/** Each result's schema under its `of`. */
export const RESULT_SCHEMAS = {
  hello: HelloResultSchema,
  join: JoinResultSchema,
  part: PartResultSchema,
  history: HistoryResultSchema,
  rooms: RoomsResultSchema,
  who: WhoResultSchema,
  typing: TypingResultSchema,
  ping: PingResultSchema,
  changes: ChangesResultSchema,
  ...ACCESS_RESULT_SCHEMAS,
  ...SEARCH_RESULT_SCHEMAS,
  ...READ_RESULT_SCHEMAS,
};

export const RequestResultSchema = Type.Union(Object.values(RESULT_SCHEMAS));

export const AckEventSchema = Type.Object({
  type: Type.Literal('ack'),
  id: Type.Optional(Str),
  room: Str,
  cid: Str,
  seq: Count,
  ts: Type.Number(),
});
// A message as it goes out, live or replayed: its reactions come as entries of their own.
export const MessageEventSchema = Type.Object({
  type: Type.Literal('msg'),
  ...MESSAGE_FIELDS,
});
export const GapEventSchema = Type.Object({
  type: Type.Literal('gap'),
  room: Str,
  after: Count,
  before: Count,
});
export const PresenceEventSchema = Type.Object({
  type: Type.Literal('presence'),
  room: Str,
  name: Str,
  event: Type.Union([Type.Literal('join'), Type.Literal('leave')]),
  others: Type.Optional(Type.Array(Str)),
});
export const RenameEventSchema = Type.Object({
  type: Type.Literal('rename'),
  room: Str,
  from: Str,
  to: Str,
});
export const TypingEventSchema = Type.Object({
  type: Type.Literal('typing'),
  room: Str,
  name: Str,
  ttlMs: Count,
});

const CODES = Object.keys(ERRORS) as ErrorCode[];
export const ErrorCodeSchema = Type.Union(CODES.map((c): TLiteral<ErrorCode> => Type.Literal(c)));
export const ErrorEventSchema = Type.Object({
  type: Type.Literal('error'),
  id: Type.Optional(Str),
  code: ErrorCodeSchema,
  message: Str,
});

/** Each event's schema under its `type`; results are told apart by `of` (RESULT_SCHEMAS). */
export const EVENT_SCHEMAS = {
  welcome: WelcomeEventSchema,
  ack: AckEventSchema,
  msg: MessageEventSchema,
  gap: GapEventSchema,
  presence: PresenceEventSchema,
  rename: RenameEventSchema,
  typing: TypingEventSchema,
  error: ErrorEventSchema,
  ...ACCESS_EVENT_SCHEMAS,
  ...LIFECYCLE_EVENT_SCHEMAS,
  ...READ_EVENT_SCHEMAS,
};

export const ServerEventSchema = Type.Union([
  ...Object.values(EVENT_SCHEMAS),
  ...Object.values(RESULT_SCHEMAS),
]);

/** The schema of each flat object shape, for the decoder's field-by-field rebuild. */
export type FlatSchema = TObject<Record<string, TSchema>>;
