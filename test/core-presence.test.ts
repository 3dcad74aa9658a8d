// Presence, typing, other nodes and address limits in the core alone, on a fake clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MEMBERS_LISTED } from '../src/protocol/index.js';
import { Core } from './core-fakes.js';

test('members are told of a join, a rename and a leave, and the bus hears of each', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const bob = await core.named('Bob', []);
  await bob.call({ type: 'join', room: 'lobby' });
  await bob.call({ type: 'hello', name: 'Robert', token: `Bob-token-${'x'.repeat(16)}` });
  await bob.call({ type: 'part', room: 'lobby' });
  assert.deepEqual(
    ann.peer.events.map((e) =>
      e.type === 'presence'
        ? ['presence', e.name, e.event]
        : e.type === 'rename'
          ? ['rename', e.from, e.to]
          : [e.type],
    ),
    [
      ['presence', 'Bob', 'join'],
      ['rename', 'Bob', 'Robert'],
      ['presence', 'Robert', 'leave'],
    ],
  );
  assert.deepEqual(bob.of('presence'), [], 'no one is told of their own coming and going');
  const told = core.bells.flatMap((b) =>
    b.kind === 'presence' && b.room === 'lobby' && b.key !== 'ann' ? [[b.key, b.event]] : [],
  );
  assert.deepEqual(told, [
    ['bob', 'join'],
    ['bob', 'leave'],
    ['robert', 'join'],
    ['robert', 'leave'],
  ]);
});

test('an overloaded server holds notices of joins and leaves, then sends them in order', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const seen = (c: typeof ann) =>
    c.of('presence').flatMap((p) => [p.name, ...(p.others ?? [])].map((n) => [n, p.event]));
  core.overloaded = true;
  const bob = await core.named('Bob');
  const cy = await core.named('Cy');
  core.chat.disconnect(cy.session);
  await core.settle();
  assert.deepEqual(seen(ann), [], 'held while overloaded');
  core.chat.flushNotices();
  assert.deepEqual(seen(ann), [
    ['Bob', 'join'],
    ['Cy', 'join'],
    ['Cy', 'leave'],
  ]);
  assert.deepEqual(
    seen(bob).map(([n]) => n),
    ['Cy', 'Cy'],
    'each notice goes to whoever was in the room when it happened, never its own subject',
  );
  // Load gone: what is still held goes first, then the new notice, at once.
  const dee = await core.named('Dee');
  core.overloaded = false;
  await core.named('Eve');
  assert.deepEqual(seen(ann).slice(3), [
    ['Dee', 'join'],
    ['Eve', 'join'],
  ]);
  assert.ok(dee.of('presence').some((p) => p.name === 'Eve'));
});

test("while the overload lasts, the once-a-second flush sends a room's notices five seconds after the first; after it, at once", async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const names = () => ann.of('presence').flatMap((p) => [p.name, ...(p.others ?? [])]);
  core.overloaded = true;
  await core.named('Bob');
  core.clock.advance(1000);
  core.chat.flushDueNotices();
  assert.deepEqual(names(), [], 'a second old: still held');
  await core.named('Cy');
  core.clock.advance(3999);
  core.chat.flushDueNotices();
  assert.deepEqual(names(), [], 'the first not yet five seconds old');
  core.clock.advance(1);
  core.chat.flushDueNotices();
  assert.deepEqual(names(), ['Bob', 'Cy'], "the room's run together, in order");
  await core.named('Dee');
  core.overloaded = false;
  core.chat.flushDueNotices();
  assert.deepEqual(names(), ['Bob', 'Cy', 'Dee'], 'no longer overloaded: sent at the next flush');
});

