// Read markers end to end, in JSON: a person's marker moves forward only, follows them to their
// other sessions (and no one else's), counts what is unread and what mentions them, survives a
// restart, and is refused for a room the person may not read, as for one that does not exist.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TestClient, type TestServer } from './helpers.js';
import type { ServerEvent } from '../src/protocol/index.js';

const PASSWORD = 'correct horse';
let tokens = 0;
const newToken = () => `rm-token-${++tokens}-${'x'.repeat(16)}`;

async function client(s: TestServer): Promise<TestClient> {
  const c = await TestClient.json(s);
  await c.event('welcome');
  return c;
}

/** A session of the person holding `token` (made with `name` the first time). */
async function hello(s: TestServer, token: string, name?: string): Promise<TestClient> {
  const c = await client(s);
  const r = await c.request({ type: 'hello', token, ...(name && { name }) });
  assert.ok(r.type === 'result' && r.of === 'hello', JSON.stringify(r));
  return c;
}

async function join(c: TestClient, room: string) {
  const r = await c.request({ type: 'join', room });
  assert.ok(r.type === 'result' && r.of === 'join', JSON.stringify(r));
  return r;
}

async function send(c: TestClient, room: string, text: string): Promise<number> {
  const r = await c.request({
    type: 'send',
    room,
    cid: `c${Math.random().toString(36).slice(2)}`,
    text,
  });
  assert.ok(r.type === 'ack', JSON.stringify(r));
  return r.seq;
}

async function read(c: TestClient, room: string, seq: number): Promise<ServerEvent> {
  return c.request({ type: 'read', room, seq });
}

function code(e: ServerEvent): string | undefined {
  return e.type === 'error' ? e.code : undefined;
}

test('a marker moves forward only, follows the person to their other sessions, and no one else', async () => {
  const s = await startTestServer();
  try {
    const adaToken = newToken();
    const ada1 = await hello(s, adaToken, 'ada-rm');
    const ada2 = await hello(s, adaToken);
    const bob = await hello(s, newToken(), 'bob-rm');
    const room = 'rm-follow';
    // A first join starts the marker at the room's end: older messages are not new.
    await join(bob, room);
    await send(bob, room, 'before ada came');
    const first = await join(ada1, room);
    assert.deepEqual(first.read, { seq: 1, unread: 0, mentions: 0, upTo: 1 });
    await join(ada2, room);
    await join(bob, room);

    const s2 = await send(bob, room, 'one');
    await send(bob, room, 'hey @ADA-rm, look');
    const s4 = await send(bob, room, 'three');
    await send(ada1, room, 'my own does not count');
    await ada2.event('msg', (m) => m.text === 'my own does not count');
    // What a join says is unread: bob's three, one of them naming ada (in any case).
    const again = await join(ada2, room);
    assert.deepEqual(again.read, { seq: 1, unread: 3, mentions: 1, upTo: 5 });

    // ada reads up to s2 on her first tab: the second hears it, with what is left.
    const r = await read(ada1, room, s2);
    assert.deepEqual(r.type === 'result' && r.of === 'read' && [r.room, r.seq], [room, s2]);
    const moved = await ada2.event('read');
    assert.deepEqual(moved, {
      type: 'read',
      room,
      seq: s2,
      unread: 2,
      mentions: 1,
      upTo: 5,
    });
    // Never back: a lower seq leaves it where it is, and tells no one.
    const back = await read(ada2, room, 1);
    assert.ok(
      back.type === 'result' && back.of === 'read' && back.seq === s2,
      JSON.stringify(back),
    );
    // Past the end is the end.
    const past = await read(ada2, room, 10_000);
    assert.ok(past.type === 'result' && past.of === 'read' && past.seq === 5, JSON.stringify(past));
    const end = await ada1.event('read');
    assert.deepEqual([end.seq, end.unread, end.mentions], [5, 0, 0]);
    assert.ok(s4 < 5);

    // bob, in the same room all along, never hears of ada's marker.
    await new Promise((done) => setTimeout(done, 200));
    assert.equal(bob.events().filter((e) => e.type === 'read').length, 0);
    assert.equal(ada2.events().filter((e) => e.type === 'read').length, 1, 'not its own move');
    for (const c of [ada1, ada2, bob]) c.close();
  } finally {
    await s.dispose();
  }
});

