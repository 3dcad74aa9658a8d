// Several nodes on one PostgreSQL schema and one Redis: presence, typing, direct messages and
// history span them, and they survive a dead node, a Redis restart and a PostgreSQL outage.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TestClient, type TestServer } from './helpers.js';
import { CuttableProxy, OwnRedis, freshSchema, spawnNode } from './cluster-harness.js';
import type { ServerEvent } from '../src/protocol/index.js';

let redis: OwnRedis;
let schema: Awaited<ReturnType<typeof freshSchema>>;

before(async () => {
  redis = await OwnRedis.start();
  schema = await freshSchema();
});
after(async () => {
  await redis.down();
  await schema.drop();
});

function node(extra: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  return startTestServer({
    store: schema.url(),
    bus: redis.url,
    clusterHeartbeatMs: 200,
    ...extra,
  });
}

let tokens = 0;
async function user(s: TestServer, name: string): Promise<TestClient> {
  const c = await TestClient.json(s);
  await c.event('welcome');
  const r = await c.request({ type: 'hello', name, token: `cluster-token-${++tokens}-0123456789` });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return c;
}

function seqOf(e: ServerEvent): number {
  return e.type === 'ack' ? e.seq : -1;
}

function ackSeq(e: ServerEvent): number {
  assert.equal(e.type, 'ack', JSON.stringify(e));
  return seqOf(e);
}

test('presence, messages, typing and direct messages span nodes; sequence numbers are global', async () => {
  const n1 = await node();
  const n2 = await node();
  try {
    const ann = await user(n1, 'ann');
    const bob = await user(n2, 'bob');
    await ann.request({ type: 'join', room: 'dev' });
    await bob.request({ type: 'join', room: 'dev' });
    const p = await ann.event('presence', (e) => e.name === 'bob');
    assert.equal(p.event, 'join');
    const who = await ann.request({ type: 'who', room: 'dev' });
    assert.deepEqual(who.type === 'result' && who.of === 'who' && who.members, ['ann', 'bob']);
    const rooms = await bob.request({ type: 'rooms' });
    assert.ok(rooms.type === 'result' && rooms.of === 'rooms');
    if (rooms.type === 'result' && rooms.of === 'rooms') {
      assert.equal(rooms.rooms.find((r) => r.room === 'dev')?.members, 2);
    }
    const a1 = await ann.request({ type: 'send', room: 'dev', cid: 'x1', text: 'from node one' });
    const b1 = await bob.request({ type: 'send', room: 'dev', cid: 'x2', text: 'from node two' });
    assert.deepEqual([seqOf(a1), seqOf(b1)], [1, 2]);
    const atBob = await bob.event('msg', (m) => m.text === 'from node one');
    assert.equal(atBob.seq, 1);
    const atAnn = await ann.event('msg', (m) => m.text === 'from node two');
    assert.equal(atAnn.seq, 2);
    await bob.request({ type: 'typing', room: 'dev' });
    assert.equal((await ann.event('typing')).name, 'bob');
    await ann.request({ type: 'send', room: '@bob', cid: 'dm1', text: 'across nodes, privately' });
    const dm = await bob.event('msg', (m) => m.room === '@ann');
    assert.equal(dm.text, 'across nodes, privately');
    // A graceful stop says goodbye: the node's members leave at once.
    bob.close();
    const bob2 = await user(n2, 'bob2');
    await bob2.request({ type: 'join', room: 'dev' });
    await ann.event('presence', (e) => e.name === 'bob2' && e.event === 'join');
    await n2.stop();
    await ann.event('presence', (e) => e.name === 'bob2' && e.event === 'leave', 3000);
    ann.close();
  } finally {
    await n1.dispose();
    await n2.dispose();
  }
});

