// Property-based fuzzing of both codecs and of every request handler on a live server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRequest, isValidCid, isValidText, parseLine } from '../src/protocol/index.js';
import { startTestServer, TestClient, waitFor } from './helpers.js';

const TYPES = [
  'hello',
  'join',
  'part',
  'send',
  'history',
  'rooms',
  'who',
  'typing',
  'nope',
  '__proto__',
  'constructor',
];
const FIELDS = [
  'id',
  'name',
  'token',
  'room',
  'since',
  'cid',
  'text',
  'me',
  'before',
  'limit',
  '__proto__',
  'constructor',
];

/** Any JSON value, biased towards request-shaped objects with hostile fields. */
const requestLike = fc.oneof(
  fc.jsonValue(),
  fc
    .record({
      type: fc.constantFrom(...TYPES),
      fields: fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue(), { maxKeys: 6 }),
    })
    .map(({ type, fields }) => ({ ...fields, type })),
  fc.record({
    type: fc.constantFrom('send', 'join', 'history'),
    room: fc.oneof(fc.constant('lobby'), fc.string(), fc.string({ maxLength: 40, unit: 'binary' })),
    cid: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.string()),
    text: fc.string({ maxLength: 200, unit: 'binary' }),
    since: fc.oneof(fc.nat(), fc.integer(), fc.double()),
  }),
);

function frameOf(v: unknown, raw: boolean): string {
  const s = JSON.stringify(v) ?? 'null';
  // Writing "__proto__" as a literal key is what a hostile client would do.
  return raw ? s.replace(/^\{/, '{"__proto__":{"polluted":1},') : s;
}

test('the JSON codec never throws, and what it accepts is well typed', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (s) => {
      decodeRequest(s);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(requestLike, fc.boolean(), (v, raw) => {
      const d = decodeRequest(
        frameOf(v, raw && typeof v === 'object' && v !== null && !Array.isArray(v)),
      );
      if (!d.ok) return;
      const r = d.request as unknown as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(r), Object.prototype);
      assert.ok(!Object.hasOwn(r, '__proto__'));
      for (const k of ['room', 'cid', 'text', 'name', 'token', 'id']) {
        if (r[k] !== undefined) assert.equal(typeof r[k], 'string', k);
      }
      for (const k of ['since', 'before', 'limit']) {
        if (r[k] !== undefined) assert.ok(Number.isSafeInteger(r[k]) && (r[k] as number) >= 0, k);
      }
    }),
    { numRuns: 3000 },
  );
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('the text codec never throws', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary' }),
        fc.string().map((s) => '/' + s),
      ),
      (s) => {
        const c = parseLine(s);
        assert.ok(typeof c.cmd === 'string');
      },
    ),
    { numRuns: 3000 },
  );
});

test('every request handler: no exception escapes, nothing invalid is stored, others unaffected', async () => {
  const s = await startTestServer({ rateBurst: 1_000_000, ratePerSecond: 1_000_000 });
  const errors: unknown[] = [];
  const onError = (e: unknown) => errors.push(e);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  try {
    const json = await TestClient.json(s);
    const text = await TestClient.text(s);
    await json.event('welcome');
    await json.request({ type: 'join', room: 'lobby' });
    const samples = fc.sample(requestLike, { numRuns: 1500, seed: 42 });
    samples.forEach((v, i) =>
      json.send(
        frameOf(v, i % 3 === 0 && typeof v === 'object' && v !== null && !Array.isArray(v)),
      ),
    );
    const lines = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 80, unit: 'binary' }),
        fc.string().map((x) => '/' + x),
      ),
      {
        numRuns: 800,
        seed: 7,
      },
    );
    for (const l of lines) if (l.length > 0) text.send(l);
    // A witness after the storm: it is served and its message arrives.
    const witness = await TestClient.json(s);
    await witness.event('welcome');
    await witness.request({ type: 'join', room: 'lobby' });
    const ack = await witness.request(
      { type: 'send', room: 'lobby', cid: 'witness', text: 'after the storm' },
      20_000,
    );
    assert.equal(ack.type, 'ack');
    await waitFor(() => json.ws.readyState !== json.ws.CONNECTING, 'fuzz client settles');
    assert.deepEqual(errors, [], 'no exception escaped');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
    // Everything stored is valid.
    const rooms = (await (await fetch(`http://127.0.0.1:${s.httpPort}/api/rooms`)).json()) as {
      rooms: { room: string }[];
    };
    let checked = 0;
    for (const { room } of rooms.rooms) {
      let before: number | undefined;
      for (;;) {
        const q = before === undefined ? '' : `&before=${before}`;
        const url = `http://127.0.0.1:${s.httpPort}/api/rooms/${encodeURIComponent(room)}/messages?limit=200${q}`;
        const page = (await (await fetch(url)).json()) as {
          messages: { seq: number; text: string; cid: string }[];
          more: boolean;
        };
        for (const m of page.messages) {
          assert.ok(isValidText(m.text), JSON.stringify(m.text));
          assert.ok(isValidCid(m.cid), m.cid);
          checked++;
        }
        if (!page.more || page.messages.length === 0) break;
        before = page.messages[0]?.seq;
      }
    }
    assert.ok(checked > 0, 'some messages were stored and checked');
    for (const c of [json, text, witness]) c.close();
  } finally {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
    await s.dispose();
  }
});