test('markers survive a restart; a guest keeps them under its token; no hello keeps none', async () => {
  const first = await startTestServer();
  const { dataDir } = first;
  const adaToken = newToken();
  const guestToken = newToken();
  const room = 'rm-restart';
  {
    const ada = await hello(first, adaToken, 'ada-rs');
    const guest = await hello(first, guestToken);
    const bob = await hello(first, newToken(), 'bob-rs');
    for (const c of [ada, guest, bob]) await join(c, room);
    for (const t of ['a', 'b', 'c', 'd']) await send(bob, room, t);
    assert.ok((await read(ada, room, 3)).type === 'result');
    assert.ok((await read(guest, room, 4)).type === 'result');
    // A connection that never said hello is nobody yet: nothing is kept for it.
    const anon = await client(first);
    await join(anon, room);
    assert.equal(code(await read(anon, room, 4)), 'NAME_REQUIRED');
    for (const c of [ada, guest, bob, anon]) c.close();
  }
  await first.stop();
  const second = await startTestServer({ dataDir });
  try {
    const ada = await hello(second, adaToken);
    assert.deepEqual((await join(ada, room)).read, {
      seq: 3,
      unread: 1,
      mentions: 0,
      upTo: 4,
    });
    const guest = await hello(second, guestToken);
    assert.deepEqual((await join(guest, room)).read, {
      seq: 4,
      unread: 0,
      mentions: 0,
      upTo: 4,
    });
    // The guest's second tab (the same token) follows it too.
    const tab = await hello(second, guestToken);
    await join(tab, room);
    await join(ada, room);
    const bob = await hello(second, newToken(), 'bob-rs2');
    await join(bob, room);
    const s5 = await send(bob, room, 'e');
    await guest.event('msg', (m) => m.seq === s5);
    assert.ok((await read(guest, room, s5)).type === 'result');
    const heard = await tab.event('read');
    assert.equal(heard.seq, s5);
    await new Promise((done) => setTimeout(done, 200));
    assert.equal(ada.events().filter((e) => e.type === 'read').length, 0, 'not another person');
    for (const c of [ada, guest, tab, bob]) c.close();
  } finally {
    await second.dispose();
  }
});

test('a marker of a room the person may not read is refused as for a room that does not exist', async () => {
  const s = await startTestServer({ guests: 'on' });
  try {
    const ann = await client(s);
    const reg = await ann.request({ type: 'register', name: 'ann-rm', password: PASSWORD });
    assert.ok(reg.type === 'result' && reg.of === 'login', JSON.stringify(reg));
    await join(ann, 'rm-vault');
    const set = await ann.request({ type: 'settings', room: 'rm-vault', visibility: 'private' });
    assert.ok(set.type === 'result', JSON.stringify(set));
    await send(ann, 'rm-vault', 'secret');
    assert.ok((await read(ann, 'rm-vault', 1)).type === 'result');

    const eve = await hello(s, newToken(), 'eve-rm');
    assert.equal(code(await eve.request({ type: 'join', room: 'rm-vault' })), 'NO_SUCH_ROOM');
    const refused = await read(eve, 'rm-vault', 1);
    const never = await read(eve, 'rm-never-made', 1);
    assert.equal(code(refused), 'NOT_IN_ROOM');
    assert.deepEqual(
      refused.type === 'error' && [refused.code, refused.message],
      never.type === 'error' && [never.code, never.message],
    );
    // A direct conversation of two others is not eve's either.
    const bob = await client(s);
    const bobReg = await bob.request({ type: 'register', name: 'bob-rm2', password: PASSWORD });
    assert.ok(bobReg.type === 'result', JSON.stringify(bobReg));
    await send(ann, '@bob-rm2', 'psst');
    assert.equal(code(await read(eve, '@bob-rm2', 1)), 'NOT_IN_ROOM');
    // A bad request changes nothing.
    assert.equal(code(await eve.request({ type: 'read', room: 'lobby', seq: -1 })), 'BAD_REQUEST');
    for (const c of [ann, eve, bob]) c.close();
  } finally {
    await s.dispose();
  }
});

test('a direct conversation: all of it is for you, and the hello says what is unread there', async () => {
  const s = await startTestServer();
  try {
    const annToken = newToken();
    const ann = await hello(s, annToken, 'ann-dm');
    const bob = await hello(s, newToken(), 'bob-dm');
    await send(bob, '@ann-dm', 'hello ann');
    await send(bob, '@ann-dm', 'are you there');
    // The first message put ann in the conversation.
    await ann.event('msg', (m) => m.text === 'are you there');
    ann.close();
    const again = await client(s);
    const h = await again.request({ type: 'hello', token: annToken });
    assert.ok(h.type === 'result' && h.of === 'hello', JSON.stringify(h));
    assert.deepEqual(h.read, [{ room: '@bob-dm', seq: 0, unread: 2, mentions: 2, upTo: 2 }]);
    const j = await join(again, '@bob-dm');
    assert.deepEqual(j.read, { seq: 0, unread: 2, mentions: 2, upTo: 2 });
    assert.ok((await read(again, '@bob-dm', 2)).type === 'result');
    const later = await client(s);
    const h2 = await later.request({ type: 'hello', token: annToken });
    assert.ok(h2.type === 'result' && h2.of === 'hello');
    assert.equal(h2.read, undefined, 'nothing unread any more');
    for (const c of [again, later, bob]) c.close();
  } finally {
    await s.dispose();
  }
});