test('held arrivals in a row reach each member as one notice, in order, and one text line', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const t = await core.connectText('198.51.100.2');
  await t.line('/join lobby');
  t.peer.lines.length = 0;
  ann.clear();

  core.overloaded = true;
  const bob = await core.named('Bob');
  const cy = await core.named('Cy');
  await core.named('Dee');
  core.chat.disconnect(cy.session);
  await core.settle();
  core.chat.flushNotices();

  const told = (c: typeof ann) =>
    c.of('presence').map((p) => [p.event, p.name, ...(p.others ?? [])]);
  assert.deepEqual(told(ann), [
    ['join', 'Bob', 'Cy', 'Dee'],
    ['leave', 'Cy'],
  ]);
  assert.deepEqual(
    told(bob),
    [
      ['join', 'Cy', 'Dee'],
      ['leave', 'Cy'],
    ],
    'each arrival goes to whoever was in the room when it happened, never its own subject',
  );
  assert.deepEqual(t.peer.lines, ['* Bob, Cy and Dee joined #lobby', '* Cy left #lobby']);
  assert.equal(core.errors.length, 0);
});

test('a member away for part of a held run is told only the arrivals it was there for', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const bob = await core.named('Bob');
  ann.clear();
  core.overloaded = true;
  await core.named('Cy');
  await bob.call({ type: 'part', room: 'lobby' });
  await core.named('Dee');
  await bob.call({ type: 'join', room: 'lobby' });
  await core.named('Eve');
  await core.named('Fay');
  core.chat.flushNotices();
  const told = (c: typeof ann) =>
    c.of('presence').map((p) => [p.event, p.name, ...(p.others ?? [])]);
  assert.deepEqual(told(ann), [
    ['join', 'Cy'],
    ['leave', 'Bob'],
    ['join', 'Dee', 'Bob', 'Eve', 'Fay'],
  ]);
  assert.deepEqual(
    told(bob),
    [['join', 'Cy', 'Eve', 'Fay']],
    'not Dee, who came while Bob was away, nor its own coming and going',
  );
});

test('a second tab of a name is not a second join, and its closing is not a leave', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const bob1 = await core.named('Bob');
  const bob2 = await core.named('Bob');
  core.chat.disconnect(bob2.session);
  await core.settle();
  assert.deepEqual(
    ann.of('presence').map((p) => [p.name, p.event]),
    [['Bob', 'join']],
  );
  core.chat.disconnect(bob1.session);
  await core.settle();
  assert.deepEqual(
    ann.of('presence').map((p) => [p.name, p.event]),
    [
      ['Bob', 'join'],
      ['Bob', 'leave'],
    ],
  );
});

test('typing is relayed at most once a second per room, with the time it lasts', async () => {
  const core = new Core({ typingTtlMs: 4000 });
  const ann = await core.named('Ann');
  const bob = await core.named('Bob');
  await ann.call({ type: 'typing', room: 'lobby' });
  assert.deepEqual(
    bob.of('typing').map((t) => [t.name, t.room, t.ttlMs]),
    [['Ann', 'lobby', 4000]],
  );
  assert.deepEqual(ann.of('typing'), [], 'the typist is not told of itself');
  core.clock.advance(999);
  const again = await ann.call({ type: 'typing', room: 'lobby' });
  assert.equal(again?.type, 'result', 'a throttled typing is still answered');
  assert.equal(bob.of('typing').length, 1, 'within a second it is not relayed again');
  core.clock.advance(1);
  await ann.call({ type: 'typing', room: 'lobby' });
  assert.equal(bob.of('typing').length, 2, 'a second later it is renewed');
  const typingBells = core.bells.filter((b) => b.kind === 'typing');
  assert.equal(typingBells.length, 2);
});

test('a crowded room relays one typing notice a second, whoever types', async () => {
  const core = new Core({ presenceNoticeLimit: 3 });
  const ann = await core.named('Ann');
  const bob = await core.named('Bob');
  const cy = await core.named('Cy');
  const dee = await core.named('Dee');
  await ann.call({ type: 'typing', room: 'lobby' });
  const late = await bob.call({ type: 'typing', room: 'lobby' });
  assert.equal(late?.type, 'result', 'a notice not relayed is still answered');
  assert.deepEqual(
    dee.of('typing').map((t) => t.name),
    ['Ann'],
    'within the second only the first typist of the room is relayed',
  );
  assert.deepEqual(
    cy.of('typing').map((t) => t.name),
    ['Ann'],
  );
  assert.equal(core.bells.filter((b) => b.kind === 'typing').length, 1, 'nor sent to other nodes');
  core.clock.advance(1000);
  await bob.call({ type: 'typing', room: 'lobby' });
  assert.deepEqual(
    dee.of('typing').map((t) => t.name),
    ['Ann', 'Bob'],
  );
  core.chat.disconnect(dee.session);
  await core.settle();
  await cy.call({ type: 'typing', room: 'lobby' });
  assert.deepEqual(
    ann.of('typing').map((t) => t.name),
    ['Bob', 'Cy'],
    'at the limit or under it, each typist is relayed',
  );
});

