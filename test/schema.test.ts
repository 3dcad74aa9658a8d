// The wire schemas: their types are the protocol's types, the decoders built on them answer as
// the hand-written ones did, the page accepts what a real server sends, and the committed
// docs/protocol.schema.json is what the schemas generate.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Kind, OptionalKind, type Static, type TSchema } from '@sinclair/typebox';
import { Check } from '@sinclair/typebox/value';
import {
  decodeEvent,
  decodeRequest,
  requestId,
  type AckEvent,
  type ChatMessage,
  type ClientRequest,
  type ErrorEvent,
  type GapEvent,
  type HelloRequest,
  type HelloResult,
  type HistoryRequest,
  type HistoryResult,
  type JoinRequest,
  type JoinResult,
  type MessageEvent,
  type PartRequest,
  type PartResult,
  type PingRequest,
  type PingResult,
  type PresenceEvent,
  type RenameEvent,
  type RequestResult,
  type RoomsRequest,
  type RoomsResult,
  type SendRequest,
  type ServerEvent,
  type TypingEvent,
  type TypingRequest,
  type TypingResult,
  type WelcomeEvent,
  type WhoRequest,
  type WhoResult,
} from '../src/protocol/index.js';
import type * as S from '../src/protocol/schema.js';
import { EVENT_SCHEMAS, RESULT_SCHEMAS } from '../src/protocol/schema.js';
import type * as B from '../src/bus/schema.js';
import type { NodeRoom } from '../src/core/ports.js';
import { parseWireEvent } from '../src/bus/redis.js';
import type { WireBusEvent } from '../src/bus/types.js';
import { protocolSchemaText, SCHEMA_FILE } from '../scripts/schema.js';
import { handDecodeRequest, handParseEvent, handRequestId } from './hand-decoders.js';
import { startTestServer, TestClient, waitFor } from './helpers.js';
import { loadPageDecoder } from './page-decoder.js';

// ---- the schemas' types are the protocol's (a drift fails `npm run typecheck`) ---------------

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function same<A, B>(_proof: Same<A, B>): void {}

test('every schema has exactly the type of its shape', () => {
  same<Static<typeof S.ChatMessageSchema>, ChatMessage>(true);
  same<Static<typeof S.HelloRequestSchema>, HelloRequest>(true);
  same<Static<typeof S.JoinRequestSchema>, JoinRequest>(true);
  same<Static<typeof S.PartRequestSchema>, PartRequest>(true);
  same<Static<typeof S.SendRequestSchema>, SendRequest>(true);
  same<Static<typeof S.HistoryRequestSchema>, HistoryRequest>(true);
  same<Static<typeof S.RoomsRequestSchema>, RoomsRequest>(true);
  same<Static<typeof S.WhoRequestSchema>, WhoRequest>(true);
  same<Static<typeof S.TypingRequestSchema>, TypingRequest>(true);
  same<Static<typeof S.PingRequestSchema>, PingRequest>(true);
  same<Static<typeof S.ClientRequestSchema>, ClientRequest>(true);
  same<Static<typeof S.WelcomeEventSchema>, WelcomeEvent>(true);
  same<Static<typeof S.HelloResultSchema>, HelloResult>(true);
  same<Static<typeof S.JoinResultSchema>, JoinResult>(true);
  same<Static<typeof S.PartResultSchema>, PartResult>(true);
  same<Static<typeof S.HistoryResultSchema>, HistoryResult>(true);
  same<Static<typeof S.RoomsResultSchema>, RoomsResult>(true);
  same<Static<typeof S.WhoResultSchema>, WhoResult>(true);
  same<Static<typeof S.TypingResultSchema>, TypingResult>(true);
  same<Static<typeof S.PingResultSchema>, PingResult>(true);
  same<Static<typeof S.RequestResultSchema>, RequestResult>(true);
  same<Static<typeof S.AckEventSchema>, AckEvent>(true);
  same<Static<typeof S.MessageEventSchema>, MessageEvent>(true);
  same<Static<typeof S.GapEventSchema>, GapEvent>(true);
  same<Static<typeof S.PresenceEventSchema>, PresenceEvent>(true);
  same<Static<typeof S.RenameEventSchema>, RenameEvent>(true);
  same<Static<typeof S.TypingEventSchema>, TypingEvent>(true);
  same<Static<typeof S.ErrorEventSchema>, ErrorEvent>(true);
  same<Static<typeof S.ServerEventSchema>, ServerEvent>(true);
  same<Static<typeof B.NodeRoomSchema>, NodeRoom>(true);
  same<Static<typeof B.BusEventSchema>, WireBusEvent>(true);
  // A check that can fail: these differ, and the type says so.
  same<Static<typeof S.SendRequestSchema>, JoinRequest>(false);
});

