// Search against a real server: each person finds what they may read and nothing else, by
// WebSocket (JSON and text) and over HTTP, whatever the query.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestServer, TestClient, waitFor, type TestServer } from './helpers.js';
import type { SearchResultEvent, ServerEvent } from '../src/protocol/index.js';

const PASSWORD = 'correct-horse';

async function client(s: TestServer): Promise<TestClient> {
  const c = await TestClient.json(s);
  await c.event('welcome');
  return c;
}

async function person(s: TestServer, name: string): Promise<TestClient & { token: string }> {
  const c = await client(s);
  const r = await c.request({ type: 'register', name, password: PASSWORD });
  assert.ok(r.type === 'result' && r.of === 'login', JSON.stringify(r));
  return Object.assign(c, { token: r.token });
}

function found(e: ServerEvent): SearchResultEvent {
  assert.ok(e.type === 'result' && e.of === 'search', `expected results, got ${JSON.stringify(e)}`);
  return e;
}

async function search(c: TestClient, query: string, extra: object = {}) {
  return found(await c.request({ type: 'search', query, ...extra }));
}

const where = (r: SearchResultEvent) => r.results.map((m) => `${m.room} ${m.text}`).sort();

/** Words only the private room's and the direct conversation's messages hold. */
const SECRETS = ['launch', 'ALPHA', 'vault-word', '秘密', 'pineapple-dm', '菠萝'];

