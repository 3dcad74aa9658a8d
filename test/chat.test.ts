// Names, rooms, presence, typing, direct messages and history, from JSON and text clients.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, tempDir, TestClient, type TestServer } from './helpers.js';
import { spawnNode } from './cluster-harness.js';
import type { ServerEvent } from '../src/protocol/index.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.dispose());

let tokens = 0;
function token(): string {
  return `test-token-${++tokens}-${'x'.repeat(16)}`;
}

async function named(name: string, tok = token()): Promise<TestClient> {
  const c = await TestClient.json(server);
  await c.event('welcome');
  const r = await c.request({ type: 'hello', name, token: tok });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return c;
}

function expectError(r: ServerEvent, code: string): void {
  assert.equal(r.type, 'error', JSON.stringify(r));
  if (r.type === 'error') assert.equal(r.code, code);
}

test('a JSON client gets a welcome event with a guest name', async () => {
  const c = await TestClient.json(server);
  const w = await c.event('welcome');
  assert.equal(w.text, 'Welcome to the chat!!!');
  assert.match(w.name, /^guest-/);
  c.close();
});

test('a guest keeps one guest name per token across connections', async () => {
  const tok = token();
  const names: string[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await TestClient.json(server);
    await c.event('welcome');
    const r = await c.request({ type: 'hello', token: tok });
    assert.ok(r.type === 'result' && r.of === 'hello');
    if (r.type === 'result' && r.of === 'hello') names.push(r.name);
    c.close();
  }
  assert.match(names[0] ?? '', /^guest-[0-9a-f]{10}$/);
  assert.equal(names[0], names[1]);
});

test('names are unique case-insensitively after NFC, and reserved to their token', async () => {
  const tok = token();
  const zoe = await named('Zoë', tok);
  const other = await TestClient.json(server);
  await other.event('welcome');
  expectError(
    await other.request({ type: 'hello', name: 'ZOE\u0308', token: token() }),
    'NAME_TAKEN',
  );
  expectError(await other.request({ type: 'hello', name: 'bad name' }), 'NAME_INVALID');
  expectError(await other.request({ type: 'hello', name: 'x\u200by' }), 'NAME_INVALID');
  expectError(await other.request({ type: 'hello', name: 'guest-1' }), 'NAME_INVALID');
  // The same token takes the name from a second tab.
  const tab = await TestClient.json(server);
  await tab.event('welcome');
  const again = await tab.request({ type: 'hello', name: 'zoë', token: tok });
  assert.equal(again.type, 'result');
  zoe.close();
  tab.close();
  await new Promise((r) => setTimeout(r, 50));
  // Offline, the name stays reserved to its token.
  expectError(await other.request({ type: 'hello', name: 'Zoë', token: token() }), 'NAME_RESERVED');
  other.close();
});

test('rooms: join, list with member counts, who, presence and part', async () => {
  const ann = await named('ann');
  const ben = await named('ben');
  const j = await ann.request({ type: 'join', room: '#Dev' });
  assert.equal(j.type === 'result' && j.of === 'join' && j.room, 'dev');
  await ben.request({ type: 'join', room: 'dev' });
  const p = await ann.event('presence');
  assert.deepEqual([p.room, p.name, p.event], ['dev', 'ben', 'join']);
  const who = await ann.request({ type: 'who', room: 'dev' });
  assert.deepEqual(who.type === 'result' && who.of === 'who' && who.members, ['ann', 'ben']);
  const rooms = await ann.request({ type: 'rooms' });
  assert.ok(rooms.type === 'result' && rooms.of === 'rooms');
  if (rooms.type === 'result' && rooms.of === 'rooms') {
    assert.deepEqual(
      rooms.rooms.find((r) => r.room === 'dev'),
      { room: 'dev', members: 2 },
    );
  }
  await ben.request({ type: 'part', room: 'dev' });
  const left = await ann.event('presence', (e) => e.event === 'leave');
  assert.equal(left.name, 'ben');
  expectError(
    await ben.request({ type: 'send', room: 'dev', cid: 'c1', text: 'hi' }),
    'NOT_IN_ROOM',
  );
  expectError(await ben.request({ type: 'join', room: 'has space' }), 'ROOM_INVALID');
  expectError(await ben.request({ type: 'join', room: '' }), 'ROOM_INVALID');
  ann.close();
  ben.close();
});