// ---- the request decoder answers as the hand-written one did --------------------------------

const TYPES = ['hello', 'join', 'part', 'send', 'history', 'rooms', 'who', 'typing', 'ping'];
const FIELDS = ['id', 'type', 'name', 'token', 'room', 'since', 'cid', 'text', 'me'];
const MORE_FIELDS = ['before', 'limit', 'after', '__proto__', 'constructor', 'toString'];

/** Values at and around every edge the decoders look at. */
const edgy = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    1,
    5,
    -1,
    1.5,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 1,
    1e300,
    '',
    'lobby',
    'x'.repeat(64),
    'x'.repeat(65),
    '😀'.repeat(32),
    '😀'.repeat(33),
    [],
    {},
    ['lobby'],
    { room: 'lobby' },
  ),
  fc.string({ maxLength: 70 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 2 }),
);

const requestish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc
    .record({
      type: fc.oneof(fc.constantFrom(...TYPES, 'nope', '__proto__', 'constructor'), edgy),
      fields: fc.dictionary(fc.constantFrom(...FIELDS, ...MORE_FIELDS), edgy, { maxKeys: 7 }),
    })
    .map(({ type, fields }) => ({ ...fields, type })),
  fc.record(
    {
      type: fc.constantFrom(...TYPES),
      id: edgy,
      room: fc.oneof(fc.constant('lobby'), edgy),
      cid: fc.oneof(fc.constant('c1'), edgy),
      text: fc.oneof(fc.constant('hi'), edgy),
      me: edgy,
      since: edgy,
      before: edgy,
      limit: edgy,
      after: edgy,
      name: edgy,
      token: edgy,
    },
    { requiredKeys: ['type'] },
  ),
);

