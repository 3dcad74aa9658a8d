// Edits, removals, reactions and replies on the core with fakes: each is an entry of the room's
// log, refused with a clear code when it may not be, and shown in history in its current state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Core, type FakeClient } from './core-fakes.js';
import type { ServerEvent } from '../src/protocol/index.js';

function errorCode(e: ServerEvent | undefined): string | undefined {
  return e?.type === 'error' ? e.code : undefined;
}

async function send(c: FakeClient, room: string, text: string, cid: string): Promise<number> {
  const ack = await c.call({ type: 'send', room, cid, text });
  if (ack?.type !== 'ack') throw new Error(`send failed: ${JSON.stringify(ack)}`);
  return ack.seq;
}

async function history(c: FakeClient, room: string) {
  const h = await c.call({ type: 'history', room });
  if (h?.type !== 'result' || h.of !== 'history') throw new Error(JSON.stringify(h));
  return h.messages;
}

test('an edit is an entry of the log with its own seq, acked, fanned out, and shown in history', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const bob = await core.named('bob');
  const seq = await send(ada, 'lobby', 'helo', 'm1');
  const ack = await ada.call({ type: 'edit', room: 'lobby', cid: 'e1', seq, text: 'hello' });
  assert.equal(ack?.type, 'ack');
  assert.equal(ack?.type === 'ack' && ack.seq, seq + 1);
  const edit = bob.of('edit')[0];
  assert.deepEqual(
    edit && { seq: edit.seq, target: edit.target, text: edit.text, from: edit.from },
    { seq: seq + 1, target: seq, text: 'hello', from: 'ada' },
  );
  const [m] = await history(bob, 'lobby');
  assert.equal(m?.text, 'hello');
  assert.equal(m?.edited, core.clock.now());
  // History counts messages, not entries: one message, though the log has two entries.
  assert.equal((await history(bob, 'lobby')).length, 1);
});

test('the same cid again changes nothing and gets the first ack', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const seq = await send(ada, 'lobby', 'one', 'm1');
  const first = await ada.call({ type: 'edit', room: 'lobby', cid: 'e1', seq, text: 'two' });
  core.clock.advance(1000);
  const again = await ada.call({ type: 'edit', room: 'lobby', cid: 'e1', seq, text: 'three' });
  assert.equal(first?.type, 'ack');
  assert.deepEqual(
    again?.type === 'ack' && [again.seq, again.ts],
    first?.type === 'ack' && [first.seq, first.ts],
  );
  assert.equal((await history(ada, 'lobby'))[0]?.text, 'two');
  assert.equal(await core.log.lastSeq('lobby'), 2);
});

test('refusals: another person’s message, a removed one, none at all, a bad emoji', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const bob = await core.named('bob');
  const seq = await send(ada, 'lobby', 'mine', 'm1');
  const refused = async (c: FakeClient, req: Parameters<FakeClient['call']>[0]) =>
    errorCode(await c.call(req));
  assert.equal(
    await refused(bob, { type: 'edit', room: 'lobby', cid: 'x1', seq, text: 'no' }),
    'NOT_YOUR_MESSAGE',
  );
  assert.equal(
    await refused(bob, { type: 'delete', room: 'lobby', cid: 'x2', seq }),
    'NOT_YOUR_MESSAGE',
  );
  assert.equal(
    await refused(bob, { type: 'react', room: 'lobby', cid: 'x3', seq: 99, emoji: '👍' }),
    'NO_SUCH_MESSAGE',
  );
  assert.equal(
    await refused(bob, { type: 'send', room: 'lobby', cid: 'x4', text: 'hi', replyTo: 99 }),
    'NO_SUCH_MESSAGE',
  );
  for (const emoji of ['a', ':)', '👍👍', '', '1', '👍x']) {
    assert.equal(
      await refused(bob, { type: 'react', room: 'lobby', cid: `x5${emoji.length}`, seq, emoji }),
      'EMOJI_INVALID',
      emoji,
    );
  }
  assert.equal(await core.log.lastSeq('lobby'), 1, 'nothing refused took a number');
  await ada.call({ type: 'delete', room: 'lobby', cid: 'd1', seq });
  assert.equal(
    await refused(ada, { type: 'edit', room: 'lobby', cid: 'x6', seq, text: 'back' }),
    'MESSAGE_REMOVED',
  );
  assert.equal(
    await refused(bob, { type: 'react', room: 'lobby', cid: 'x7', seq, emoji: '👍' }),
    'MESSAGE_REMOVED',
  );
  assert.equal(await core.log.lastSeq('lobby'), 2);
});

test('emoji with modifiers, joiners, flags and keycaps are emoji', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const seq = await send(ada, 'lobby', 'react to me', 'm1');
  const emoji = ['👍', '👍🏽', '❤️', '👩‍👩‍👧', '🇫🇷', '1️⃣', '🏳️‍🌈'];
  for (const [i, e] of emoji.entries()) {
    const r = await ada.call({ type: 'react', room: 'lobby', cid: `r${i}`, seq, emoji: e });
    assert.equal(r?.type, 'ack', `${e}: ${JSON.stringify(r)}`);
  }
  const [m] = await history(ada, 'lobby');
  assert.deepEqual(
    m?.reactions?.map((r) => r.emoji),
    emoji,
  );
});

