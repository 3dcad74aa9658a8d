// Long reads wait their turn: one waiter goes on per event-loop turn, in order, so other work
// (a message arriving on a socket) runs between two chunks of a history page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Turns } from '../src/core/turns.js';

/** Resolves after `n` turns of the event loop. */
async function turnsLater(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('one waiter goes on per turn, first come first served, with other work between', async () => {
  const turns = new Turns();
  const order: string[] = [];
  // Three readers each wait three times, all at once.
  const readers = ['a', 'b', 'c'].map(async (who) => {
    for (let chunk = 0; chunk < 3; chunk++) {
      await turns.next();
      order.push(`${who}${chunk}`);
    }
  });
  // Other work scheduled on each turn meanwhile.
  const other = (async () => {
    for (let i = 0; i < 9; i++) {
      await new Promise((r) => setImmediate(r));
      order.push('x');
    }
  })();
  await Promise.all([...readers, other]);
  const reads = order.filter((o) => o !== 'x');
  assert.deepEqual(reads, ['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
  // Never two chunks without a turn of other work between them.
  for (let i = 1; i < order.length; i++) {
    assert.ok(order[i] === 'x' || order[i - 1] === 'x', order.join(' '));
  }
});

test('a waiter alone goes on at the next turn', async () => {
  const turns = new Turns();
  let done = false;
  void turns.next().then(() => (done = true));
  assert.equal(done, false);
  await turnsLater(2);
  assert.equal(done, true);
});