test('a node not heard from within the timeout is taken for dead: its members leave', async () => {
  const core = new Core({ nodeTimeoutMs: 10_000 });
  const ann = await core.named('Ann');
  core.chat.onBell({
    kind: 'node',
    node: 'n2',
    rooms: [{ room: 'lobby', lastSeq: 0, members: [['zed', 'Zed']] }],
  });
  await core.settle();
  assert.deepEqual(
    ann.of('presence').map((p) => [p.name, p.event]),
    [['Zed', 'join']],
  );
  core.clock.advance(10_000);
  core.chat.tick();
  assert.equal(ann.of('presence').length, 1, 'at the timeout exactly it is still alive');
  const who = await ann.call({ type: 'who', room: 'lobby' });
  assert.ok(who?.type === 'result' && who.of === 'who');
  assert.deepEqual(who.members, ['Ann', 'Zed']);
  core.clock.advance(1);
  core.chat.tick();
  await core.settle();
  assert.deepEqual(
    ann.of('presence').map((p) => [p.name, p.event]),
    [
      ['Zed', 'join'],
      ['Zed', 'leave'],
    ],
  );
  // This node's own heartbeat reports its members.
  const beat = core.bells.find((b) => b.kind === 'node');
  assert.deepEqual(beat, {
    kind: 'node',
    node: 'n1',
    rooms: [{ room: 'lobby', lastSeq: 0, members: [['ann', 'Ann']] }],
  });
});

test("heartbeats name a room's members when they changed, and in full every sixth", async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const beat = () => {
    core.chat.tick();
    const b = core.bells.filter((x) => x.kind === 'node').at(-1);
    assert.ok(b?.kind === 'node');
    return b.rooms.map((r) => r.members?.map(([k]) => k) ?? 'unchanged');
  };
  assert.deepEqual(beat(), [['ann']], 'the first beat is in full');
  assert.deepEqual(beat(), ['unchanged']);
  const bob = await core.named('Bob');
  assert.deepEqual(beat(), [['ann', 'bob']], 'a member came');
  assert.deepEqual(beat(), ['unchanged']);
  core.chat.disconnect(bob.session);
  await core.settle();
  assert.deepEqual(beat(), [['ann']], 'a member went');
  assert.deepEqual(beat(), ['unchanged']);
  assert.deepEqual(beat(), [['ann']], 'the sixth beat after a full one is full again');
  // A node not heard from before needs everyone's members at once.
  core.chat.onBell({ kind: 'node', node: 'n3', rooms: [] });
  assert.deepEqual(beat(), [['ann']]);
  assert.deepEqual(beat(), ['unchanged']);
  // A room left out (its last local member gone) names its members again when it is back.
  await ann.call({ type: 'part', room: 'lobby' });
  assert.deepEqual(beat(), [], 'no local member: the room is left out');
  await ann.call({ type: 'join', room: 'lobby' });
  assert.deepEqual(beat(), [['ann']]);
});

test('a heartbeat without members keeps what the node last said of them', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const zed: [string, string][] = [['zed', 'Zed']];
  core.chat.onBell({
    kind: 'node',
    node: 'n2',
    rooms: [{ room: 'lobby', lastSeq: 0, members: zed }],
  });
  core.chat.onBell({ kind: 'node', node: 'n2', rooms: [{ room: 'lobby', lastSeq: 0 }] });
  await core.settle();
  const who = await ann.call({ type: 'who', room: 'lobby' });
  assert.ok(who?.type === 'result' && who.of === 'who');
  assert.deepEqual(who.members, ['Ann', 'Zed']);
  core.chat.onBell({ kind: 'node', node: 'n2', rooms: [] });
  await core.settle();
  assert.deepEqual(
    ann.of('presence').map((p) => [p.name, p.event]),
    [
      ['Zed', 'join'],
      ['Zed', 'leave'],
    ],
    'a room the node no longer reports has none of its members',
  );
});

