// A SQLite store searches on a thread of its own, with its own connection: what it finds must
// be exactly what the writer has committed, at once, and a crowd of searches is refused past a
// bound rather than queued without end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { searchTerms } from '../src/core/search-terms.js';
import { ChatError } from '../src/protocol/index.js';
import { openSqliteStore } from '../src/store/sqlite.js';

const NOW = 1_700_000_000_000;

async function withStore(
  run: (store: ReturnType<typeof openSqliteStore>) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-search-thread-'));
  const store = openSqliteStore(join(dir, 'parley.db'));
  try {
    await run(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const find = (store: ReturnType<typeof openSqliteStore>, query: string) =>
  store.search({ terms: searchTerms(query), rooms: ['lobby'], offset: 0, limit: 20 });

test('every committed message is found by the very next search, and a removed one is not', async () => {
  await withStore(async (store) => {
    for (let i = 0; i < 30; i++) {
      const [c] = await store.append(
        [
          {
            room: 'lobby',
            cid: `c${i}`,
            from: 'ann',
            fromId: 'u_ann',
            text: `kiwi${i}z`,
            me: false,
          },
        ],
        NOW + i,
      );
      assert.ok(c);
      assert.deepEqual(
        (await find(store, `kiwi${i}z`)).hits.map((h) => h.seq),
        [c.message.seq],
        `message ${i} found at once`,
      );
      const [removed] = await store.append(
        [
          {
            room: 'lobby',
            cid: `d${i}`,
            from: 'ann',
            fromId: 'u_ann',
            kind: 'delete',
            target: c.message.seq,
            anyone: false,
          },
        ],
        NOW + i,
      );
      assert.ok(removed && 'entry' in removed, JSON.stringify(removed));
      assert.deepEqual((await find(store, `kiwi${i}z`)).hits, [], `removal ${i} unfound at once`);
    }
  });
});

test('past 32 searches waiting, the next are refused with RATE_LIMITED, and the rest are answered', async () => {
  await withStore(async (store) => {
    const texts = Array.from({ length: 2000 }, (_, i) => `the common words of message ${i}`);
    await store.append(
      texts.map((text, i) => ({
        room: 'lobby',
        cid: `c${i}`,
        from: 'ann',
        fromId: 'u_ann',
        text,
        me: false,
      })),
      NOW,
    );
    const outcomes = await Promise.allSettled(
      Array.from({ length: 60 }, () => find(store, 'common words')),
    );
    const refused = outcomes.filter(
      (o) =>
        o.status === 'rejected' &&
        o.reason instanceof ChatError &&
        o.reason.code === 'RATE_LIMITED',
    );
    const answered = outcomes.filter((o) => o.status === 'fulfilled');
    assert.equal(refused.length + answered.length, 60, 'nothing else went wrong');
    assert.ok(refused.length >= 1 && answered.length >= 32, `${answered.length} answered`);
    for (const o of answered) assert.equal(o.value.hits.length, 20);
    assert.equal((await find(store, 'message 1999')).hits[0]?.seq, 2000, 'answered again after');
  });
});
