// Edits, removals, reactions and replies end to end: real server, real JSON and text clients,
// history over WebSocket and HTTP, a resume with since, and the refusals.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TestClient, type TestServer } from './helpers.js';
import type { ServerEvent } from '../src/protocol/index.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.dispose());

let n = 0;
async function named(name: string): Promise<TestClient> {
  const c = await TestClient.json(server);
  await c.event('welcome');
  const r = await c.request({ type: 'hello', name, token: `lc-token-${++n}-${'x'.repeat(16)}` });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return c;
}

async function joined(name: string, room: string): Promise<TestClient> {
  const c = await named(name);
  const r = await c.request({ type: 'join', room });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return c;
}

function ackSeq(r: ServerEvent): number {
  assert.equal(r.type, 'ack', JSON.stringify(r));
  return r.type === 'ack' ? r.seq : 0;
}

function code(r: ServerEvent): string | undefined {
  return r.type === 'error' ? r.code : undefined;
}

test('JSON: edit, react, reply and remove are acked, fanned out in order, and history shows the state', async () => {
  const room = 'life-json';
  const ada = await joined('ada-lc', room);
  const bob = await joined('bob-lc', room);
  const s1 = ackSeq(await ada.request({ type: 'send', room, cid: 'a1', text: 'helo' }));
  const e1 = ackSeq(await ada.request({ type: 'edit', room, cid: 'a2', seq: s1, text: 'hello' }));
  const r1 = ackSeq(await bob.request({ type: 'react', room, cid: 'b1', seq: s1, emoji: '👋' }));
  const s2 = ackSeq(
    await bob.request({ type: 'send', room, cid: 'b2', text: 'hi ada', replyTo: s1 }),
  );
  assert.deepEqual([e1, r1, s2], [s1 + 1, s1 + 2, s1 + 3]);
  const edit = await bob.event('edit');
  assert.deepEqual([edit.seq, edit.target, edit.text, edit.from], [e1, s1, 'hello', 'ada-lc']);
  const reaction = await ada.event('reaction');
  assert.deepEqual([reaction.target, reaction.emoji, reaction.on], [s1, '👋', true]);
  const reply = await ada.event('msg', (m) => m.cid === 'b2');
  assert.equal(reply.replyTo, s1);

  const h = await bob.request({ type: 'history', room });
  assert.ok(h.type === 'result' && h.of === 'history');
  assert.deepEqual(
    h.messages.map((m) => [m.seq, m.text, m.edited !== undefined, m.reactions, m.replyTo]),
    [
      [s1, 'hello', true, [{ emoji: '👋', count: 1, by: ['bob-lc'] }], undefined],
      [s2, 'hi ada', false, undefined, s1],
    ],
  );

  // Over HTTP as well, in the same current state.
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/rooms/${room}/messages`);
  const body = (await res.json()) as { messages: { seq: number; text: string; edited?: number }[] };
  assert.equal(body.messages[0]?.text, 'hello');
  assert.ok(body.messages[0]?.edited);

  ackSeq(await ada.request({ type: 'delete', room, cid: 'a3', seq: s1 }));
  const gone = await bob.request({ type: 'history', room });
  assert.ok(gone.type === 'result' && gone.of === 'history');
  assert.deepEqual(
    [gone.messages[0]?.removed, gone.messages[0]?.text, gone.messages[0]?.reactions],
    [true, '', undefined],
  );
  ada.close();
  bob.close();
});

test('JSON: refusals change nothing and say why', async () => {
  const room = 'life-refusals';
  const ada = await joined('ada-rf', room);
  const bob = await joined('bob-rf', room);
  const s1 = ackSeq(await ada.request({ type: 'send', room, cid: 'a1', text: 'mine' }));
  const last = async () => {
    const r = await ada.request({ type: 'join', room });
    return r.type === 'result' && r.of === 'join' ? r.lastSeq : -1;
  };
  const before = await last();
  assert.equal(
    code(await bob.request({ type: 'edit', room, cid: 'b1', seq: s1, text: 'x' })),
    'NOT_YOUR_MESSAGE',
  );
  assert.equal(
    code(await bob.request({ type: 'delete', room, cid: 'b2', seq: s1 })),
    'NOT_YOUR_MESSAGE',
  );
  assert.equal(
    code(await bob.request({ type: 'react', room, cid: 'b3', seq: 999, emoji: '👍' })),
    'NO_SUCH_MESSAGE',
  );
  assert.equal(
    code(await bob.request({ type: 'react', room, cid: 'b4', seq: s1, emoji: 'yes' })),
    'EMOJI_INVALID',
  );
  assert.equal(
    code(await bob.request({ type: 'send', room, cid: 'b5', text: 're', replyTo: 999 })),
    'NO_SUCH_MESSAGE',
  );
  assert.equal(await last(), before);
  ackSeq(await ada.request({ type: 'delete', room, cid: 'a2', seq: s1 }));
  assert.equal(
    code(await ada.request({ type: 'edit', room, cid: 'a3', seq: s1, text: 'back' })),
    'MESSAGE_REMOVED',
  );
  ada.close();
  bob.close();
});

test('a resume with since replays edits, reactions and removals in order; changes fixes what came before', async () => {
  const room = 'life-resume';
  const ada = await joined('ada-rs', room);
  const s1 = ackSeq(await ada.request({ type: 'send', room, cid: 'a1', text: 'one' }));
  const s2 = ackSeq(await ada.request({ type: 'send', room, cid: 'a2', text: 'two' }));
  const bob = await joined('bob-rs', room);
  bob.close();
  ackSeq(await ada.request({ type: 'edit', room, cid: 'a3', seq: s1, text: 'uno' }));
  ackSeq(await ada.request({ type: 'react', room, cid: 'a4', seq: s2, emoji: '🎉' }));
  ackSeq(await ada.request({ type: 'delete', room, cid: 'a5', seq: s2 }));
  const back = await named('bob-rs2');
  back.send({ type: 'join', room, since: s2 });
  const replay = [
    await back.event('edit'),
    await back.event('reaction'),
    await back.event('delete'),
  ];
  assert.deepEqual(
    replay.map((e) => [e.type, e.seq, e.target]),
    [
      ['edit', s2 + 1, s1],
      ['reaction', s2 + 2, s2],
      ['delete', s2 + 3, s2],
    ],
  );
  const c = await back.request({ type: 'changes', room, since: s2 });
  assert.ok(c.type === 'result' && c.of === 'changes', JSON.stringify(c));
  assert.deepEqual(
    c.messages.map((m) => [m.seq, m.text, m.removed ?? false]),
    [
      [s1, 'uno', false],
      [s2, '', true],
    ],
  );
  ada.close();
  back.close();
});

test('text mode: /edit, /react, /reply and /delete, seen by a JSON client and as lines', async () => {
  const room = 'life-text';
  const watcher = await joined('watch-tx', room);
  const t = await TestClient.text(server);
  await t.next((f) => f === 'Welcome to the chat!!!');
  t.send('/nick tess');
  await t.next((f) => f.startsWith('* To take this name again'));
  t.send(`/join ${room}`);
  await t.next((f) => f.startsWith(`* Now talking in #${room}`));
  t.send('first try');
  await t.next((f) => f === 'tess: first try');
  t.send('/edit second try');
  await t.next((f) => f.startsWith('* tess edited message'));
  t.send('/react 🙂');
  await t.next((f) => /^\* tess reacted 🙂 to message \d+$/.test(f));
  t.send('/react nope');
  await t.next((f) => f.startsWith('! ') && /emoji/.test(f));
  const m = await watcher.event('msg', (e) => e.from === 'tess');
  t.send(`/reply ${m.seq} replying`);
  await t.next((f) => f === 'tess: replying');
  t.send('/delete');
  await t.next((f) => /^\* message \d+ was removed by tess$/.test(f));
  const edit = await watcher.event('edit');
  assert.equal(edit.text, 'second try');
  const reply = await watcher.event('msg', (e) => e.text === 'replying');
  assert.equal(reply.replyTo, m.seq);
  const del = await watcher.event('delete');
  assert.equal(del.target, reply.seq);
  t.send('/history');
  await t.next((f) => f.includes('tess: second try (edited)') && f.includes('was removed'));
  t.close();
  watcher.close();
});