/** The frame as text, sometimes with an own `__proto__` key as a hostile client writes it. */
function frameOf(v: unknown, proto: boolean): string {
  const s = JSON.stringify(v) ?? 'null';
  return proto ? s.replace(/^\{/, '{"__proto__":{"type":"ping","id":"x"},') : s;
}

test('the request decoder gives what the hand-written one gave, codes and ids included', () => {
  fc.assert(
    fc.property(requestish, fc.boolean(), (v, proto) => {
      const frame = frameOf(v, proto && typeof v === 'object' && v !== null && !Array.isArray(v));
      assert.deepEqual(decodeRequest(frame), handDecodeRequest(frame), frame);
      assert.equal(requestId(frame), handRequestId(frame), frame);
    }),
    { numRuns: 20_000 },
  );
  for (const frame of ['', 'not json', '{', '[]', '"x"', '1', 'null', '{"type":"ping"} x']) {
    assert.deepEqual(decodeRequest(frame), handDecodeRequest(frame), frame);
  }
});

test('the request decoder: every optional field absent, null, or well typed', () => {
  assert.deepEqual(decodeRequest('{"type":"hello","name":null,"token":"t","id":null}'), {
    ok: true,
    request: { type: 'hello', id: undefined, name: undefined, token: 't' },
  });
  assert.deepEqual(decodeRequest('{"type":"send","room":"a","cid":"c","text":"x","me":true}'), {
    ok: true,
    request: {
      type: 'send',
      id: undefined,
      room: 'a',
      cid: 'c',
      text: 'x',
      me: true,
      replyTo: undefined,
    },
  });
  assert.deepEqual(decodeRequest(`{"type":"rooms","id":"r","after":"${'x'.repeat(65)}"}`), {
    ok: false,
    code: 'BAD_REQUEST',
    id: 'r',
  });
  assert.deepEqual(decodeRequest(`{"type":"nope","id":"${'x'.repeat(65)}"}`), {
    ok: false,
    code: 'BAD_REQUEST',
  });
  assert.deepEqual(decodeRequest('{"type":"history","id":"h","room":"a","before":1e300}'), {
    ok: false,
    code: 'BAD_REQUEST',
    id: 'h',
  });
});

// ---- the bus decoder -------------------------------------------------------------------------

const str = fc.oneof(fc.constantFrom('n1', 'lobby', 'alice', ''), fc.string({ maxLength: 8 }));
const seqish = fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, '3', null));
const extras = fc.dictionary(fc.constantFrom('extra', '__proto__', 'toString'), edgy, {
  maxKeys: 2,
});
const messageish = fc.record({
  room: str,
  seq: seqish,
  from: str,
  text: str,
  ts: fc.oneof(fc.nat(), fc.double(), fc.constant('1')),
  cid: str,
  me: fc.oneof(fc.boolean(), fc.constant(0)),
});
const member = fc.oneof(
  fc.tuple(str, str),
  fc.constantFrom([], ['a'], ['a', 'b', 'c'], [1, 'b'], 'ab'),
);
const busish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc
    .tuple(
      fc.oneof(
        fc.record({ kind: fc.constant('msg'), node: str, message: fc.oneof(messageish, edgy) }),
        fc.record({
          kind: fc.constant('presence'),
          node: str,
          room: str,
          key: str,
          name: str,
          event: fc.constantFrom('join', 'leave', 'come'),
        }),
        fc.record({ kind: fc.constant('typing'), node: str, room: str, key: str, name: str }),
        fc.record({
          kind: fc.constant('node'),
          node: fc.oneof(str, edgy),
          rooms: fc.array(
            fc.record({ room: str, lastSeq: seqish, members: fc.array(member, { maxLength: 3 }) }),
            { maxLength: 3 },
          ),
        }),
        fc.record({ kind: fc.constantFrom('bye', 'hi'), node: fc.oneof(str, edgy) }),
      ),
      extras,
    )
    .map(([event, more]) => ({ ...more, ...event })),
);

/** Whether an event has a negative sequence number (the old bus check let those through). */
function negativeSeq(e: WireBusEvent): boolean {
  if (e.kind === 'msg') return e.message.seq < 0;
  return e.kind === 'node' && e.rooms.some((r) => r.lastSeq < 0);
}

test('the bus decoder gives what the hand-written one gave, and refuses negative sequence numbers', () => {
  let accepted = 0;
  fc.assert(
    fc.property(busish, (v) => {
      const payload = JSON.stringify(v) ?? 'null';
      const ours = parseWireEvent(payload);
      const theirs = handParseEvent(payload);
      if (ours !== undefined) accepted++;
      if (theirs !== undefined && negativeSeq(theirs)) assert.equal(ours, undefined, payload);
      else assert.deepEqual(ours, theirs, payload);
    }),
    { numRuns: 20_000 },
  );
  assert.ok(accepted > 1000, `only ${accepted} payloads were well formed`);
  const message = { room: 'a', seq: 1, from: 'b', text: 'c', ts: 1, cid: 'd', me: false };
  assert.deepEqual(
    parseWireEvent(JSON.stringify({ kind: 'msg', node: 'n', message: { ...message, x: 1 }, y: 2 })),
    { kind: 'msg', node: 'n', message },
  );
  const rooms = [{ room: 'a', lastSeq: 0, members: [['k', 'K']], x: 1 }];
  assert.deepEqual(parseWireEvent(JSON.stringify({ kind: 'node', node: 'n', rooms })), {
    kind: 'node',
    node: 'n',
    rooms: [{ room: 'a', lastSeq: 0, members: [['k', 'K']] }],
  });
  assert.equal(
    parseWireEvent(JSON.stringify({ kind: 'msg', node: 'n', message: { ...message, seq: -1 } })),
    undefined,
  );
});

// ---- the page's event decoder ----------------------------------------------------------------