test('a reaction toggles: one of each per person, counts and who in history', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const bob = await core.named('bob');
  const seq = await send(ada, 'lobby', 'nice', 'm1');
  await ada.call({ type: 'react', room: 'lobby', cid: 'r1', seq, emoji: '👍' });
  await bob.call({ type: 'react', room: 'lobby', cid: 'r2', seq, emoji: '👍' });
  await bob.call({ type: 'react', room: 'lobby', cid: 'r3', seq, emoji: '🎉' });
  assert.deepEqual((await history(ada, 'lobby'))[0]?.reactions, [
    { emoji: '👍', count: 2, by: ['ada', 'bob'] },
    { emoji: '🎉', count: 1, by: ['bob'] },
  ]);
  await bob.call({ type: 'react', room: 'lobby', cid: 'r4', seq, emoji: '👍' });
  assert.deepEqual(
    ada.of('reaction').map((r) => [r.from, r.emoji, r.on]),
    [
      ['ada', '👍', true],
      ['bob', '👍', true],
      ['bob', '🎉', true],
      ['bob', '👍', false],
    ],
  );
  assert.deepEqual((await history(ada, 'lobby'))[0]?.reactions, [
    { emoji: '👍', count: 1, by: ['ada'] },
    { emoji: '🎉', count: 1, by: ['bob'] },
  ]);
});

test('at most 20 distinct emoji on a message', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const seq = await send(ada, 'lobby', 'so many', 'm1');
  const faces = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗'];
  assert.equal(faces.length, 20);
  for (const [i, e] of faces.entries()) {
    const r = await ada.call({ type: 'react', room: 'lobby', cid: `r${i}`, seq, emoji: e });
    assert.equal(r?.type, 'ack');
  }
  const r = await ada.call({ type: 'react', room: 'lobby', cid: 'r21', seq, emoji: '🤩' });
  assert.equal(errorCode(r), 'TOO_MANY_REACTIONS');
  // One already there may still be taken back.
  const back = await ada.call({ type: 'react', room: 'lobby', cid: 'r22', seq, emoji: '😀' });
  assert.equal(back?.type, 'ack');
});

test('a removal purges the text and the edits, keeps a placeholder, and is audited for a moderator', async () => {
  const core = new Core();
  const ada = await core.named('ada', ['dev']); // the room's maker: its owner
  const bob = await core.named('bob', ['dev']);
  const seq = await send(bob, 'dev', 'secret', 'm1');
  await bob.call({ type: 'edit', room: 'dev', cid: 'e1', seq, text: 'more secret' });
  await bob.call({ type: 'react', room: 'dev', cid: 'r1', seq, emoji: '👍' });
  const ack = await ada.call({ type: 'delete', room: 'dev', cid: 'd1', seq });
  assert.equal(ack?.type, 'ack', JSON.stringify(ack));
  const [m] = await history(bob, 'dev');
  assert.equal(m?.removed, true);
  assert.equal(m?.text, '');
  assert.equal(m?.reactions, undefined);
  const entries = await core.log.after('dev', 0, 10);
  assert.ok(
    entries.every((e) => !('text' in e) || e.text === ''),
    JSON.stringify(entries),
  );
  const audit = await core.store.auditBefore(undefined, 10);
  assert.deepEqual(
    audit.map((e) => [e.action, e.room, e.reason]),
    [['remove message', 'dev', `message ${seq}`]],
  );
  assert.deepEqual(
    bob.of('delete').map((d) => [d.target, d.from]),
    [[seq, 'ada']],
  );
});

test('one’s own removal is not a moderation act; a member may not remove another’s', async () => {
  const core = new Core();
  const ada = await core.named('ada', ['dev']);
  const bob = await core.named('bob', ['dev']);
  const a = await send(ada, 'dev', 'ada here', 'm1');
  assert.equal(
    errorCode(await bob.call({ type: 'delete', room: 'dev', cid: 'd1', seq: a })),
    'NOT_YOUR_MESSAGE',
  );
  const b = await send(bob, 'dev', 'oops', 'm2');
  assert.equal((await bob.call({ type: 'delete', room: 'dev', cid: 'd2', seq: b }))?.type, 'ack');
  assert.deepEqual(await core.store.auditBefore(undefined, 10), []);
});

test('--edit-window bounds edits', async () => {
  const core = new Core({ editWindowMs: 60_000 });
  const ada = await core.named('ada');
  const seq = await send(ada, 'lobby', 'quick', 'm1');
  assert.equal(
    (await ada.call({ type: 'edit', room: 'lobby', cid: 'e1', seq, text: 'fix' }))?.type,
    'ack',
  );
  core.clock.advance(61_000);
  assert.equal(
    errorCode(await ada.call({ type: 'edit', room: 'lobby', cid: 'e2', seq, text: 'late' })),
    'EDIT_WINDOW_PASSED',
  );
  // A removal has no window.
  assert.equal((await ada.call({ type: 'delete', room: 'lobby', cid: 'd1', seq }))?.type, 'ack');
});

