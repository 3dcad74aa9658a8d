// The delivery contract in the core alone, on a fake clock and an in-memory log: group commit,
// acks after commit, resends, catch-up with `since`, and the gap past the history bound.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Core } from './core-fakes.js';

test('one turn of sends is one commit, in order, acked only after it commits', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const bob = await core.named('Bob');
  const release = core.log.hold();
  const ids = ['a', 'b', 'c'].map((t) =>
    ann.request({ type: 'send', room: 'lobby', cid: `cid-${t}`, text: t }),
  );
  await core.settle();
  assert.deepEqual(core.log.batches, [3], 'the three sends went to the log together');
  assert.deepEqual(ann.of('ack'), [], 'nothing is acked before the commit');
  assert.deepEqual(bob.of('msg'), [], 'nothing is delivered before the commit');

  release();
  await core.settle();
  const acks = ann.of('ack');
  assert.deepEqual(
    acks.map((a) => [a.id, a.cid, a.seq]),
    [
      [ids[0], 'cid-a', 1],
      [ids[1], 'cid-b', 2],
      [ids[2], 'cid-c', 3],
    ],
  );
  assert.deepEqual(
    bob.of('msg').map((m) => [m.seq, m.text, m.from, m.room]),
    [
      [1, 'a', 'Ann', 'lobby'],
      [2, 'b', 'Ann', 'lobby'],
      [3, 'c', 'Ann', 'lobby'],
    ],
  );
  // A msg event has exactly the message's fields, its sender's user id among them.
  assert.deepEqual(Object.keys(bob.of('msg')[0] ?? {}), [
    'type',
    'room',
    'seq',
    'from',
    'fromId',
    'text',
    'ts',
    'cid',
    'me',
  ]);
  // The bus carries the same entries, for the other nodes, each with the sender's user id.
  const annId = await core.log.nameUser('ann');
  assert.ok(annId);
  assert.equal(bob.of('msg')[0]?.fromId, annId);
  const sent = core.bells.flatMap((b) => (b.kind === 'entry' ? [b.entry] : []));
  assert.deepEqual(
    sent.map((e) => [e.kind, e.seq, e.actor, e.actorId]),
    [
      ['message', 1, 'ann', annId],
      ['message', 2, 'ann', annId],
      ['message', 3, 'ann', annId],
    ],
  );
  // The store keeps the id too.
  assert.deepEqual(
    (await core.log.after('lobby', 0, 10)).map((e) => e.actorId),
    [annId, annId, annId],
  );
});

test('sends that arrive while a commit runs go in the next one, after it', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const release = core.log.hold();
  ann.request({ type: 'send', room: 'lobby', cid: 'first-1', text: 'one' });
  await core.settle();
  ann.request({ type: 'send', room: 'lobby', cid: 'second-1', text: 'two' });
  ann.request({ type: 'send', room: 'lobby', cid: 'second-2', text: 'three' });
  await core.settle();
  assert.deepEqual(core.log.batches, [1], 'the later sends wait for the running commit');
  release();
  await core.settle();
  assert.deepEqual(core.log.batches, [1, 2]);
  assert.deepEqual(
    ann.of('ack').map((a) => [a.cid, a.seq]),
    [
      ['first-1', 1],
      ['second-1', 2],
      ['second-2', 3],
    ],
  );
});

test('a resend of a cid gets the first ack and is delivered once', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const bob = await core.named('Bob');
  const first = await ann.call({ type: 'send', room: 'lobby', cid: 'same-cid', text: 'hello' });
  core.clock.advance(5000);
  const again = await ann.call({ type: 'send', room: 'lobby', cid: 'same-cid', text: 'hello' });
  assert.equal(first?.type, 'ack');
  assert.equal(again?.type, 'ack');
  if (first?.type !== 'ack' || again?.type !== 'ack') return;
  assert.deepEqual([again.seq, again.ts], [first.seq, first.ts]);
  assert.equal(bob.of('msg').length, 1);
  assert.equal(core.log.messages.get('lobby')?.length, 1);
  assert.equal(core.bells.filter((b) => b.kind === 'entry').length, 1, 'other nodes hear once');
});

test('a join with since replays what came after it, in order, then goes on live', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  for (let i = 1; i <= 5; i++) {
    await ann.call({ type: 'send', room: 'lobby', cid: `c-${i}`, text: `m${i}` });
  }
  // Bob comes back on a new connection, having seen up to 2.
  const bob = await core.named('Bob', []);
  const joined = await bob.call({ type: 'join', room: 'lobby', since: 2 });
  assert.equal(joined?.type, 'result');
  if (joined?.type === 'result' && joined.of === 'join') assert.equal(joined.lastSeq, 5);
  assert.deepEqual(
    bob.of('msg').map((m) => m.seq),
    [3, 4, 5],
  );
  await ann.call({ type: 'send', room: 'lobby', cid: 'c-6', text: 'm6' });
  assert.deepEqual(
    bob.of('msg').map((m) => m.seq),
    [3, 4, 5, 6],
  );
  assert.deepEqual(bob.of('gap'), []);
});

test('a join behind by more than the history bound gets a gap, then the newest messages', async () => {
  const core = new Core({ historyBound: 3 });
  const ann = await core.named('Ann');
  for (let i = 1; i <= 10; i++) {
    await ann.call({ type: 'send', room: 'lobby', cid: `c-${i}`, text: `m${i}` });
  }
  const bob = await core.named('Bob', []);
  await bob.call({ type: 'join', room: 'lobby', since: 1 });
  assert.deepEqual(
    bob.of('gap').map((g) => [g.room, g.after, g.before]),
    [['lobby', 1, 8]],
  );
  assert.deepEqual(
    bob.of('msg').map((m) => m.seq),
    [8, 9, 10],
  );
  const gapAt = bob.peer.events.findIndex((e) => e.type === 'gap');
  const firstMsg = bob.peer.events.findIndex((e) => e.type === 'msg');
  assert.ok(gapAt < firstMsg, 'the gap comes before the messages after it');
});

test('history pages messages back from the newest', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  for (let i = 1; i <= 4; i++) {
    await ann.call({ type: 'send', room: 'lobby', cid: `c-${i}`, text: `m${i}` });
  }
  const page = await ann.call({ type: 'history', room: 'lobby', limit: 2 });
  assert.ok(page?.type === 'result' && page.of === 'history');
  assert.deepEqual(
    page.messages.map((m) => m.seq),
    [3, 4],
  );
  assert.equal(page.more, true);
  // Exactly the wire fields: nothing of the log entry leaks out.
  assert.deepEqual(Object.keys(page.messages[0] ?? {}).sort(), [
    'cid',
    'from',
    'fromId',
    'me',
    'room',
    'seq',
    'text',
    'ts',
  ]);
});