test('the page accepts every event a real server sends, and nothing malformed', async () => {
  const page = await loadPageDecoder();
  const decoders = { decodeEvent, page: page.decodeServerEvent };
  const s = await startTestServer();
  const a = await TestClient.json(s);
  const b = await TestClient.json(s);
  try {
    await a.event('welcome');
    await b.event('welcome');
    await a.request({ type: 'hello', name: 'ann' });
    await b.request({ type: 'hello', name: 'bob' });
    await a.request({ type: 'join', room: 'lobby' });
    await b.request({ type: 'join', room: 'lobby' });
    await a.request({ type: 'send', room: 'lobby', cid: 'c1', text: 'hi' });
    await a.request({ type: 'send', room: 'lobby', cid: 'c2', text: 'waves', me: true });
    await b.request({ type: 'send', room: '@ann', cid: 'd1', text: 'psst' });
    await a.request({ type: 'typing', room: 'lobby' });
    await b.request({ type: 'history', room: 'lobby', limit: 10 });
    await b.request({ type: 'rooms', limit: 1 });
    await b.request({ type: 'who', room: 'lobby' });
    await b.request({ type: 'ping' });
    await b.request({ type: 'nope' });
    await b.request({ type: 'join', room: 'lobby', since: 0 });
    await a.request({ type: 'hello', name: 'ann2' });
    await a.request({ type: 'part', room: 'lobby' });
    await waitFor(() => b.events().some((e) => e.type === 'presence'), 'presence');
    await waitFor(() => b.events().some((e) => e.type === 'rename'), 'a rename');
    const frames = [...a.frames, ...b.frames];
    const seen = new Set<string>();
    for (const frame of frames) {
      for (const [name, decode] of Object.entries(decoders)) {
        const e = decode(frame);
        assert.ok(e, `${name}: ${frame}`);
        seen.add(e.type === 'result' ? `result:${e.of}` : e.type);
      }
    }
    for (const kind of [
      'welcome',
      'ack',
      'msg',
      'presence',
      'rename',
      'typing',
      'error',
      'result:hello',
      'result:join',
      'result:part',
      'result:history',
      'result:rooms',
      'result:who',
      'result:typing',
      'result:ping',
    ]) {
      assert.ok(seen.has(kind), `saw no ${kind}`);
    }
  } finally {
    a.close();
    b.close();
    await s.dispose();
  }
  const msg = { type: 'msg', room: 'a', seq: 1, from: 'b', text: 'c', ts: 1, cid: 'd', me: false };
  for (const [name, decode] of Object.entries(decoders)) {
    assert.deepEqual(decode(JSON.stringify(msg)), msg, name);
    for (const bad of [
      { ...msg, seq: '1' },
      { ...msg, me: undefined },
      { ...msg, type: 'mystery' },
      { type: 'result', of: 'mystery' },
      { type: 'result', of: 'ping', id: 7 },
      { type: 'error', code: 'NOT_A_CODE', message: 'x' },
      { type: 'gap', room: 'a', after: 1 },
      { type: 'toString' },
      { type: 'result', of: 'toString' },
      { type: 'result', of: '__proto__' },
      ['msg'],
    ]) {
      assert.equal(decode(JSON.stringify(bad)), null, `${name}: ${JSON.stringify(bad)}`);
    }
    assert.equal(decode('not json'), null, name);
  }
});

/** Values for a schema: mostly well formed, now and then anything or missing. */
function nearly(schema: TSchema): fc.Arbitrary<unknown> {
  const ok = wellFormedish(schema);
  const field = fc.oneof({ arbitrary: ok, weight: 30 }, edgy, fc.constant(undefined));
  return OptionalKind in schema ? field : fc.oneof({ arbitrary: ok, weight: 30 }, edgy);
}