test('sends are acked after commit with per-room sequence numbers; a resend gets the same ack', async () => {
  const c = await named('seqer');
  await c.request({ type: 'join', room: 'seqroom' });
  await c.request({ type: 'join', room: 'seqroom2' });
  const a1 = await c.request({ type: 'send', room: 'seqroom', cid: 'a1', text: 'one' });
  const a2 = await c.request({ type: 'send', room: 'seqroom', cid: 'a2', text: 'two' });
  const b1 = await c.request({ type: 'send', room: 'seqroom2', cid: 'b1', text: 'other room' });
  assert.deepEqual(
    [a1.type === 'ack' && a1.seq, a2.type === 'ack' && a2.seq, b1.type === 'ack' && b1.seq],
    [1, 2, 1],
  );
  const again = await c.request({ type: 'send', room: 'seqroom', cid: 'a1', text: 'one' });
  assert.ok(again.type === 'ack' && a1.type === 'ack');
  if (again.type === 'ack' && a1.type === 'ack')
    assert.deepEqual([again.seq, again.ts], [a1.seq, a1.ts]);
  const h = await c.request({ type: 'history', room: 'seqroom' });
  assert.ok(h.type === 'result' && h.of === 'history');
  if (h.type === 'result' && h.of === 'history') {
    assert.deepEqual(
      h.messages.map((m) => [m.seq, m.text]),
      [
        [1, 'one'],
        [2, 'two'],
      ],
    );
  }
  c.close();
});

test('bad requests get errors, change nothing, and leave others unaffected', async () => {
  const bad = await named('mallory');
  const good = await named('carol');
  await bad.request({ type: 'join', room: 'safe' });
  await good.request({ type: 'join', room: 'safe' });
  const frames = [
    'not json',
    '{"type":"send","room":"safe","cid":"x","text":42}',
    '{"type":"send","room":"safe","cid":"has space","text":"x"}',
    '{"type":"send","room":"safe","cid":"ok1","text":"bell\\u0007"}',
    '{"type":"send","room":"safe","cid":"ok2","text":"   "}',
    '{"type":"wat"}',
    '{"type":"send","room":"safe","cid":"ok3","text":"x","__proto__":{"admin":true}}',
    '{"type":"join","room":"@nobody-here"}',
  ];
  for (const f of frames) bad.send(f);
  await new Promise((r) => setTimeout(r, 200));
  const errors = bad.events().filter((e) => e.type === 'error');
  assert.ok(errors.length >= 6, JSON.stringify(errors));
  assert.equal(({} as Record<string, unknown>)['admin'], undefined);
  const ack = await good.request({ type: 'send', room: 'safe', cid: 'g1', text: 'fine' });
  assert.equal(ack.type, 'ack');
  const h = await good.request({ type: 'history', room: 'safe' });
  if (h.type === 'result' && h.of === 'history') {
    // Only the valid `__proto__` frame (its extra key dropped) and carol's message are stored.
    assert.deepEqual(
      h.messages.map((m) => m.text),
      ['x', 'fine'],
    );
  } else assert.fail(JSON.stringify(h));
  bad.close();
  good.close();
});

test('text over 16 KiB is refused as too long, in JSON and text mode, and nothing is stored', async () => {
  const c = await named('longwriter');
  await c.request({ type: 'join', room: 'longroom' });
  const over = 'x'.repeat(16 * 1024 + 1);
  expectError(
    await c.request({ type: 'send', room: 'longroom', cid: 'long1', text: over }),
    'TEXT_TOO_LONG',
  );
  // Two-byte letters: 8,193 of them are 16,386 bytes, over the limit though under 16 Ki characters.
  const wide = 'é'.repeat(8 * 1024 + 1);
  expectError(
    await c.request({ type: 'send', room: 'longroom', cid: 'long2', text: wide }),
    'TEXT_TOO_LONG',
  );
  // Short bad text keeps its own code.
  expectError(
    await c.request({ type: 'send', room: 'longroom', cid: 'bad1', text: 'a\u0007' }),
    'TEXT_INVALID',
  );
  const exact = 'y'.repeat(16 * 1024);
  assert.equal(
    (await c.request({ type: 'send', room: 'longroom', cid: 'fits', text: exact })).type,
    'ack',
  );
  const h = await c.request({ type: 'history', room: 'longroom' });
  if (h.type === 'result' && h.of === 'history') {
    assert.deepEqual(
      h.messages.map((m) => m.cid),
      ['fits'],
    );
  } else assert.fail(JSON.stringify(h));
  const t = await TestClient.text(server);
  await t.next((f) => f === 'Welcome to the chat!!!');
  t.send(over);
  assert.match(await t.next((f) => f.startsWith('!')), /at most 16 KiB/);
  t.close();
  c.close();
});

