// The page's message state without a browser: change entries applied to a message, each as
// often as it may arrive (live, in a page of history, replayed) with the same end state.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isEmoji, type ChatMessage } from '../src/protocol/index.js';
import {
  allowed,
  applyChange,
  firstLine,
  isMine,
  newest,
  reactionWho,
  type ChangeEvent,
} from '../src/client/message-state.js';

function msg(seq: number, from = 'ada', text = `m${seq}`): ChatMessage {
  return { room: 'lobby', seq, from, text, ts: 1000 + seq, cid: `c${seq}`, me: false };
}

let entry = 100;
function edit(target: number, text: string, ts: number, from = 'ada'): ChangeEvent {
  return { type: 'edit', room: 'lobby', seq: ++entry, cid: `e${entry}`, from, ts, target, text };
}
function del(target: number, from = 'ada'): ChangeEvent {
  return { type: 'delete', room: 'lobby', seq: ++entry, cid: `d${entry}`, from, ts: 5000, target };
}
function react(target: number, from: string, emoji: string, on: boolean): ChangeEvent {
  const base = { room: 'lobby', seq: ++entry, cid: `r${entry}`, from, ts: 5000, target };
  return { type: 'reaction', ...base, emoji, on };
}

test('an edit replaces the text and marks the time; an older edit arriving late changes nothing', () => {
  const m = msg(1);
  const a = applyChange(m, edit(1, 'first fix', 2000));
  assert.deepEqual([a.text, a.edited], ['first fix', 2000]);
  const b = applyChange(a, edit(1, 'second fix', 3000));
  assert.deepEqual([b.text, b.edited], ['second fix', 3000]);
  assert.equal(applyChange(b, edit(1, 'first fix', 2000)), b, 'the older edit is passed over');
  assert.equal(applyChange(b, edit(1, 'second fix', 3000)), b, 'the same edit again: no change');
  assert.equal(applyChange(b, edit(2, 'other', 4000)), b, 'an edit of another message');
  assert.equal(m.text, 'm1', 'the message given is not changed');
});

test('a removal empties the text and drops the reactions, and nothing changes it after', () => {
  const m = applyChange(msg(1), react(1, 'bob', '👍', true));
  const gone = applyChange(m, del(1, 'mod'));
  assert.deepEqual([gone.removed, gone.text, gone.reactions], [true, '', undefined]);
  assert.equal(applyChange(gone, edit(1, 'back', 9000)), gone);
  assert.equal(applyChange(gone, react(1, 'bob', '🎉', true)), gone);
  assert.equal(applyChange(gone, del(1)), gone);
});

test('reactions count once per name, in the order first made; taking back the last drops the emoji', () => {
  let m = msg(1);
  m = applyChange(m, react(1, 'bob', '👍', true));
  m = applyChange(m, react(1, 'cy', '👍', true));
  m = applyChange(m, react(1, 'bob', '🎉', true));
  assert.deepEqual(m.reactions, [
    { emoji: '👍', count: 2, by: ['bob', 'cy'] },
    { emoji: '🎉', count: 1, by: ['bob'] },
  ]);
  // The same entry twice (live, then a page that had it), and a name in other case.
  assert.equal(applyChange(m, react(1, 'BOB', '👍', true)), m);
  m = applyChange(m, react(1, 'bob', '👍', false));
  assert.deepEqual(m.reactions?.[0], { emoji: '👍', count: 1, by: ['cy'] });
  assert.equal(applyChange(m, react(1, 'bob', '👍', false)), m, 'taken back already');
  m = applyChange(m, react(1, 'cy', '👍', false));
  m = applyChange(m, react(1, 'bob', '🎉', false));
  assert.equal(m.reactions, undefined);
});