function wellFormedish(schema: TSchema): fc.Arbitrary<unknown> {
  const kind: unknown = schema[Kind];
  switch (kind) {
    case 'Object': {
      const props = Object.entries(schema['properties'] as Record<string, TSchema>);
      return fc
        .tuple(
          fc.tuple(
            ...props.map(([k, p]) =>
              // Absent, not merely undefined, as often as present.
              fc.tuple(nearly(p), fc.boolean()).map(([v, own]) => [k, v, own] as const),
            ),
          ),
          fc.dictionary(fc.constantFrom('extra', 'type', 'of', 'toString'), edgy, { maxKeys: 1 }),
        )
        .map(([entries, more]) => {
          const own = entries.filter(([, v, present]) => v !== undefined || present);
          return { ...more, ...Object.fromEntries(own.map(([k, v]) => [k, v])) };
        });
    }
    case 'Literal':
      return fc.oneof({ arbitrary: fc.constant(schema['const'] as unknown), weight: 10 }, edgy);
    case 'Union':
      return fc.oneof(...(schema['anyOf'] as TSchema[]).map(wellFormedish));
    case 'Array':
      return fc.array(nearly(schema['items'] as TSchema), { maxLength: 3 });
    case 'Tuple': {
      const items = (schema['items'] as TSchema[] | undefined) ?? [];
      // Of the right length mostly; one short or long now and then.
      return fc.oneof(
        { arbitrary: fc.tuple(...items.map(nearly)), weight: 8 },
        fc.array(fc.oneof(...items.map(nearly)), { maxLength: items.length + 1 }),
      );
    }
    case 'String': {
      const max = (schema['maxLength'] as number | undefined) ?? 8;
      return fc.oneof(
        fc.string({ maxLength: max + 2 }),
        fc.constantFrom('x'.repeat(max), 'x'.repeat(max + 1), '😀'.repeat(Math.ceil(max / 2))),
      );
    }
    case 'Integer':
    case 'Number':
      // A count that is one, most often: shapes with several (a read state has four, a join
      // result two more) must still come out well formed often enough.
      return fc.oneof(
        { arbitrary: fc.nat(), weight: 6 },
        fc.double(),
        fc.constantFrom(-1, 0, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1),
        fc.constantFrom(NaN, Infinity, -Infinity),
      );
    case 'Boolean':
      return fc.boolean();
    default:
      throw new Error(`no values for a ${String(kind)} schema: teach wellFormedish`);
  }
}

test("the page's generated checks accept exactly what the schemas accept", async () => {
  const page = await loadPageDecoder();
  const tables = [
    ['event', EVENT_SCHEMAS, page.EVENT_CHECKS],
    ['result', RESULT_SCHEMAS, page.RESULT_CHECKS],
  ] as const;
  for (const [what, schemas, checks] of tables) {
    assert.deepEqual(Object.keys(checks).sort(), Object.keys(schemas).sort(), what);
    for (const [key, schema] of Object.entries(schemas)) {
      const check = checks[key];
      assert.ok(check, `${what} ${key}`);
      let accepted = 0;
      let refused = 0;
      fc.assert(
        fc.property(wellFormedish(schema), (v) => {
          const expected = Check(schema, v);
          if (expected) accepted++;
          else refused++;
          assert.equal(check(v), expected, `${what} ${key}: ${String(JSON.stringify(v))}`);
          const frame = JSON.stringify(v);
          assert.deepEqual(page.decodeServerEvent(frame), decodeEvent(frame), frame);
        }),
        { numRuns: 3_000 },
      );
      assert.ok(accepted > 100, `${what} ${key}: only ${accepted} values were well formed`);
      assert.ok(refused > 100, `${what} ${key}: only ${refused} values were malformed`);
    }
  }
});

test('the page bundles no TypeBox: its decoder ships the generated checks alone', async () => {
  const { shipped } = await loadPageDecoder();
  assert.ok(shipped.includes('event-checks:parley:event-checks'), shipped.join(', '));
  assert.deepEqual(
    shipped.filter((f) => f.includes('@sinclair/typebox') || f.endsWith('schema.ts')),
    [],
  );
});

// ---- the committed JSON Schema ---------------------------------------------------------------

test('docs/protocol.schema.json is what `npm run schema` makes of the schemas', async () => {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  assert.equal(committed, await protocolSchemaText(), 'stale: run `npm run schema`');
  const doc = JSON.parse(committed) as { definitions: Record<string, unknown> };
  for (const name of ['ClientRequest', 'ServerEvent', 'BusEvent', 'SendRequest', 'MessageEvent'])
    assert.ok(doc.definitions[name], name);
});
