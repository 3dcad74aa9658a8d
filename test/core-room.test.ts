// A room's member list, kept in order as people come and go.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Room, byName } from '../src/core/room.js';

test('the member list stays sorted and exact through any comings and goings', () => {
  const names = ['ann', 'Bob', 'bob2', 'Émile', 'zed', 'Ünal', 'cy', 'Dee', 'eve', 'ann2'];
  const op = fc.record({
    who: fc.integer({ min: 0, max: names.length - 1 }),
    what: fc.constantFrom('addLocal', 'removeLocal', 'addRemote', 'removeRemote', 'ask'),
  });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const room = new Room('r');
      for (const { who, what } of ops) {
        const display = names[who] ?? '';
        const key = display.toLowerCase();
        if (what === 'addLocal') room.addLocal(key, display);
        else if (what === 'removeLocal') room.removeLocal(key);
        else if (what === 'addRemote') room.addRemote(key, display, 'n2');
        else if (what === 'removeRemote') room.removeRemote(key, 'n2');
        else room.members();
        const present = room
          .memberKeys()
          .map((k) => room.displayOf(k) ?? '')
          .sort(byName);
        assert.deepEqual(room.members(), present);
      }
    }),
  );
});

test('names sort case-insensitively, and apart only by case after that', () => {
  const sorted = ['bob', 'Ann', 'ann', 'Cy', 'ALICE'].sort(byName);
  assert.deepEqual(sorted, ['ALICE', 'Ann', 'ann', 'bob', 'Cy']);
});