test("a read marker set on one node reaches the same person's sessions on the other, and no one else", async () => {
  const n1 = await node();
  const n2 = await node();
  try {
    const token = `cluster-token-${++tokens}-0123456789`;
    const session = async (s: TestServer, name?: string): Promise<TestClient> => {
      const c = await TestClient.json(s);
      await c.event('welcome');
      const r = await c.request({ type: 'hello', token, ...(name && { name }) });
      assert.equal(r.type, 'result', JSON.stringify(r));
      return c;
    };
    const ada1 = await session(n1, 'ada-c');
    const ada2 = await session(n2);
    const bob = await user(n2, 'bob-c');
    for (const c of [ada1, ada2, bob]) await c.request({ type: 'join', room: 'reads' });
    for (const [i, text] of ['one', 'hey @ada-c', 'three'].entries()) {
      const ack = await bob.request({ type: 'send', room: 'reads', cid: `r-${i}`, text });
      assert.equal(seqOf(ack), i + 1);
    }
    await ada1.event('msg', (m) => m.text === 'three');
    const r = await ada1.request({ type: 'read', room: 'reads', seq: 1 });
    assert.ok(r.type === 'result' && r.of === 'read' && r.seq === 1, JSON.stringify(r));
    const moved = await ada2.event('read');
    assert.deepEqual(moved, {
      type: 'read',
      room: 'reads',
      seq: 1,
      unread: 2,
      mentions: 1,
      upTo: 3,
    });
    // A session opened on the other node at once finds the marker there, written or not.
    const ada3 = await session(n2);
    const j = await ada3.request({ type: 'join', room: 'reads' });
    assert.ok(j.type === 'result' && j.of === 'join', JSON.stringify(j));
    assert.deepEqual(j.read, { seq: 1, unread: 2, mentions: 1, upTo: 3 });
    // And back the other way.
    await ada3.request({ type: 'read', room: 'reads', seq: 3 });
    const back = await ada1.event('read');
    assert.deepEqual([back.seq, back.unread, back.mentions], [3, 0, 0]);
    await ada2.event('read', (e) => e.seq === 3);
    await new Promise((done) => setTimeout(done, 300));
    assert.equal(bob.events().filter((e) => e.type === 'read').length, 0, 'never to another');
    for (const c of [ada1, ada2, ada3, bob]) c.close();
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

test('a node killed with SIGKILL: its members leave within three heartbeats', async () => {
  const n1 = await node();
  const dead = await spawnNode([
    '--data-dir',
    '/tmp',
    '--store',
    schema.url(),
    '--bus',
    redis.url,
    '--cluster-heartbeat-ms',
    '200',
  ]);
  try {
    const ann = await user(n1, 'ann-k');
    await ann.request({ type: 'join', room: 'kill' });
    const ghost = await TestClient.open(`ws://127.0.0.1:${dead.port}/ws`, 'parley.v1');
    await ghost.event('welcome');
    await ghost.request({ type: 'hello', name: 'ghost', token: 'ghost-token-0123456789' });
    await ghost.request({ type: 'join', room: 'kill' });
    await ann.event('presence', (e) => e.name === 'ghost' && e.event === 'join');
    const killedAt = Date.now();
    await dead.kill('SIGKILL');
    await ann.event('presence', (e) => e.name === 'ghost' && e.event === 'leave', 5000);
    const took = Date.now() - killedAt;
    assert.ok(took < 3000, `left after ${took} ms`);
    ann.close();
  } finally {
    await dead.kill();
    await n1.dispose();
  }
});

test('Redis restarting mid-traffic: no crash, and what was sent meanwhile arrives after resync', async () => {
  const n1 = await node();
  const n2 = await node();
  try {
    const ann = await user(n1, 'ann-r');
    const bob = await user(n2, 'bob-r');
    await ann.request({ type: 'join', room: 'redis' });
    await bob.request({ type: 'join', room: 'redis' });
    await ann.request({ type: 'send', room: 'redis', cid: 'r1', text: 'before' });
    await bob.event('msg', (m) => m.text === 'before');
    await redis.down();
    // The log is PostgreSQL: sends still commit and are acked while the bell cannot ring.
    const during = await ann.request({ type: 'send', room: 'redis', cid: 'r2', text: 'during' });
    assert.equal(during.type, 'ack');
    await redis.up();
    const late = await bob.event('msg', (m) => m.text === 'during', 15_000);
    assert.equal(late.seq, 2);
    await ann.request({ type: 'send', room: 'redis', cid: 'r3', text: 'after' });
    await bob.event('msg', (m) => m.text === 'after', 5000);
    assert.deepEqual(
      bob
        .events()
        .filter((e) => e.type === 'msg')
        .map((e) => (e.type === 'msg' ? e.seq : 0)),
      [1, 2, 3],
    );
    ann.close();
    bob.close();
  } finally {
    await n1.dispose();
    await n2.dispose();
  }
});

test('PostgreSQL briefly unreachable: sends are refused, never acked, and it recovers', async () => {
  const proxy = await CuttableProxy.start();
  const n1 = await startTestServer({ store: schema.url(proxy.port), bus: redis.url });
  try {
    const ann = await user(n1, 'ann-p');
    await ann.request({ type: 'join', room: 'pg' });
    assert.equal(
      (await ann.request({ type: 'send', room: 'pg', cid: 'p1', text: 'one' })).type,
      'ack',
    );
    await proxy.cut();
    const refused = await ann.request({ type: 'send', room: 'pg', cid: 'p2', text: 'two' }, 20_000);
    assert.ok(
      refused.type === 'error' && refused.code === 'STORE_UNAVAILABLE',
      JSON.stringify(refused),
    );
    await proxy.restore();
    let retried: ServerEvent | undefined;
    for (let i = 0; i < 20 && retried?.type !== 'ack'; i++) {
      retried = await ann.request({ type: 'send', room: 'pg', cid: 'p2', text: 'two' }, 20_000);
      if (retried.type !== 'ack') await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(retried?.type, 'ack');
    assert.equal(seqOf(retried as ServerEvent), 2, 'the refused send left no trace');
    ann.close();
  } finally {
    await n1.dispose();
    await proxy.cut();
  }
});

test('a ban on one node applies on the other within a second, from the store, with the bus down', async () => {
  const a = await node({ guests: 'on' });
  const b = await node({ guests: 'on' });
  const account = async (s: TestServer, name: string): Promise<TestClient> => {
    const c = await TestClient.json(s);
    await c.event('welcome');
    const r = await c.request({ type: 'register', name, password: 'correct horse' });
    assert.ok(r.type === 'result' && r.of === 'login', JSON.stringify(r));
    return c;
  };
  try {
    const ann = await account(a, 'club-ann');
    const bob = await account(b, 'club-bob');
    assert.equal((await ann.request({ type: 'join', room: 'club' })).type, 'result');
    const priv = await ann.request({ type: 'settings', room: 'club', visibility: 'private' });
    assert.equal(priv.type, 'result', JSON.stringify(priv));
    const inv = await ann.request({
      type: 'moderate',
      action: 'invite',
      name: 'club-bob',
      room: 'club',
    });
    assert.equal(inv.type, 'result', JSON.stringify(inv));
    await bob.event('notice', (n) => n.what === 'invited', 3000);
    assert.equal((await bob.request({ type: 'join', room: 'club' })).type, 'result');
    // Nothing of this goes over the bus: each node follows the store's audit log.
    await redis.down();
    const t0 = Date.now();
    const ban = await ann.request({
      type: 'moderate',
      action: 'ban',
      name: 'club-bob',
      room: 'club',
    });
    assert.equal(ban.type, 'result', JSON.stringify(ban));
    await bob.event('notice', (n) => n.what === 'banned' && n.room === 'club', 3000);
    const took = Date.now() - t0;
    assert.ok(took < 1500, `applied on the other node in ${took} ms`);
    // Banned from a private room is out of its members: to bob it is now as no room at all.
    const again = await bob.request({ type: 'join', room: 'club', since: 0 });
    assert.ok(again.type === 'error' && again.code === 'NO_SUCH_ROOM', JSON.stringify(again));
    ann.close();
    bob.close();
  } finally {
    await redis.up();
    await a.dispose();
    await b.dispose();
  }
});

test('edits, reactions, replies and removals span nodes: live, in history and in search', async () => {
  const n1 = await node();
  const n2 = await node();
  try {
    const room = 'life-cluster';
    const ann = await user(n1, 'ann-lc');
    const bob = await user(n2, 'bob-lc');
    await ann.request({ type: 'join', room });
    await bob.request({ type: 'join', room });
    const s1 = ackSeq(await ann.request({ type: 'send', room, cid: 'c1', text: 'teh kiwi' }));
    const e1 = ackSeq(
      await ann.request({ type: 'edit', room, cid: 'c2', seq: s1, text: 'the kiwi' }),
    );
    const edit = await bob.event('edit', (e) => e.target === s1);
    assert.deepEqual([edit.seq, edit.text, edit.from], [e1, 'the kiwi', 'ann-lc']);
    ackSeq(await bob.request({ type: 'react', room, cid: 'c3', seq: s1, emoji: '🥝' }));
    const reaction = await ann.event('reaction', (e) => e.target === s1);
    assert.deepEqual([reaction.emoji, reaction.on, reaction.from], ['🥝', true, 'bob-lc']);
    const s2 = ackSeq(
      await bob.request({ type: 'send', room, cid: 'c4', text: 'ripe?', replyTo: s1 }),
    );
    assert.equal((await ann.event('msg', (m) => m.seq === s2)).replyTo, s1);
    // A second click on the other node takes the reaction back.
    ackSeq(await bob.request({ type: 'react', room, cid: 'c5', seq: s1, emoji: '🥝' }));
    assert.equal((await ann.event('reaction', (e) => e.target === s1 && !e.on)).emoji, '🥝');

    // The edited text is what both nodes find; the first text is found by neither.
    for (const c of [ann, bob]) {
      const found = await c.request({ type: 'search', query: 'the kiwi', room });
      assert.ok(found.type === 'result' && found.of === 'search', JSON.stringify(found));
      assert.deepEqual(
        found.results.map((m) => m.seq),
        [s1],
      );
      const old = await c.request({ type: 'search', query: 'teh', room });
      assert.ok(old.type === 'result' && old.of === 'search' && old.results.length === 0);
    }

    // Removed on node two: node one sees it go, and its history and search agree.
    ackSeq(await bob.request({ type: 'delete', room, cid: 'c6', seq: s2 }));
    assert.equal((await ann.event('delete', (e) => e.target === s2)).from, 'bob-lc');
    const h = await ann.request({ type: 'history', room });
    assert.ok(h.type === 'result' && h.of === 'history');
    assert.deepEqual(
      h.messages.map((m) => [m.seq, m.text, m.removed ?? false, m.reactions ?? []]),
      [
        [s1, 'the kiwi', false, []],
        [s2, '', true, []],
      ],
    );
    const gone = await ann.request({ type: 'search', query: 'ripe', room });
    assert.ok(gone.type === 'result' && gone.of === 'search' && gone.results.length === 0);

    // Someone else's message cannot be edited from the other node either.
    const forged = await bob.request({ type: 'edit', room, cid: 'c7', seq: s1, text: 'mine now' });
    assert.ok(
      forged.type === 'error' && forged.code === 'NOT_YOUR_MESSAGE',
      JSON.stringify(forged),
    );
    ann.close();
    bob.close();
  } finally {
    await n1.dispose();
    await n2.dispose();
  }
});