test('rooms past the presence notice limit stop announcing joins', async () => {
  const small = await startTestServer({ presenceNoticeLimit: 2 });
  try {
    const clients: TestClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await TestClient.json(small);
      await c.event('welcome');
      await c.request({ type: 'join', room: 'big' });
      clients.push(c);
    }
    const [first] = clients as [TestClient];
    await first.request({ type: 'rooms' });
    const joins = first.events().filter((e) => e.type === 'presence' && e.event === 'join');
    assert.equal(joins.length, 1, 'only the second member was announced');
    const who = await first.request({ type: 'who', room: 'big' });
    assert.equal(who.type === 'result' && who.of === 'who' && who.members.length, 3);
    for (const c of clients) c.close();
  } finally {
    await small.dispose();
  }
});

test('typing is relayed to others with a time to live, and throttled', async () => {
  const t1 = await named('typer');
  const t2 = await named('watcher');
  await t1.request({ type: 'join', room: 'typing' });
  await t2.request({ type: 'join', room: 'typing' });
  await t1.request({ type: 'typing', room: 'typing' });
  await t1.request({ type: 'typing', room: 'typing' });
  const e = await t2.event('typing');
  assert.equal(e.name, 'typer');
  assert.ok(e.ttlMs > 0);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(t2.events().filter((x) => x.type === 'typing').length, 1, 'throttled to one');
  assert.equal(
    t1.events().filter((x) => x.type === 'typing').length,
    0,
    'not echoed to the typist',
  );
  t1.close();
  t2.close();
});

test('direct messages reach both sides and no one else', async () => {
  const dan = await named('dan');
  const eve = await named('eve');
  const spy = await named('spy');
  const ack = await dan.request({ type: 'send', room: '@eve', cid: 'dm1', text: 'psst' });
  assert.equal(ack.type === 'ack' && ack.room, '@eve');
  const got = await eve.event('msg');
  assert.deepEqual([got.room, got.from, got.text], ['@dan', 'dan', 'psst']);
  // The spy's "@eve" is the spy's own conversation with eve: empty.
  const h = await spy.request({ type: 'history', room: '@eve' });
  assert.deepEqual(h.type === 'result' && h.of === 'history' && h.messages, []);
  expectError(await spy.request({ type: 'history', room: '@dan eve' }), 'NO_SUCH_USER');
  assert.equal(spy.events().filter((x) => x.type === 'msg').length, 0);
  const eveHistory = await eve.request({ type: 'history', room: '@dan' });
  assert.deepEqual(
    eveHistory.type === 'result' &&
      eveHistory.of === 'history' &&
      eveHistory.messages.map((m) => m.text),
    ['psst'],
  );
  // A new tab of eve's learns of the conversation from hello.
  const guest = await TestClient.json(server);
  await guest.event('welcome');
  expectError(
    await guest.request({ type: 'send', room: '@dan', cid: 'g', text: 'x' }),
    'NAME_REQUIRED',
  );
  expectError(
    await dan.request({ type: 'send', room: '@nobody', cid: 'n', text: 'x' }),
    'NO_SUCH_USER',
  );
  for (const c of [dan, eve, spy, guest]) c.close();
});

test('history pages backwards over WebSocket and HTTP', async () => {
  const c = await named('pager');
  await c.request({ type: 'join', room: 'paged' });
  for (let i = 1; i <= 25; i++)
    await c.request({ type: 'send', room: 'paged', cid: `p${i}`, text: `m${i}` });
  const page = await c.request({ type: 'history', room: 'paged', before: 11, limit: 5 });
  assert.ok(page.type === 'result' && page.of === 'history');
  if (page.type === 'result' && page.of === 'history') {
    assert.deepEqual(
      page.messages.map((m) => m.seq),
      [6, 7, 8, 9, 10],
    );
    assert.equal(page.more, true);
  }
  const res = await fetch(
    `http://127.0.0.1:${server.httpPort}/api/rooms/paged/messages?before=4&limit=10`,
  );
  assert.equal(res.status, 200);
  const body = (await res.json()) as { messages: { seq: number; text: string }[]; more: boolean };
  assert.deepEqual(
    body.messages.map((m) => m.text),
    ['m1', 'm2', 'm3'],
  );
  assert.equal(body.more, false);
  const latest = (await (
    await fetch(`http://127.0.0.1:${server.httpPort}/api/rooms/paged/messages?limit=2`)
  ).json()) as {
    messages: { seq: number }[];
  };
  assert.deepEqual(
    latest.messages.map((m) => m.seq),
    [24, 25],
  );
  const bad = await fetch(`http://127.0.0.1:${server.httpPort}/api/rooms/paged/messages?before=x`);
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
  const dm = await fetch(`http://127.0.0.1:${server.httpPort}/api/rooms/%40dan%20eve/messages`);
  assert.equal(dm.status, 400, 'direct conversations are not public');
  c.close();
});