test('a heartbeat with a newer sequence catches local members up from the store', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  // Another node committed seq 1 and its bell was lost: only the store has it.
  await core.log.append(
    [{ room: 'lobby', cid: 'far-1', from: 'Zed', fromId: 'u_zed', text: 'from afar', me: false }],
    core.clock.now(),
  );
  core.chat.onBell({
    kind: 'node',
    node: 'n2',
    rooms: [{ room: 'lobby', lastSeq: 1, members: [] }],
  });
  await core.settle();
  assert.deepEqual(
    ann.of('msg').map((m) => [m.seq, m.from, m.text]),
    [[1, 'Zed', 'from afar']],
  );
});

test('an address has one request budget over all its connections, refilled by the clock', async () => {
  const core = new Core({
    addressRateBurst: 3,
    addressRatePerSecond: 1,
    ratePerSecond: 100,
    rateBurst: 100,
  });
  const one = core.connect('198.51.100.7');
  const two = core.connect('198.51.100.7');
  const elsewhere = core.connect('203.0.113.9');
  const now = () => core.clock.now();
  assert.equal(core.chat.admit(one.session, now()), 'ok');
  assert.equal(core.chat.admit(two.session, now()), 'ok');
  assert.equal(core.chat.admit(one.session, now()), 'ok');
  assert.equal(core.chat.admit(two.session, now()), 'refuse', 'the address has spent its burst');
  assert.equal(core.chat.admit(elsewhere.session, now()), 'ok', 'another address is not touched');
  core.clock.advance(999);
  assert.equal(core.chat.admit(one.session, now()), 'refuse', 'not a whole token yet');
  core.clock.advance(1);
  assert.equal(core.chat.admit(two.session, now()), 'ok', 'one second refills one request');
  assert.equal(core.chat.admit(one.session, now()), 'refuse');
});

test('joins per address refill with the clock', async () => {
  const core = new Core({ addressJoinsPerMinute: 2 });
  const ann = await core.named('Ann', [], '198.51.100.8');
  assert.equal((await ann.call({ type: 'join', room: 'one' }))?.type, 'result');
  assert.equal((await ann.call({ type: 'join', room: 'two' }))?.type, 'result');
  const refused = await ann.call({ type: 'join', room: 'three' });
  assert.ok(refused?.type === 'error');
  assert.equal(refused.code, 'RATE_LIMITED');
  core.clock.advance(30_000);
  assert.equal((await ann.call({ type: 'join', room: 'three' }))?.type, 'result');
});

test('an address flapping in and out of a room is announced four times a minute, then is quiet', async () => {
  const core = new Core();
  const ann = await core.named('Ann', ['lobby'], '203.0.113.1');
  const flapper = await core.named('Flap', [], '198.51.100.9');
  const announced = () => ann.of('presence').map((p) => `${p.name} ${p.event}`);
  for (let i = 0; i < 6; i++) {
    assert.equal((await flapper.call({ type: 'join', room: 'lobby' }))?.type, 'result');
    assert.equal((await flapper.call({ type: 'part', room: 'lobby' }))?.type, 'result');
  }
  assert.deepEqual(announced(), Array(4).fill(['Flap join', 'Flap leave']).flat());
  // A quiet join still makes a member: `who` counts it, and only its announcement is spared.
  await flapper.call({ type: 'join', room: 'lobby' });
  const who = await ann.call({ type: 'who', room: 'lobby' });
  assert.ok(who?.type === 'result' && who.of === 'who');
  assert.deepEqual(who.members, ['Ann', 'Flap']);
  // Other nodes are told it was quiet, so they do not announce it either.
  const bell = core.bells.filter((b) => b.kind === 'presence' && b.key === 'flap').at(-1);
  assert.ok(bell?.kind === 'presence' && bell.event === 'join' && bell.quiet === true);
  await flapper.call({ type: 'part', room: 'lobby' });
  assert.equal(announced().length, 8, 'the quiet join leaves quietly too');
  // Someone else from another address is announced as ever, and so are arrivals alone from one
  // address, however many: an office behind one address coming in in the morning.
  for (const name of ['Bob', 'Cy', 'Di', 'Ed', 'Flo', 'Gus']) {
    const c = await core.named(name, [], '203.0.113.2');
    await c.call({ type: 'join', room: 'lobby' });
    assert.equal(announced().at(-1), `${name} join`);
  }
  // A minute later the address is announced again.
  core.clock.advance(15_000);
  await flapper.call({ type: 'join', room: 'lobby' });
  assert.equal(announced().at(-1), 'Flap join');
});