describe('search', () => {
  let s: TestServer;
  let ann: TestClient & { token: string };
  let bob: TestClient & { token: string };
  let eve: TestClient & { token: string };

  before(async () => {
    // The property below sends a few hundred requests at once: the connection's rate is not what it tests.
    s = await startTestServer({ guests: 'on', ratePerSecond: 10_000, rateBurst: 10_000 });
    ann = await person(s, 'ann');
    bob = await person(s, 'bob');
    eve = await person(s, 'eve');
    await ann.request({ type: 'join', room: 'lobby' });
    await ann.request({ type: 'join', room: 'vault' });
    await ann.request({ type: 'settings', room: 'vault', visibility: 'private' });
    const sends = [
      ['lobby', 'a public pineapple note'],
      ['lobby', 'Tokyo is 東京 in Japanese'],
      ['vault', 'the launch code is ALPHA-7 vault-word 秘密のコード'],
      ['vault', 'pineapple stays in the vault too'],
      ['@bob', 'pineapple-dm only for bob 菠萝'],
    ];
    for (const [i, [room, text]] of sends.entries()) {
      const ack = await ann.request({ type: 'send', room, cid: `c${i}`, text });
      assert.equal(ack.type, 'ack', JSON.stringify(ack));
    }
    await waitFor(() => bob.frames.some((f) => f.includes('pineapple-dm')), 'the DM');
  });
  after(() => s.dispose());

  test('each person finds what they may read: their rooms and their own conversations', async () => {
    assert.deepEqual(where(await search(ann, 'pineapple')), [
      '@bob pineapple-dm only for bob 菠萝',
      'lobby a public pineapple note',
      'vault pineapple stays in the vault too',
    ]);
    assert.deepEqual(where(await search(bob, 'pineapple')), [
      '@ann pineapple-dm only for bob 菠萝',
      'lobby a public pineapple note',
    ]);
    assert.deepEqual(where(await search(eve, 'pineapple')), ['lobby a public pineapple note']);
    const guest = await client(s);
    assert.deepEqual(where(await search(guest, 'pineapple')), ['lobby a public pineapple note']);
    guest.close();
  });

  test('results say where the terms are, in UTF-16 offsets', async () => {
    const [hit] = (await search(ann, 'alpha 秘密')).results;
    assert.ok(hit);
    assert.deepEqual(
      hit.match.map(([a, b]) => hit.text.slice(a, b)),
      ['ALPHA', '秘密'],
    );
    const [tokyo] = (await search(eve, '東京')).results;
    assert.deepEqual(
      tokyo?.match.map(([a, b]) => tokyo.text.slice(a, b)),
      ['東京'],
    );
  });

  test('an outsider never sees a private room or another pair’s conversation, by any route', async () => {
    for (const q of SECRETS) {
      assert.deepEqual((await search(eve, q)).results, [], q);
      assert.deepEqual(
        (await search(bob, q)).results.filter((m) => m.room === 'vault'),
        [],
        q,
      );
    }
    for (const room of ['vault', 'VAULT', '#vault', '@bob', '@ann']) {
      const e = await eve.request({ type: 'search', query: 'pineapple', room });
      assert.ok(e.type === 'error' && e.code === 'NO_SUCH_ROOM', JSON.stringify(e));
    }
    const t = await TestClient.text(s);
    await t.next((f) => f.startsWith('Welcome'));
    t.send(`/login eve ${PASSWORD}`);
    await t.next((f) => f.startsWith('* Signed in as eve'));
    t.send('/search launch');
    await t.next((f) => f === '* Nothing found.' || f.startsWith('!'));
    t.send('/search pineapple');
    assert.equal(
      await t.next((f) => f.includes('pineapple')),
      '[#lobby] ann: a public pineapple note',
    );
    t.close();
    for (const [token, q] of [
      [eve.token, 'launch'],
      [eve.token, '菠萝'],
      [undefined, 'ALPHA'],
      ['x'.repeat(30), 'vault-word'],
    ] as const) {
      const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
      const res = await fetch(`${s.httpUrl}/api/search?q=${encodeURIComponent(q)}`, { headers });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { results: unknown[] };
      assert.deepEqual(body.results, [], q);
    }
    const mine = await fetch(`${s.httpUrl}/api/search?q=launch`, {
      headers: { authorization: `Bearer ${ann.token}` },
    });
    const body = (await mine.json()) as { results: { room: string }[] };
    assert.deepEqual(
      body.results.map((r) => r.room),
      ['vault'],
    );
  });

  test('text mode prints each result as a line naming its room', async () => {
    const t = await TestClient.text(s);
    await t.next((f) => f.startsWith('Welcome'));
    t.send('/search pineapple');
    assert.equal(
      await t.next((f) => f.includes('pineapple')),
      '[#lobby] ann: a public pineapple note',
    );
    t.send('/search');
    assert.match(await t.next((f) => f.includes('/search')), /Usage: \/search TERMS/);
    t.close();
  });

  test('any query is safe: no syntax errors, and never a row the reader may not read', async () => {
    const tricky = fc.constantFrom(
      '"',
      '"launch',
      'launch"',
      'NEAR(launch code)',
      'launch AND code',
      'launch OR pineapple',
      'NOT pineapple',
      '*',
      'laun*',
      '-pineapple',
      'vault.launch',
      "'; DROP TABLE messages; --",
      '%',
      '_',
      '\\',
      '{launch}',
      '^launch',
      'col:launch',
      '秘',
      '秘密',
    );
    const query = fc.oneof(
      tricky,
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const reader = fc.constantFrom<'eve' | 'bob'>('eve', 'bob');
    await fc.assert(
      fc.asyncProperty(
        reader,
        query,
        fc.option(fc.constantFrom('lobby', 'vault', '@ann')),
        async (who, q, room) => {
          const c = who === 'eve' ? eve : bob;
          const e = await c.request({ type: 'search', query: q, ...(room !== null && { room }) });
          if (e.type === 'error') {
            const allowed = ['QUERY_INVALID', 'NO_SUCH_ROOM', 'BAD_REQUEST'];
            assert.ok(allowed.includes(e.code), `${JSON.stringify(q)}: ${e.code}`);
            if (e.code === 'BAD_REQUEST') assert.ok(q.length > 1000);
            return;
          }
          const r = found(e);
          for (const m of r.results) {
            assert.ok(m.room === 'lobby' || (who === 'bob' && m.room === '@ann'), m.room);
            assert.notEqual(m.room, 'vault');
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test('a page is a page: no result twice, and the last says there are no more', async () => {
    for (let i = 0; i < 7; i++) {
      await ann.request({ type: 'send', room: 'lobby', cid: `p${i}`, text: `paging word ${i}` });
    }
    const first = await search(eve, 'paging', { limit: 3 });
    assert.equal(first.results.length, 3);
    assert.ok(first.more && first.next);
    const second = await search(eve, 'paging', { limit: 3, before: first.next });
    const third = await search(eve, 'paging', { limit: 3, before: second.next });
    assert.equal(third.more, false);
    const texts = [...first.results, ...second.results, ...third.results].map((m) => m.text);
    assert.equal(new Set(texts).size, 7);
    const bad = await eve.request({ type: 'search', query: 'paging', before: '-1' });
    assert.ok(bad.type === 'error' && bad.code === 'QUERY_INVALID');
    const empty = await eve.request({ type: 'search', query: '   ' });
    assert.ok(empty.type === 'error' && empty.code === 'QUERY_INVALID');
  });
});

test('searches have a bucket of their own per address', async () => {
  const s = await startTestServer({ addressSearchesPerMinute: 3 });
  try {
    const c = await client(s);
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const e = await c.request({ type: 'search', query: 'anything' });
      codes.push(e.type === 'error' ? e.code : e.type);
    }
    assert.deepEqual(codes, ['result', 'result', 'result', 'RATE_LIMITED']);
    const res = await fetch(`${s.httpUrl}/api/search?q=anything`);
    assert.equal(res.status, 429, 'HTTP counts against the same address');
    c.close();
  } finally {
    await s.dispose();
  }
});
