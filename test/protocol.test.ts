import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRequest,
  foldKey,
  isValidCid,
  isValidText,
  normalizeName,
  normalizeRoom,
  parseLine,
  requestId,
  utf8Length,
} from '../src/protocol/index.js';

test('names: NFC, case-insensitive keys, 1 to 32 characters', () => {
  const composed = normalizeName('Zoë');
  const decomposed = normalizeName('Zoe\u0308');
  assert.ok(composed && decomposed);
  assert.equal(composed.key, decomposed.key);
  assert.equal(normalizeName('ALICE')?.key, 'alice');
  assert.equal(normalizeName('  bob  ')?.display, 'bob');
  assert.ok(normalizeName('a'.repeat(32)));
  assert.equal(normalizeName('a'.repeat(33)), null);
  assert.equal(normalizeName(''), null);
  assert.ok(normalizeName('😀'.repeat(32)), 'length counts characters, not UTF-16 units');
});

test('names: no control, zero-width, bidi or space characters, no @ or # start', () => {
  for (const bad of [
    'a\u0000b',
    'a\u200bb',
    'a\u202eb',
    'a\u2066b',
    'a b',
    'a\tb',
    '@alice',
    '#dev',
    'a\u2028b',
    'x\ufeffy',
  ]) {
    assert.equal(normalizeName(bad), null, JSON.stringify(bad));
  }
});

test('rooms: a leading # is dropped, keys are folded, @ is refused', () => {
  assert.equal(normalizeRoom('#Dev')?.key, 'dev');
  assert.equal(normalizeRoom('dev')?.key, 'dev');
  assert.equal(normalizeRoom('@dm'), null);
  assert.equal(normalizeRoom('a b'), null);
  assert.equal(foldKey('ÄB'), foldKey('a\u0308b'));
});

test('text and client message ids', () => {
  assert.ok(isValidText('hello\nworld\ttab'));
  assert.ok(!isValidText('   '));
  assert.ok(!isValidText('bell\u0007'));
  assert.ok(!isValidText('x\u202ey'));
  assert.ok(!isValidText('lone \ud800 surrogate'));
  assert.ok(isValidText('pair 😀'));
  assert.ok(!isValidText('x'.repeat(16 * 1024 + 1)));
  assert.ok(isValidCid('abc-DEF_123'));
  assert.ok(!isValidCid(''));
  assert.ok(!isValidCid('a'.repeat(65)));
  assert.ok(!isValidCid('a b'));
  assert.equal(utf8Length('aé😀'), 1 + 2 + 4);
});

test('JSON codec: valid requests are rebuilt field by field', () => {
  const d = decodeRequest(
    '{"type":"send","id":"1","room":"lobby","cid":"c1","text":"hi","extra":1}',
  );
  assert.deepEqual(d, {
    ok: true,
    request: {
      type: 'send',
      id: '1',
      room: 'lobby',
      cid: 'c1',
      text: 'hi',
      me: false,
      replyTo: undefined,
    },
  });
  const j = decodeRequest('{"type":"join","room":"lobby","since":5}');
  assert.deepEqual(j, {
    ok: true,
    request: { type: 'join', id: undefined, room: 'lobby', since: 5 },
  });
});

test('JSON codec: bad frames get stable codes', () => {
  const cases: [string, string][] = [
    ['not json', 'BAD_JSON'],
    ['[1,2]', 'BAD_REQUEST'],
    ['"text"', 'BAD_REQUEST'],
    ['null', 'BAD_REQUEST'],
    ['{}', 'BAD_REQUEST'],
    ['{"type":"explode"}', 'UNKNOWN_TYPE'],
    ['{"type":"toString"}', 'UNKNOWN_TYPE'],
    ['{"type":"__proto__"}', 'UNKNOWN_TYPE'],
    ['{"type":"send","room":"lobby","cid":"c","text":5}', 'BAD_REQUEST'],
    ['{"type":"send","room":"lobby","cid":"c","text":"x","me":"yes"}', 'BAD_REQUEST'],
    ['{"type":"join","room":1}', 'BAD_REQUEST'],
    ['{"type":"join","room":"a","since":-1}', 'BAD_REQUEST'],
    ['{"type":"join","room":"a","since":1.5}', 'BAD_REQUEST'],
    ['{"type":"history","room":"a","limit":"10"}', 'BAD_REQUEST'],
    ['{"type":"rooms","id":7}', 'BAD_REQUEST'],
  ];
  for (const [frame, code] of cases) {
    const d = decodeRequest(frame);
    assert.equal(d.ok, false, frame);
    if (!d.ok) assert.equal(d.code, code, frame);
  }
});

test('JSON codec: ping is a request with nothing but its id', () => {
  assert.deepEqual(decodeRequest('{"type":"ping","id":"p1","extra":1}'), {
    ok: true,
    request: { type: 'ping', id: 'p1' },
  });
  assert.deepEqual(decodeRequest('{"type":"ping"}'), {
    ok: true,
    request: { type: 'ping', id: undefined },
  });
});

test('JSON codec: the id of a frame refused unread, when it has one a request could carry', () => {
  assert.equal(requestId('{"type":"send","id":"r7","room":"lobby"}'), 'r7');
  assert.equal(requestId(`{"id":"${'x'.repeat(64)}"}`), 'x'.repeat(64));
  for (const frame of [
    `{"id":"${'x'.repeat(65)}"}`,
    '{"id":7}',
    '{"__proto__":{"id":"inherited"}}',
    '["id"]',
    'null',
    'not json',
    '',
  ]) {
    assert.equal(requestId(frame), undefined, frame);
  }
});

test('JSON codec: __proto__ keys neither pollute nor pass through', () => {
  const d = decodeRequest(
    '{"type":"send","room":"lobby","cid":"c","text":"x","__proto__":{"polluted":true}}',
  );
  assert.equal(d.ok, true);
  if (d.ok) assert.equal(Object.getPrototypeOf(d.request), Object.prototype);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  const p = decodeRequest('{"__proto__":{"type":"rooms"}}');
  assert.equal(p.ok, false);
});

test('text codec: lines and commands', () => {
  assert.deepEqual(parseLine('hello'), { cmd: 'say', text: 'hello', me: false });
  assert.deepEqual(parseLine('//etc'), { cmd: 'say', text: '/etc', me: false });
  assert.deepEqual(parseLine('/me waves'), { cmd: 'say', text: 'waves', me: true });
  assert.deepEqual(parseLine('/nick bob'), { cmd: 'nick', name: 'bob' });
  assert.deepEqual(parseLine('/NICK bob key123'), { cmd: 'nick', name: 'bob', key: 'key123' });
  assert.deepEqual(parseLine('/join #dev'), { cmd: 'join', room: '#dev' });
  assert.deepEqual(parseLine('/part'), { cmd: 'part' });
  assert.deepEqual(parseLine('/msg alice hi there'), { cmd: 'msg', to: 'alice', text: 'hi there' });
  assert.deepEqual(parseLine('/msg alice'), { cmd: 'usage', usage: '/msg NAME TEXT' });
  assert.deepEqual(parseLine('/who'), { cmd: 'who' });
  assert.deepEqual(parseLine('/rooms'), { cmd: 'rooms' });
  assert.deepEqual(parseLine('/history 5'), { cmd: 'history', limit: 5 });
  assert.deepEqual(parseLine('/frobnicate'), { cmd: 'unknown', name: 'frobnicate' });
});