test('a quiet join from another node is not announced, nor is its leave', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  core.chat.onBell({
    kind: 'presence',
    node: 'n2',
    room: 'lobby',
    key: 'zed',
    name: 'Zed',
    event: 'join',
    quiet: true,
  });
  core.chat.onBell({
    kind: 'presence',
    node: 'n2',
    room: 'lobby',
    key: 'zed',
    name: 'Zed',
    event: 'leave',
  });
  core.chat.onBell({
    kind: 'presence',
    node: 'n2',
    room: 'lobby',
    key: 'amy',
    name: 'Amy',
    event: 'join',
  });
  await core.settle();
  assert.deepEqual(
    ann.of('presence').map((p) => [p.name, p.event]),
    [['Amy', 'join']],
  );
});

test("a join's member list follows comings and goings", async () => {
  const core = new Core();
  await core.named('Ann');
  const bob = await core.named('Bob');
  const members = async (name: string) => {
    const c = await core.named(name, []);
    const j = await c.call({ type: 'join', room: 'lobby' });
    assert.ok(j?.type === 'result' && j.of === 'join');
    return j.members;
  };
  assert.deepEqual(await members('Cy'), ['Ann', 'Bob', 'Cy']);
  core.chat.disconnect(bob.session);
  await core.settle();
  assert.deepEqual(await members('Dee'), ['Ann', 'Cy', 'Dee']);
  core.chat.onBell({
    kind: 'presence',
    node: 'n2',
    room: 'lobby',
    key: 'eve',
    name: 'Eve',
    event: 'join',
  });
  await core.settle();
  assert.deepEqual(await members('Fay'), ['Ann', 'Cy', 'Dee', 'Eve', 'Fay']);
});

test('a crowded room names its first members in a join, counts them all, and who pages on', async () => {
  const core = new Core();
  const many = MEMBERS_LISTED + 5;
  for (let i = 0; i < many; i++) {
    const name = `m${String(i).padStart(3, '0')}`;
    await core.named(name, ['lobby', 'big'], `192.0.2.${(i % 250) + 1}`);
  }
  const zed = await core.named('zed', [], '198.51.100.1');
  const join = await zed.call({ type: 'join', room: 'big' });
  assert.ok(join?.type === 'result' && join.of === 'join', JSON.stringify(join));
  assert.equal(join.members.length, MEMBERS_LISTED, 'a join names at most MEMBERS_LISTED');
  assert.equal(join.memberCount, many + 1, 'and counts everyone, the joiner too');
  assert.deepEqual(join.members.slice(0, 2), ['m000', 'm001'], 'in name order');
  const last = join.members.at(-1);
  const rest = await zed.call({ type: 'who', room: 'big', after: last });
  assert.ok(rest?.type === 'result' && rest.of === 'who', JSON.stringify(rest));
  assert.deepEqual(rest.members, ['m200', 'm201', 'm202', 'm203', 'm204', 'zed']);
  assert.equal(rest.memberCount, many + 1);

  const t = await core.connectText('198.51.100.2');
  await t.line('/join big');
  const line = t.peer.lines.find((l) => l.startsWith('* Now talking in #big'));
  assert.ok(line, t.peer.lines.join('\n'));
  // The text client is a guest, first in name order.
  assert.match(line, /with guest-\d+, m000, m001, .*m198 and 7 more$/);
  assert.ok(!line.includes('m199'), 'the list stops at MEMBERS_LISTED');
});
