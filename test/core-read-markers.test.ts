// Read markers in the core alone, on a fake clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Core } from './core-fakes.js';

test('a crowd rejoining a room catches up and counts its unread from one read of the store', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const bob = await core.named('Bob');
  const cy = await core.named('Cy');
  for (let i = 0; i < 30; i++) {
    const text = i === 7 ? `@Bob look ${i}` : `line ${i}`;
    await ann.call({ type: 'send', room: 'lobby', cid: `c${i}`, text });
  }
  core.chat.disconnect(bob.session);
  core.chat.disconnect(cy.session);
  await core.settle();
  const reads: number[] = [];
  const after = core.log.after.bind(core.log);
  core.log.after = async (room, from, limit) => {
    const got = await after(room, from, limit);
    if (got.length > 0) reads.push(got.length);
    return got;
  };
  const [bob2, cy2] = await Promise.all([core.named('Bob', []), core.named('Cy', [])]);
  const back = [bob2, cy2];
  const joined = await Promise.all(
    back.map((c) => c.call({ type: 'join', room: 'lobby', since: 0 })),
  );
  const states = joined.map((j) => (j?.type === 'result' && j.of === 'join' ? j.read : undefined));
  assert.deepEqual(
    states.map((s) => s && [s.unread, s.mentions]),
    [
      [30, 1],
      [30, 0],
    ],
    'each reader gets its own counts',
  );
  await core.settle();
  for (const c of back)
    assert.deepEqual(
      c.of('msg').map((m) => m.seq),
      Array.from({ length: 30 }, (_, i) => i + 1),
      'each caught up with every message, once',
    );
  assert.deepEqual(reads, [30], 'the room was read once for both');
  // A new entry is a new window: what changed is counted.
  await ann.call({ type: 'send', room: 'lobby', cid: 'c30', text: '@Cy and you' });
  await ann.call({ type: 'delete', room: 'lobby', cid: 'd1', seq: 8 });
  await core.settle();
  const again = await core.named('Cy', []);
  core.chat.disconnect(cy2.session);
  const j = await again.call({ type: 'join', room: 'lobby' });
  assert.ok(j?.type === 'result' && j.of === 'join');
  assert.deepEqual(j.read && [j.read.unread, j.read.mentions], [30, 1]);
});
