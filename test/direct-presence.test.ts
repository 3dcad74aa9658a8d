// Presence in direct conversations: the two participants learn whether the other is connected
// (in the conversation, on any node); no one else learns anything, from any route.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startTestServer, TestClient, type TestServer } from './helpers.js';
import { OwnRedis, freshSchema } from './cluster-harness.js';
import type { ServerEvent } from '../src/protocol/index.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.dispose());

let tokens = 0;
function token(): string {
  return `dp-token-${++tokens}-0123456789abcdef`;
}

async function named(s: TestServer, name: string, tok = token()): Promise<TestClient> {
  const c = await TestClient.json(s);
  await c.event('welcome');
  const r = await c.request({ type: 'hello', name, token: tok });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return c;
}

async function joinMembers(c: TestClient, room: string): Promise<string[]> {
  const r = await c.request({ type: 'join', room });
  assert.ok(r.type === 'result' && r.of === 'join', JSON.stringify(r));
  return r.type === 'result' && r.of === 'join' ? r.members : [];
}

/** Joins (and parts again) until the join lists these members: another node's news takes a moment. */
async function membersBecome(c: TestClient, room: string, expected: string[]): Promise<void> {
  const end = Date.now() + 5000;
  for (;;) {
    const members = await joinMembers(c, room);
    if (JSON.stringify(members) === JSON.stringify(expected)) return;
    if (Date.now() > end) assert.deepEqual(members, expected);
    await c.request({ type: 'part', room });
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every presence event a client got that mentions a direct conversation or these names. */
function presenceAbout(c: TestClient, names: string[]): ServerEvent[] {
  return c
    .events()
    .filter((e) => e.type === 'presence' && (e.room.startsWith('@') || names.includes(e.name)));
}

async function textNamed(s: TestServer, name: string, key?: string): Promise<[TestClient, string]> {
  const t = await TestClient.text(s);
  await t.next((f) => f === 'Welcome to the chat!!!');
  t.send(key ? `/nick ${name} ${key}` : `/nick ${name}`);
  await t.next((f) => f.startsWith('* You are now'));
  if (key) return [t, key];
  const line = await t.next((f) => f.startsWith('* To take this name again'));
  return [t, line.split(' ').pop() ?? ''];
}

test('a direct join lists the participants connected to it; they hear each other come and go', async () => {
  const ann = await named(server, 'ann');
  const bob = await named(server, 'bob');
  const carol = await named(server, 'carol');
  for (const c of [ann, bob, carol]) await joinMembers(c, 'lobby');
  // ann is connected: opening the conversation puts her in it, so bob sees her there.
  assert.deepEqual(await joinMembers(bob, '@ann'), ['ann', 'bob']);
  // carol's "@ann" is her own conversation with ann: bob is not in it.
  assert.deepEqual(await joinMembers(carol, '@ann'), ['ann', 'carol']);
  assert.deepEqual(await joinMembers(ann, '@bob'), ['ann', 'bob']);
  const came = await bob.event('presence', (e) => e.room === '@ann');
  assert.deepEqual([came.name, came.event], ['ann', 'join']);
  const leave = await ann.request({ type: 'part', room: '@bob' });
  assert.equal(leave.type, 'result');
  const went = await bob.event('presence', (e) => e.room === '@ann' && e.event === 'leave');
  assert.equal(went.name, 'ann');
  assert.deepEqual(await joinMembers(ann, '@bob'), ['ann', 'bob']);
  await bob.event('presence', (e) => e.room === '@ann' && e.event === 'join');
  ann.close();
  await bob.event('presence', (e) => e.room === '@ann' && e.event === 'leave');
  // carol is told nothing of ann and bob's conversation (and ann never opened carol's).
  const late = await carol.request({ type: 'who', room: 'lobby' });
  assert.equal(late.type, 'result', 'carol has been served everything sent before');
  assert.deepEqual(
    presenceAbout(carol, ['bob']).filter((e) => e.type === 'presence' && e.name !== 'ann'),
    [],
  );
  assert.ok(presenceAbout(carol, []).every((e) => e.type === 'presence' && e.room === '@ann'));
  const rooms = await carol.request({ type: 'rooms' });
  assert.ok(rooms.type === 'result' && rooms.of === 'rooms');
  if (rooms.type === 'result' && rooms.of === 'rooms') {
    assert.ok(!rooms.rooms.some((r) => r.room.includes('@')), JSON.stringify(rooms.rooms));
  }
  for (const c of [bob, carol]) c.close();
});

test('a named text session is in its direct conversations from /nick on', async () => {
  const [tina, key] = await textNamed(server, 'tina');
  const benToken = token();
  const ben = await named(server, 'ben', benToken);
  await ben.request({ type: 'send', room: '@tina', cid: 'dp1', text: 'hi tina' });
  await tina.next((f) => f.includes('hi tina'));
  tina.close();
  await ben.event('presence', (e) => e.room === '@tina' && e.event === 'leave');
  // Back with her name: every direct message reaches her live, so she counts as present.
  const [again] = await textNamed(server, 'tina', key);
  const back = await ben.event('presence', (e) => e.room === '@tina' && e.event === 'join');
  assert.equal(back.name, 'tina');
  // A new tab of ben's sees her in the conversation.
  const benTab = await named(server, 'ben', benToken);
  assert.deepEqual(await joinMembers(benTab, '@tina'), ['ben', 'tina']);
  // The text client hears of ben's comings and goings, under the conversation's label.
  const ben3 = await named(server, 'ben3');
  await ben3.request({ type: 'send', room: '@tina', cid: 'dp2', text: 'me too' });
  await again.next((f) => f === '[@ben3] ben3: me too');
  ben3.close();
  assert.equal(await again.next((f) => f.startsWith('* ben3')), '* ben3 left @ben3');
  for (const c of [again, ben, benTab]) c.close();
});

/** The texts of a direct conversation as this client's history shows it. */
async function texts(c: TestClient, room: string): Promise<string[]> {
  const h = await c.request({ type: 'history', room });
  assert.ok(h.type === 'result' && h.of === 'history', JSON.stringify(h));
  return h.type === 'result' && h.of === 'history' ? h.messages.map((m) => m.text) : [];
}

test('a rename keeps the conversations of its user; another token leaves them', async () => {
  const annToken = token();
  const bobToken = token();
  const ann = await named(server, 'rana', annToken);
  const bob = await named(server, 'rbob', bobToken);
  await ann.request({ type: 'send', room: '@rbob', cid: 'rn1', text: 'hi bob' });
  await bob.request({ type: 'send', room: '@rana', cid: 'rn2', text: 'hi ann' });
  const r = await bob.request({ type: 'hello', name: 'rrobert', token: bobToken });
  assert.ok(r.type === 'result' && r.of === 'hello', JSON.stringify(r));
  // A new tab of robert's finds the conversation under ann's name.
  const robert = await TestClient.json(server);
  await robert.event('welcome');
  const back = await robert.request({ type: 'hello', name: 'rrobert', token: bobToken });
  assert.ok(back.type === 'result' && back.of === 'hello', JSON.stringify(back));
  if (back.type === 'result' && back.of === 'hello') assert.deepEqual(back.direct, ['@rana']);
  assert.deepEqual(await texts(robert, '@rana'), ['hi bob', 'hi ann']);
  // ann opens it by the new name, and by the old one (still his): the same conversation.
  assert.deepEqual(await texts(ann, '@rrobert'), ['hi bob', 'hi ann']);
  assert.deepEqual(await texts(ann, '@rbob'), ['hi bob', 'hi ann']);
  assert.deepEqual(await joinMembers(ann, '@rrobert'), ['rana', 'rrobert']);
  await robert.request({ type: 'send', room: '@rana', cid: 'rn3', text: 'robert now' });
  const got = await ann.event('msg', (e) => e.text === 'robert now');
  assert.equal(got.room, '@rrobert');
  // The old name stays its user's: no one else takes it, or reads the conversation with it.
  const mallory = await TestClient.json(server);
  await mallory.event('welcome');
  const taken = await mallory.request({ type: 'hello', name: 'rbob', token: token() });
  assert.equal(taken.type === 'error' ? taken.code : taken.type, 'NAME_RESERVED');
  await mallory.request({ type: 'hello', name: 'rmallory', token: token() });
  assert.deepEqual(await texts(mallory, '@rana'), []);
  assert.deepEqual(await texts(mallory, '@rrobert'), []);
  assert.deepEqual(await joinMembers(mallory, '@rana'), ['rana', 'rmallory']);
  // A new token is another person: bob's tab under it leaves the conversation.
  const other = await bob.request({ type: 'hello', name: 'rbobby', token: token() });
  assert.equal(other.type, 'result', JSON.stringify(other));
  assert.deepEqual(await texts(bob, '@rana'), []);
  for (const c of [ann, bob, robert, mallory]) c.close();
});

test('direct conversations a text session is put in never keep it out of a room', async () => {
  const small = await startTestServer({ roomsPerConnection: 2 });
  try {
    const [t, key] = await textNamed(small, 'wren');
    for (const friend of ['xia', 'yul']) {
      const f = await named(small, friend);
      await f.request({ type: 'send', room: '@wren', cid: `to-wren-${friend}`, text: 'hi' });
      await t.next((l) => l === `[@${friend}] ${friend}: hi`);
      f.close();
    }
    t.close();
    await t.closed();
    const [again] = await textNamed(small, 'wren', key);
    again.send('/join dev');
    assert.equal(
      await again.next((l) => l.startsWith('* Now') || l.startsWith('!')),
      '* Now talking in #dev with wren',
    );
    again.send('/join dev2');
    assert.match(await again.next((l) => l.startsWith('!')), /rooms/i);
    again.close();
  } finally {
    await small.dispose();
  }
});

test('two nodes: direct presence crosses them for the participants only; forged bells change nothing', async () => {
  const redis = await OwnRedis.start();
  const schema = await freshSchema();
  const node = () =>
    startTestServer({ store: schema.url(), bus: redis.url, clusterHeartbeatMs: 200 });
  const n1 = await node();
  const n2 = await node();
  const forger = new Redis(redis.port, '127.0.0.1');
  try {
    const ann = await named(n1, 'ann');
    const bob = await named(n2, 'bob');
    const eve = await named(n1, 'eve');
    await joinMembers(eve, 'lobby');
    // ann may be listed already, if n1 has put her in and said so; bob always is.
    const first = await joinMembers(bob, '@ann');
    assert.ok(
      first.includes('bob') && first.every((m) => m === 'ann' || m === 'bob'),
      String(first),
    );
    // Once n1 has heard of bob in the conversation, ann's join lists him.
    await membersBecome(ann, '@bob', ['ann', 'bob']);
    await bob.event('presence', (e) => e.room === '@ann' && e.name === 'ann' && e.event === 'join');
    // Forged bells: a third name in their conversation, and a conversation no one opened.
    const forge = (room: string, key: string) =>
      forger.publish(
        'parley:events',
        JSON.stringify({ kind: 'presence', node: 'forged', room, key, name: key, event: 'join' }),
      );
    await forge('@ann bob', 'eve');
    await forge('@ann zed', 'zed');
    await forger.publish(
      'parley:events',
      JSON.stringify({
        kind: 'node',
        node: 'forged2',
        rooms: [{ room: '@bob zed', lastSeq: 0, members: [['zed', 'zed']] }],
      }),
    );
    // Let two heartbeats pass, so heartbeats of the real nodes are applied too.
    await new Promise((r) => setTimeout(r, 500));
    for (const s of [n1, n2]) {
      const res = await fetch(`${s.httpUrl}/api/rooms`);
      const body = (await res.json()) as { rooms: { room: string }[] };
      assert.ok(!body.rooms.some((r) => r.room.includes('@')), JSON.stringify(body.rooms));
    }
    // eve's own conversation with ann: ann, connected on the same node, is put in it.
    assert.deepEqual(await joinMembers(eve, '@ann'), ['ann', 'eve']);
    assert.deepEqual(await joinMembers(bob, '@ann'), ['ann', 'bob']);
    assert.deepEqual(
      presenceAbout(bob, []).filter((e) => e.type === 'presence' && e.name !== 'ann'),
      [],
    );
    // eve hears of ann only in her own conversation with her, and of bob and zed nothing.
    assert.deepEqual(
      presenceAbout(eve, ['ann', 'bob', 'zed']).filter(
        (e) => e.type === 'presence' && (e.room !== '@ann' || e.name !== 'ann'),
      ),
      [],
    );
    // ann leaves n1: bob on n2 hears it.
    ann.close();
    await bob.event('presence', (e) => e.room === '@ann' && e.event === 'leave');
    for (const c of [bob, eve]) c.close();
  } finally {
    forger.disconnect();
    await n1.dispose();
    await n2.dispose();
    await redis.down();
    await schema.drop();
  }
});