test('a page read after the reactions, then each again (some twice), ends as they did once', () => {
  const names = ['ada', 'bob', 'cy'];
  const emoji = ['👍', '🎉'];
  const step = fc.record({
    from: fc.constantFrom(...names),
    emoji: fc.constantFrom(...emoji),
  });
  fc.assert(
    fc.property(
      fc.array(step, { maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (steps, again) => {
        // Each step toggles: `on` is what the server says after it (it knows the state).
        const held = new Set<string>();
        const events = steps.map((s) => {
          const k = `${s.from} ${s.emoji}`;
          const on = !held.has(k);
          if (on) held.add(k);
          else held.delete(k);
          return react(1, s.from, s.emoji, on);
        });
        const once = events.reduce(applyChange, msg(1));
        // A page of history read after the entries and then each entry live again, in order, and
        // some of them a second time each right after itself (a replay crossing a live one).
        const repeats = new Set(again.map((i) => i % Math.max(1, events.length)));
        let twice = once;
        events.forEach((e, i) => {
          twice = applyChange(twice, e);
          if (repeats.has(i)) twice = applyChange(twice, e);
        });
        const counts = (m: ChatMessage) =>
          Object.fromEntries((m.reactions ?? []).map((r) => [r.emoji, [...r.by].sort()]));
        assert.deepEqual(counts(twice), counts(once));
        for (const r of once.reactions ?? []) assert.equal(r.count, r.by.length);
        assert.deepEqual(
          counts(once),
          Object.fromEntries(
            emoji
              .map((e) => [e, names.filter((n) => held.has(`${n} ${e}`))] as const)
              .filter(([, by]) => by.length > 0),
          ),
        );
      },
    ),
  );
});

test('the menu offers edit on my own messages and remove on mine or, for moderators, anyone’s', () => {
  assert.deepEqual(allowed(msg(1, 'Ada'), { name: 'ada' }, false), { edit: true, remove: true });
  assert.deepEqual(allowed(msg(1, 'bob'), { name: 'ada' }, false), { edit: false, remove: false });
  assert.deepEqual(allowed(msg(1, 'bob'), { name: 'ada' }, true), { edit: false, remove: true });
  const gone = applyChange(msg(1), del(1));
  assert.deepEqual(allowed(gone, { name: 'ada' }, true), { edit: false, remove: false });
});

test('a message is mine by user id, whatever name it was sent under or anyone has now', () => {
  const sent = { ...msg(1, 'ada'), fromId: 'u_ada' };
  // ada is annie now: her message under the old name is hers still.
  const annie = { name: 'annie', id: 'u_ada' };
  assert.ok(isMine(sent, annie));
  assert.deepEqual(allowed(sent, annie, false), { edit: true, remove: true });
  // Someone else under the name ada: not theirs, though the names match.
  const other = { name: 'ada', id: 'u_other' };
  assert.ok(!isMine(sent, other));
  assert.deepEqual(allowed(sent, other, false), { edit: false, remove: false });
  assert.deepEqual(allowed(sent, other, true), { edit: false, remove: true });
  // A message stored before user ids is shown by its name, but the server ties it to no one:
  // neither edit nor remove is its sender's.
  const old = msg(2, 'ada');
  assert.ok(isMine(old, other));
  assert.deepEqual(allowed(old, other, false), { edit: false, remove: false });
  assert.deepEqual(allowed(old, other, true), { edit: false, remove: true });
  // A server that says no ids: names decide, as before.
  assert.ok(isMine(sent, { name: 'ADA' }));
  assert.ok(!isMine(sent, { name: 'annie' }));
});

test('edit is offered only within the edit window the server tells; remove is not limited', () => {
  const me = { name: 'ada', id: 'u_ada' };
  const m = { ...msg(1, 'ada'), fromId: 'u_ada', ts: 10_000 };
  const minute = 60_000;
  assert.deepEqual(allowed(m, me, false, { ms: minute, now: 10_000 + minute }), {
    edit: true,
    remove: true,
  });
  assert.deepEqual(allowed(m, me, false, { ms: minute, now: 10_001 + minute }), {
    edit: false,
    remove: true,
  });
  // 0: no window.
  assert.deepEqual(allowed(m, me, false, { ms: 0, now: 10_000 + 100 * minute }), {
    edit: true,
    remove: true,
  });
});

test('newest, first lines, who reacted, and what the page takes for one emoji', () => {
  const list = [msg(1, 'ada'), msg(2, 'bob'), applyChange(msg(3, 'ada'), del(3))];
  assert.equal(newest(list, (m) => !m.removed && m.from === 'ada')?.seq, 1);
  assert.equal(newest(list, (m) => !m.removed)?.seq, 2);
  assert.equal(
    newest([], () => true),
    undefined,
  );

  assert.equal(firstLine('\n  \n  hello there  \nsecond'), 'hello there');
  assert.equal(firstLine('a\u2028b'), 'a');
  assert.equal(firstLine('x'.repeat(150)), `${'x'.repeat(100)}…`);
  assert.equal(firstLine(''), '');

  const r = { emoji: '👍', count: 3, by: ['bob', 'ada', 'cy'] };
  assert.equal(reactionWho(r, 'ADA'), 'You, bob and cy reacted with 👍');
  assert.equal(reactionWho({ emoji: '🎉', count: 1, by: ['bob'] }, 'ada'), 'bob reacted with 🎉');
  assert.equal(
    reactionWho({ emoji: '🎉', count: 5, by: ['a', 'b', 'c', 'd', 'e'] }, 'z', 3),
    'a, b, c and 2 others reacted with 🎉',
  );

  // The page checks a reaction with the server's own rule before it queues it.
  for (const e of ['👍', '❤️', '👍🏽', '👨‍👩‍👧', '🇫🇷', '1️⃣']) assert.ok(isEmoji(e), e);
  for (const e of ['', 'a', 'yes', '👍👍', '👍 ', '<b>']) assert.ok(!isEmoji(e), e);
});