test('a rejoin with since replays what was missed, then a gap marker past the bound', async () => {
  const small = await startTestServer({ historyBound: 5 });
  try {
    const w = await TestClient.json(small);
    await w.event('welcome');
    await w.request({ type: 'join', room: 'r' });
    for (let i = 1; i <= 12; i++)
      await w.request({ type: 'send', room: 'r', cid: `r${i}`, text: `m${i}` });
    const r = await TestClient.json(small);
    await r.event('welcome');
    r.send({ type: 'join', room: 'r', since: 9 });
    const replay = await r.take('msg', 3);
    assert.deepEqual(
      replay.map((m) => m.seq),
      [10, 11, 12],
    );
    const far = await TestClient.json(small);
    await far.event('welcome');
    far.send({ type: 'join', room: 'r', since: 2 });
    const gap = await far.event('gap');
    assert.deepEqual([gap.after, gap.before], [2, 8]);
    const rest = await far.take('msg', 5);
    assert.deepEqual(
      rest.map((m) => m.seq),
      [8, 9, 10, 11, 12],
    );
    for (const c of [w, r, far]) c.close();
  } finally {
    await small.dispose();
  }
});

test('text mode: /nick, /join, /who, /rooms, /me, /msg, /part, /history, /help and errors', async () => {
  const t = await TestClient.text(server);
  await t.next((f) => f === 'Welcome to the chat!!!');
  t.send('/nick TextUser');
  assert.equal(await t.next((f) => f.startsWith('* You are now')), '* You are now TextUser.');
  const key = (await t.next((f) => f.startsWith('* To take'))).split(' ').pop();
  assert.ok(key && key.length >= 16);
  t.send('/join #textroom');
  await t.next((f) => f.startsWith('* Now talking in #textroom'));
  t.send('hello text');
  assert.equal(await t.next((f) => f.includes('hello text')), 'TextUser: hello text');
  t.send('/me waves');
  assert.equal(await t.next((f) => f.includes('waves')), '* TextUser waves');
  t.send('/who');
  assert.equal(await t.next((f) => f.startsWith('Members of')), 'Members of #textroom: TextUser');
  t.send('/rooms');
  assert.match(await t.next((f) => f.startsWith('Rooms:')), /#textroom \(1\)/);
  t.send('/history 1');
  assert.equal(await t.next((f) => f.startsWith('* TextUser waves')), '* TextUser waves');
  const friend = await named('textfriend');
  t.send('/msg textfriend hi friend');
  const dm = await friend.event('msg');
  assert.deepEqual([dm.room, dm.text], ['@textuser', 'hi friend']);
  assert.equal(await t.next((f) => f.includes('hi friend')), '[@textfriend] TextUser: hi friend');
  t.send('/nick bad name here');
  t.send('/frob');
  assert.match(await t.next((f) => f.startsWith('! Unknown command')), /frob/);
  t.send('/help');
  assert.match(await t.next((f) => f.startsWith('Commands:')), /\/msg NAME TEXT/);
  t.send('/part');
  assert.match(await t.next((f) => f.startsWith('* Left #textroom')), /now talking in #lobby$/);
  // A second text client cannot take the name without the key; with it, it can.
  const t2 = await TestClient.text(server);
  t2.send('/nick textuser');
  assert.match(await t2.next((f) => f.startsWith('!')), /in use/);
  t.close();
  await t.closed();
  await new Promise((r) => setTimeout(r, 50));
  t2.send(`/nick TextUser ${key}`);
  assert.equal(await t2.next((f) => f.startsWith('* You are now')), '* You are now TextUser.');
  t2.close();
  friend.close();
});

test('text messages after a restart are new messages, not resends of old ones', async () => {
  // Separate processes: server-made message ids must not repeat from one process to the next.
  const dataDir = tempDir();
  for (const line of ['before the restart', 'after the restart']) {
    const node = await spawnNode(['--data-dir', dataDir]);
    try {
      const c = await TestClient.open(`ws://127.0.0.1:${node.port}/ws`);
      c.send(line);
      await c.next((f) => f.endsWith(`: ${line}`));
      c.close();
    } finally {
      await node.kill('SIGKILL');
    }
  }
});

test('history survives a restart', async () => {
  const s1 = await startTestServer();
  const c = await TestClient.json(s1);
  await c.event('welcome');
  await c.request({ type: 'join', room: 'durable' });
  await c.request({ type: 'send', room: 'durable', cid: 'd1', text: 'kept' });
  c.close();
  await s1.stop();
  const s2 = await startTestServer({ dataDir: s1.dataDir });
  try {
    const res = await fetch(`http://127.0.0.1:${s2.httpPort}/api/rooms/durable/messages`);
    const body = (await res.json()) as { messages: { text: string; seq: number }[] };
    assert.deepEqual(
      body.messages.map((m) => [m.seq, m.text]),
      [[1, 'kept']],
    );
  } finally {
    await s2.dispose();
  }
});