test('a reply names the message it answers, in the event and in history', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const bob = await core.named('bob');
  const seq = await send(ada, 'lobby', 'question?', 'm1');
  await bob.call({ type: 'send', room: 'lobby', cid: 'm2', text: 'answer', replyTo: seq });
  const live = ada.of('msg').find((m) => m.cid === 'm2');
  assert.equal(live?.replyTo, seq);
  assert.equal((await history(ada, 'lobby'))[1]?.replyTo, seq);
});

test('a resume with since replays edits, removals and reactions in order with the messages', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const bob = await core.named('bob');
  const s1 = await send(ada, 'lobby', 'one', 'm1');
  await bob.call({ type: 'part', room: 'lobby' });
  await ada.call({ type: 'edit', room: 'lobby', cid: 'e1', seq: s1, text: 'uno' });
  const s2 = await send(ada, 'lobby', 'two', 'm2');
  await ada.call({ type: 'react', room: 'lobby', cid: 'r1', seq: s2, emoji: '👍' });
  await ada.call({ type: 'delete', room: 'lobby', cid: 'd1', seq: s1 });
  bob.clear();
  await bob.call({ type: 'join', room: 'lobby', since: s1 });
  const replay = bob.peer.events
    .filter((e) => ['msg', 'edit', 'delete', 'reaction'].includes(e.type))
    .map((e) => [e.type, 'seq' in e ? e.seq : 0]);
  assert.deepEqual(replay, [
    ['edit', 2],
    ['msg', 3],
    ['reaction', 4],
    ['delete', 5],
  ]);
});

test('changes since an entry: the current state of the older messages it changed', async () => {
  const core = new Core();
  const ada = await core.named('ada');
  const s1 = await send(ada, 'lobby', 'one', 'm1');
  const s2 = await send(ada, 'lobby', 'two', 'm2');
  const mark = await core.log.lastSeq('lobby');
  await ada.call({ type: 'edit', room: 'lobby', cid: 'e1', seq: s1, text: 'uno' });
  await ada.call({ type: 'react', room: 'lobby', cid: 'r1', seq: s2, emoji: '🎉' });
  await ada.call({ type: 'delete', room: 'lobby', cid: 'd1', seq: s2 });
  const s3 = await send(ada, 'lobby', 'three', 'm3');
  await ada.call({ type: 'edit', room: 'lobby', cid: 'e2', seq: s3, text: 'tres' });
  const r = await ada.call({ type: 'changes', room: 'lobby', since: mark, before: s3 });
  assert.ok(r?.type === 'result' && r.of === 'changes', JSON.stringify(r));
  assert.deepEqual(
    r.messages.map((m) => [m.seq, m.text, m.removed ?? false]),
    [
      [s1, 'uno', false],
      [s2, '', true],
    ],
  );
  assert.equal(r.upTo, await core.log.lastSeq('lobby'));
  assert.equal(r.more, false);
});

test('text mode: /edit, /react, /delete and /reply, and readable lines for each', async () => {
  const core = new Core();
  const bob = await core.named('bob');
  const t = await core.connectText('192.0.2.9');
  await t.line('/nick ada');
  await t.line('hello wrld');
  await t.line('/edit hello world');
  await t.line('/react 👍');
  await t.line('/reply 1 me too');
  await t.line('/delete');
  await t.line('/delete 1');
  await t.line('/react nope');
  const lines = t.peer.lines.join('\n');
  assert.match(lines, /\* ada edited message 1: hello world/);
  assert.match(lines, /\* ada reacted 👍 to message 1/);
  assert.match(lines, /ada: me too/);
  assert.match(lines, /\* message 4 was removed by ada/);
  assert.match(lines, /\* message 1 was removed by ada/);
  assert.match(lines, /! .*one emoji/i);
  const h = await history(bob, 'lobby');
  assert.deepEqual(
    h.map((m) => [m.seq, m.removed ?? false, m.replyTo]),
    [
      [1, true, undefined],
      [4, true, 1],
    ],
  );
});

test('a change crosses the bus as a payload of its own and comes back the same entry', async () => {
  const { encodeEvent, parseEvent } = await import('../src/bus/redis.js');
  const base = { room: 'lobby', seq: 7, cid: 'c7', from: 'Ada', ts: 5, target: 3, actor: 'ada' };
  const entries = [
    { kind: 'edit', ...base, text: 'new', actorId: 'u_1' },
    { kind: 'delete', ...base, actorId: null },
    { kind: 'reaction', ...base, emoji: '👍', on: false, actorId: 'u_2' },
  ] as const;
  for (const entry of entries) {
    const payload = encodeEvent({ kind: 'entry', node: 'n2', entry });
    assert.equal((JSON.parse(payload) as { kind: string }).kind, entry.kind);
    assert.deepEqual(parseEvent(payload), { kind: 'entry', node: 'n2', entry });
  }
});
