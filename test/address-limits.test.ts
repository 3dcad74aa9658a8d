// One address, many connections, reconnect loops: the attacks that refilled every bucket by
// reconnecting, run against a real server with the default limits. Each shows the attacker
// refused with a stable code, the server alive, a bystander from another address served, and
// nothing acked lost. Bystanders connect from 127.0.0.2: all of 127/8 is loopback on Linux.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import WebSocket from 'ws';
import { addressKey, KeyedBuckets, PRESENCE_NOTICES_PER_MINUTE } from '../src/core/index.js';
import { DEFAULTS, type Config } from '../src/server/config.js';
import { openStore } from '../src/store/open-store.js';
import type { ServerEvent } from '../src/protocol/index.js';
import { startTestServer, tempDir, TestClient, waitFor, type TestServer } from './helpers.js';
import { httpGet } from './http-helpers.js';

const BYSTANDER = '127.0.0.2';

function jsonFrom(s: TestServer, localAddress?: string): Promise<TestClient> {
  return TestClient.open(`ws://127.0.0.1:${s.httpPort}/ws`, 'parley.v1', { localAddress });
}

function textFrom(s: TestServer, localAddress?: string): Promise<TestClient> {
  return TestClient.open(`ws://127.0.0.1:${s.wsPort}`, undefined, { localAddress });
}

/** The default of each named limit, over the lenient ones the test helpers start with. */
function defaults(...keys: (keyof Config)[]): Partial<Config> {
  return Object.fromEntries(keys.map((k) => [k, DEFAULTS[k]]));
}

const REPLIES = new Set(['ack', 'error', 'result']);

/** A send to the lobby of `text` for each cid. */
function lobbySends(text: string, cids: string[]): object[] {
  return cids.map((cid) => ({ type: 'send', room: 'lobby', cid, text }));
}

/** Sends every request at once and waits until each has its reply; returns the replies. */
async function blast(c: TestClient, reqs: object[]): Promise<ServerEvent[]> {
  const from = c.frames.length;
  for (const r of reqs) c.send(r);
  const replies = () =>
    c.frames
      .slice(from)
      .map((f) => JSON.parse(f) as ServerEvent)
      .filter((e) => REPLIES.has(e.type));
  await waitFor(() => replies().length >= reqs.length, `${reqs.length} replies`, 20_000);
  return replies();
}

function codes(replies: ServerEvent[]): string[] {
  return replies.flatMap((e) => (e.type === 'error' ? [e.code] : []));
}

/** Every message of a room in the store, through the HTTP history route, read from `readers` in turn. */
async function stored(
  s: TestServer,
  room: string,
  readers: string[] = ['127.0.0.1'],
): Promise<{ cid: string; seq: number }[]> {
  const out: { cid: string; seq: number }[] = [];
  let before: number | undefined;
  for (let i = 0; ; i++) {
    const q = before === undefined ? '' : `&before=${before}`;
    const from = readers[i % readers.length];
    const res = await httpGet(s.httpPort, `/api/rooms/${room}/messages?limit=200${q}`, { from });
    assert.equal(res.status, 200, res.body);
    const page = JSON.parse(res.body) as {
      messages: { cid: string; seq: number }[];
      more: boolean;
    };
    out.unshift(...page.messages);
    if (!page.more || page.messages.length === 0) return out;
    before = page.messages[0]?.seq;
  }
}

async function alive(s: TestServer): Promise<void> {
  const res = await fetch(`${s.httpUrl}/healthz`);
  assert.equal(res.status, 200);
}

/** Joins a room and takes a guest name's hello, as the page does. */
async function member(s: TestServer, room: string, localAddress?: string): Promise<TestClient> {
  const c = await jsonFrom(s, localAddress);
  await c.event('welcome');
  const j = await c.request({ type: 'join', room });
  assert.equal(j.type, 'result', JSON.stringify(j));
  return c;
}

test('reconnecting does not refill the requests an address may make', async () => {
  const s = await startTestServer(defaults('addressRatePerSecond', 'addressRateBurst'));
  try {
    const bystander = await member(s, 'lobby', BYSTANDER);
    const acked: string[] = [];
    const limited: string[] = [];
    const started = Date.now();
    // Each round: two connections at once, each within its own burst of 40, then reconnect.
    for (let round = 0; round < 4; round++) {
      const pair = await Promise.all([jsonFrom(s), jsonFrom(s)]);
      await Promise.all(pair.map((c) => c.event('welcome')));
      const join = { type: 'join', room: 'lobby' };
      const replies = await Promise.all(
        pair.map((c, k) =>
          blast(c, [
            join,
            ...Array.from({ length: 35 }, (_, i) => ({
              type: 'send',
              room: 'lobby',
              cid: `r${round}-${k}-${i}`,
              text: 'flood',
            })),
          ]),
        ),
      );
      for (const e of replies.flat()) {
        if (e.type === 'ack') acked.push(e.cid);
        if (e.type === 'error') limited.push(e.code);
      }
      for (const c of pair) c.close();
    }
    const seconds = (Date.now() - started) / 1000;
    // 288 sent; the address gets its burst plus what refilled while the attack ran.
    const ceiling = DEFAULTS.addressRateBurst + DEFAULTS.addressRatePerSecond * seconds + 8;
    assert.ok(acked.length <= ceiling, `${acked.length} acked in ${seconds} s`);
    // A refused join makes its sends NOT_IN_ROOM; nothing else goes wrong.
    assert.ok(limited.includes('RATE_LIMITED'), String(limited));
    assert.deepEqual(
      limited.filter((c) => c !== 'RATE_LIMITED' && c !== 'NOT_IN_ROOM'),
      [],
    );
    await alive(s);
    const mine = await bystander.request({ type: 'send', room: 'lobby', cid: 'b1', text: 'hi' });
    assert.equal(mine.type, 'ack');
    // Nothing acked is lost: stored once each, and the bystander got every one live.
    const cids = (await stored(s, 'lobby')).map((m) => m.cid);
    assert.deepEqual(cids.sort(), [...acked, 'b1'].sort());
    await waitFor(
      () => bystander.events().filter((e) => e.type === 'msg').length === acked.length + 1,
      'the bystander to get every acked message',
    );
  } finally {
    await s.dispose();
  }
});

test('an address has a budget of stored bytes that reconnecting does not refill', async () => {
  const s = await startTestServer({
    ...defaults('addressBytesPerHour'),
    ratePerSecond: 1000,
    rateBurst: 1000,
  });
  try {
    const bystander = await member(s, 'lobby', BYSTANDER);
    const big = 'x'.repeat(16 * 1024);
    const acked: string[] = [];
    const refusals: ServerEvent[] = [];
    for (let round = 0; round < 4; round++) {
      const c = await member(s, 'lobby');
      const cids = Array.from({ length: 45 }, (_, i) => `b${round}-${i}`);
      const replies = await blast(c, lobbySends(big, cids));
      for (const e of replies) {
        if (e.type === 'ack') acked.push(e.cid);
        else refusals.push(e);
      }
      c.close();
    }
    // 180 × 16 KiB sent; an hour's budget is 128 of them, an eighth of it may come at once,
    // and the attack took seconds.
    const budget = Math.floor(DEFAULTS.addressBytesPerHour / 8 / big.length);
    assert.ok(acked.length <= budget + 2, `${acked.length} acked`);
    assert.ok(acked.length >= budget - 2, `${acked.length} acked: the budget itself is served`);
    assert.deepEqual([...new Set(codes(refusals))], ['RATE_LIMITED']);
    await alive(s);
    const mine = await bystander.request({ type: 'send', room: 'lobby', cid: 'by', text: big });
    assert.equal(mine.type, 'ack');
    assert.deepEqual((await stored(s, 'lobby')).map((m) => m.cid).sort(), [...acked, 'by'].sort());
  } finally {
    await s.dispose();
  }
});

test('history read from one address is bounded by its bytes, over HTTP, JSON and text alike', async () => {
  const s = await startTestServer({
    ...defaults('addressHistoryBytesPerMinute'),
    ratePerSecond: 1000,
    rateBurst: 1000,
  });
  try {
    const writer = await member(s, 'lobby', BYSTANDER);
    const big = 'h'.repeat(16 * 1024);
    const sent = Array.from({ length: 30 }, (_, i) => `h${i}`);
    assert.deepEqual(codes(await blast(writer, lobbySends(big, sent))), []);
    // A full page (256 KiB) may come at once, and another while the bucket is not yet empty;
    // then the address owes a page and is told to wait for it: a page of the minute's 4 MiB
    // is 3.75 s.
    const page = '/api/rooms/lobby/messages?limit=200';
    let served = 0;
    let refused = await httpGet(s.httpPort, page);
    for (; refused.status === 200 && served < 12; served++) {
      refused = await httpGet(s.httpPort, page);
    }
    assert.ok(served >= 1 && served <= 3, `${served} pages served`);
    assert.equal(refused.status, 429, refused.body);
    assert.equal(
      (JSON.parse(refused.body) as { error: { code: string } }).error.code,
      'RATE_LIMITED',
    );
    const wait = Number(refused.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 4, `Retry-After ${wait}`);
    // The same address over a new WebSocket, JSON or text, shares the budget.
    const json = await jsonFrom(s);
    await json.event('welcome');
    const h = await json.request({ type: 'history', room: 'lobby', limit: 200 });
    assert.ok(h.type === 'error' && h.code === 'RATE_LIMITED', JSON.stringify(h));
    json.close();
    const text = await textFrom(s);
    await text.next((f) => f === 'Welcome to the chat!!!');
    text.send('/history 50');
    await text.next((f) => /wait \d s/.test(f));
    text.close();
    // Once the wait is over, the address reads again.
    await new Promise((r) => setTimeout(r, wait * 1000));
    assert.equal((await httpGet(s.httpPort, page)).status, 200);
    // Other addresses read every message, none lost.
    const readers = ['127.0.0.3', '127.0.0.4', '127.0.0.5'];
    assert.deepEqual(
      (await stored(s, 'lobby', readers)).map((m) => m.cid),
      sent,
    );
    writer.close();
    await alive(s);
  } finally {
    await s.dispose();
  }
});

test('join and part loops from one address, JSON and text, cannot flood a room with presence', async () => {
  const s = await startTestServer({
    ...defaults('addressJoinsPerMinute'),
    ratePerSecond: 1000,
    rateBurst: 1000,
  });
  try {
    const bystander = await member(s, 'busy', BYSTANDER);
    const started = Date.now();
    let refused = 0;
    let textRefused = 0;
    const textReply = /^(\* Now talking|\* Left|! )/;
    for (let round = 0; round < 3; round++) {
      const pair = await Promise.all([jsonFrom(s), jsonFrom(s)]);
      const loops = pair.map((c) =>
        blast(
          c,
          Array.from({ length: 30 }, (_, i) => ({ type: i % 2 ? 'part' : 'join', room: 'busy' })),
        ),
      );
      // A text client's /join and /part go through the same limit.
      const text = await textFrom(s);
      await text.next((f) => f === 'Welcome to the chat!!!');
      for (let i = 0; i < 30; i++) text.send(i % 2 ? '/part busy' : '/join busy');
      for (const replies of await Promise.all(loops)) {
        refused += codes(replies).filter((c) => c === 'RATE_LIMITED').length;
      }
      await waitFor(
        () => text.frames.filter((f) => textReply.test(f)).length >= 30,
        'the text client to be answered',
      );
      textRefused += text.frames.filter((f) => f.startsWith('! Too many joins')).length;
      for (const c of [...pair, text]) c.close();
    }
    const seconds = (Date.now() - started) / 1000;
    assert.ok(refused > 0, 'the JSON loops were refused');
    assert.ok(textRefused > 0, 'the text loops were refused');
    await alive(s);
    // The bystander is still served, and another address still joins; its arrival comes after
    // every presence event the attack caused.
    const other = await jsonFrom(s, '127.0.0.3');
    const { name } = await other.event('welcome');
    assert.equal((await other.request({ type: 'join', room: 'busy' })).type, 'result');
    await bystander.event('presence', (e) => e.name === name && e.event === 'join');
    const presence = bystander.events().filter((e) => e.type === 'presence').length - 1;
    // Of the joins that got through, a few a minute are announced (each leave announced spends
    // one), besides those of the three connections in the room at once before it was spent.
    const notices = PRESENCE_NOTICES_PER_MINUTE * (1 + seconds / 60) + 3;
    assert.ok(presence <= 2 * notices, `${presence} presence events in ${seconds} s`);
    const w = await bystander.request({ type: 'who', room: 'busy' });
    assert.ok(w.type === 'result' && w.of === 'who' && w.members.length === 2, JSON.stringify(w));
    other.close();
  } finally {
    await s.dispose();
  }
});

test('names reserved from one address are bounded across reconnects; reclaiming one stays free', async () => {
  const s = await startTestServer(defaults('addressNamesPerHour'));
  try {
    let claimed = 0;
    const refusals: string[] = [];
    let first: { name: string; token: string } | undefined;
    // Each connection stays within --renames-per-minute (5), then reconnects.
    for (let round = 0; round < 10; round++) {
      const c = await jsonFrom(s);
      await c.event('welcome');
      for (let i = 0; i < 5; i++) {
        const r = await c.request({ type: 'hello', name: `squat${round}x${i}` });
        if (r.type === 'result' && r.of === 'hello') {
          claimed++;
          first ??= { name: r.name, token: r.token };
        } else if (r.type === 'error') refusals.push(r.code);
      }
      c.close();
    }
    assert.ok(claimed <= DEFAULTS.addressNamesPerHour + 1, `${claimed} names reserved`);
    assert.ok(refusals.length > 0 && refusals.every((c) => c === 'RATE_LIMITED'), String(refusals));
    // Text mode: /nick is refused the same way.
    const text = await textFrom(s);
    await text.next((f) => f === 'Welcome to the chat!!!');
    text.send('/nick textsquatter');
    assert.match(await text.next((f) => f.startsWith('!')), /^! Too many new names/);
    text.close();
    // A person taking back their own name on a fresh connection is not charged for it.
    assert.ok(first);
    const back = await jsonFrom(s);
    await back.event('welcome');
    const again = await back.request({ type: 'hello', name: first.name, token: first.token });
    assert.ok(again.type === 'result' && again.of === 'hello', JSON.stringify(again));
    back.close();
    // Another address is served.
    const bystander = await jsonFrom(s, BYSTANDER);
    await bystander.event('welcome');
    const mine = await bystander.request({ type: 'hello', name: 'bystander' });
    assert.ok(mine.type === 'result' && mine.of === 'hello', JSON.stringify(mine));
    bystander.close();
    await alive(s);
  } finally {
    await s.dispose();
  }
});

/**
 * Opens a connection and says how the handshake ended: 101, or the status and Retry-After, or 0
 * when the server dropped the connection without an answer.
 */
function handshake(
  s: TestServer,
  localAddress?: string,
): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.wsPort}`, { localAddress });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] });
      res.resume();
      ws.terminate();
    });
    ws.once('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' || /socket hang up/.test(e.message)
        ? resolve({ status: 0 })
        : reject(e),
    );
  });
}

test('connecting in a loop from one address is refused with 429 and a Retry-After', async () => {
  const s = await startTestServer(defaults('addressHandshakesPerMinute'));
  try {
    const started = Date.now();
    const results = [];
    for (let i = 0; i < DEFAULTS.addressHandshakesPerMinute + 15; i++)
      results.push(await handshake(s));
    const seconds = (Date.now() - started) / 1000;
    const opened = results.filter((r) => r.status === 101).length;
    const refused = results.filter((r) => r.status === 429);
    const dropped = results.filter((r) => r.status === 0).length;
    assert.ok(
      opened <= DEFAULTS.addressHandshakesPerMinute + seconds + 1,
      `${opened} opened in ${seconds} s`,
    );
    assert.ok(refused.length > 0, 'some handshakes were refused');
    for (const r of refused) assert.ok(Number(r.retryAfter) >= 1, `Retry-After ${r.retryAfter}`);
    // Told to wait, the address is dropped at accept until its Retry-After has passed.
    assert.ok(dropped > 0, 'connections within the Retry-After were dropped at accept');
    assert.equal(opened + refused.length + dropped, results.length);
    await new Promise((r) => setTimeout(r, Number(refused.at(-1)?.retryAfter ?? 1) * 1000 + 100));
    assert.notEqual((await handshake(s)).status, 0, 'answered again once the wait has passed');
    // Another address connects and talks.
    const bystander = await textFrom(s, BYSTANDER);
    await bystander.next((f) => f === 'Welcome to the chat!!!');
    bystander.send('still open');
    await bystander.next((f) => f.endsWith(': still open'));
    bystander.close();
    await alive(s);
  } finally {
    await s.dispose();
  }
});

test('new rooms are bounded per address across reconnects, with ROOM_LIMIT', async () => {
  const s = await startTestServer(defaults('addressRoomsPerHour'));
  try {
    const made: string[] = [];
    const refusals: string[] = [];
    for (let round = 0; round < 3; round++) {
      const c = await jsonFrom(s);
      await c.event('welcome');
      for (let i = 0; i < 6; i++) {
        const room = `spam${round}x${i}`;
        const j = await c.request({ type: 'join', room });
        if (j.type === 'error') {
          refusals.push(j.code);
          continue;
        }
        const ack = await c.request({ type: 'send', room, cid: `c${room}`, text: 'mine now' });
        assert.equal(ack.type, 'ack');
        made.push(room);
        await c.request({ type: 'part', room });
      }
      c.close();
    }
    assert.equal(made.length, DEFAULTS.addressRoomsPerHour);
    assert.ok(refusals.length > 0 && refusals.every((c) => c === 'ROOM_LIMIT'), String(refusals));
    // Text mode is refused the same way, with a readable line.
    const text = await textFrom(s);
    await text.next((f) => f === 'Welcome to the chat!!!');
    text.send('/join textspam');
    assert.match(await text.next((f) => f.startsWith('!')), /^! Too many new rooms/);
    // Rooms that exist stay open to the same address; another address makes its own.
    text.send('/join spam0x0');
    await text.next((f) => f.startsWith('* Now talking in #spam0x0'));
    text.close();
    const bystander = await member(s, 'brandnew', BYSTANDER);
    const list = await bystander.request({ type: 'rooms' });
    assert.ok(list.type === 'result' && list.of === 'rooms');
    assert.deepEqual(
      list.rooms.map((r) => r.room),
      ['brandnew', 'lobby', ...made].sort(),
    );
    bystander.close();
    await alive(s);
  } finally {
    await s.dispose();
  }
});

test('the instance bounds new rooms however many addresses make them', async () => {
  const s = await startTestServer({ addressRoomsPerHour: 2, roomsPerHour: 3 });
  try {
    const a = await jsonFrom(s, BYSTANDER);
    const b = await jsonFrom(s, '127.0.0.3');
    const results: string[] = [];
    for (const [c, prefix] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      for (let i = 0; i < 2; i++) {
        const j = await c.request({ type: 'join', room: `${prefix}${i}` });
        results.push(j.type === 'error' ? j.code : 'joined');
      }
    }
    assert.deepEqual(results, ['joined', 'joined', 'joined', 'ROOM_LIMIT']);
    // A room that exists is still joined by anyone, new rooms or not.
    const c = await member(s, 'a0', '127.0.0.4');
    const lobby = await c.request({ type: 'join', room: 'lobby' });
    assert.equal(lobby.type, 'result');
    for (const x of [a, b, c]) x.close();
    await alive(s);
  } finally {
    await s.dispose();
  }
});

/** Stores messages in rooms before the server starts, each at the time given. */
async function seed(dataDir: string, rooms: { room: string; ts: number }[]): Promise<void> {
  const store = await openStore(`sqlite:${join(dataDir, 'parley.db')}`);
  for (const { room, ts } of rooms) {
    await store.append(
      [{ room, cid: `seed-${room}`, from: 'seed', fromId: 'u_seed', text: 'old', me: false }],
      ts,
    );
  }
  await store.close();
}

test('the room list comes a bounded page at a time, over JSON, HTTP and text', async () => {
  const dataDir = tempDir();
  const names = Array.from({ length: 250 }, (_, i) => `room${String(i).padStart(3, '0')}`);
  await seed(
    dataDir,
    names.map((room) => ({ room, ts: Date.now() })),
  );
  const s = await startTestServer({ dataDir });
  try {
    const all = [...names, 'lobby'].sort();
    const c = await jsonFrom(s);
    await c.event('welcome');
    // JSON: the default page is 100; following `next` lists every room once, in order.
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const r = await c.request({ type: 'rooms', ...(after === undefined ? {} : { after }) });
      assert.ok(r.type === 'result' && r.of === 'rooms', JSON.stringify(r));
      assert.ok(r.rooms.length <= 100);
      seen.push(...r.rooms.map((x) => x.room));
      assert.equal(r.remaining, all.length - seen.length);
      pages++;
      if (r.next === undefined) break;
      after = r.next;
    }
    assert.deepEqual(seen, all);
    assert.equal(pages, 3);
    const big = await c.request({ type: 'rooms', limit: 100_000 });
    assert.ok(big.type === 'result' && big.of === 'rooms' && big.rooms.length === 251);
    const small = await c.request({ type: 'rooms', limit: 2, after: 'room100' });
    assert.ok(small.type === 'result' && small.of === 'rooms');
    assert.deepEqual(small.rooms, [
      { room: 'room101', members: 0 },
      { room: 'room102', members: 0 },
    ]);
    const bad = await c.request({ type: 'rooms', limit: 'many' });
    assert.ok(bad.type === 'error' && bad.code === 'BAD_REQUEST');
    c.close();
    // HTTP: the same pages.
    const page = (await (await fetch(`${s.httpUrl}/api/rooms?limit=70&after=room099`)).json()) as {
      rooms: { room: string; members: number }[];
      next?: string;
      remaining: number;
    };
    assert.deepEqual(
      page.rooms.map((r) => r.room),
      names.slice(100, 170),
    );
    assert.equal(page.next, 'room169');
    assert.equal(page.remaining, 80);
    const first = (await (await fetch(`${s.httpUrl}/api/rooms`)).json()) as { rooms: unknown[] };
    assert.equal(first.rooms.length, 100);
    assert.equal((await fetch(`${s.httpUrl}/api/rooms?limit=x`)).status, 400);
    // Text: the first page and how many more.
    const text = await textFrom(s);
    await text.next((f) => f === 'Welcome to the chat!!!');
    text.send('/rooms');
    const listing = await text.next((f) => f.startsWith('Rooms:'));
    assert.equal(listing.split('\n').filter((l) => l.startsWith('  #')).length, 50);
    assert.match(listing, /\.\.\.and 201 more$/);
    text.close();
  } finally {
    await s.dispose();
  }
});

test('an empty room idle past --room-idle-days leaves the list; a join brings it back whole', async () => {
  const dataDir = tempDir();
  const day = 24 * 60 * 60 * 1000;
  await seed(dataDir, [
    { room: 'stale', ts: Date.now() - 40 * day },
    { room: 'fresh', ts: Date.now() - 2 * day },
  ]);
  const s = await startTestServer({ dataDir });
  try {
    const listed = async () => {
      const r = (await (await fetch(`${s.httpUrl}/api/rooms`)).json()) as {
        rooms: { room: string }[];
      };
      return r.rooms.map((x) => x.room);
    };
    assert.deepEqual(await listed(), ['fresh', 'lobby']);
    const c = await member(s, 'stale');
    const h = await c.request({ type: 'history', room: 'stale' });
    assert.ok(h.type === 'result' && h.of === 'history');
    assert.deepEqual(
      h.messages.map((m) => m.cid),
      ['seed-stale'],
    );
    assert.deepEqual(await listed(), ['fresh', 'lobby', 'stale']);
    await c.request({ type: 'part', room: 'stale' });
    // Just left: it idles from now.
    assert.deepEqual(await listed(), ['fresh', 'lobby', 'stale']);
    c.close();
  } finally {
    await s.dispose();
  }
});

test('an IPv6 host is limited by its /64, an IPv4 one by its address', () => {
  assert.equal(addressKey('203.0.113.9'), '203.0.113.9');
  assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9');
  const key = '2001:db8:1:2::/64';
  for (const a of ['2001:db8:1:2:3:4:5:6', '2001:0db8:0001:0002::', '2001:DB8:1:2:ffff::1']) {
    assert.equal(addressKey(a), key, a);
  }
  assert.notEqual(addressKey('2001:db8:1:3::1'), key);
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey('64:ff9b::198.51.100.1'), '64:ff9b:0:0::/64');
  // Not an address: kept as it is, so it still has a bucket of its own.
  assert.equal(addressKey('a:b:c'), 'a:b:c');
});

test('the table of address buckets stays bounded under many addresses', () => {
  const buckets = new KeyedBuckets(5, 60_000, 100);
  let now = 1_000_000;
  for (let i = 0; i < 10_000; i++) assert.ok(buckets.take(`10.0.${i >> 8}.${i & 255}`, now));
  assert.ok(buckets.keys <= 100, `${buckets.keys} keys`);
  // A bucket in use is kept and stays spent.
  for (let i = 0; i < 5; i++) assert.ok(buckets.take('198.51.100.7', now));
  assert.equal(buckets.take('198.51.100.7', now), false);
  assert.equal(buckets.waitMs('198.51.100.7', now), 12_000);
  // Refilled buckets are the same as none, and are dropped as new addresses come.
  now += 60_000;
  for (let i = 0; i < 3; i++) buckets.take(`192.0.2.${i}`, now);
  assert.ok(buckets.keys <= 4, `${buckets.keys} keys`);
  assert.ok(buckets.take('198.51.100.7', now));
});

test('a cost charged after the work is a debt the address waits out, at most a full bucket', () => {
  // 1,000 tokens a minute.
  const buckets = new KeyedBuckets(1000, 60_000, 100);
  const now = 1_000_000;
  buckets.charge('198.51.100.7', now, 1500);
  // 500 in debt, plus one token to be let in again: 30.06 s.
  assert.equal(buckets.waitMs('198.51.100.7', now), 30_060);
  buckets.charge('198.51.100.7', now, 1_000_000);
  assert.equal(buckets.waitMs('198.51.100.7', now), 60_060);
  assert.equal(buckets.waitMs('198.51.100.7', now + 60_060), 0);
  assert.equal(buckets.waitMs('192.0.2.1', now), 0);
});

test("a person's other tabs joining a room they are in cost no joins", async () => {
  const s = await startTestServer({ addressJoinsPerMinute: 2 });
  try {
    const tabs: TestClient[] = [];
    let token: string | undefined;
    for (let i = 0; i < 4; i++) {
      const c = await jsonFrom(s);
      await c.event('welcome');
      const h = await c.request({ type: 'hello', name: 'ann', ...(token ? { token } : {}) });
      assert.ok(h.type === 'result' && h.of === 'hello', JSON.stringify(h));
      token = h.token;
      const j = await c.request({ type: 'join', room: 'lobby' });
      assert.equal(j.type, 'result', JSON.stringify(j));
      tabs.push(c);
    }
    // A join that would announce someone new is still counted.
    const other = await jsonFrom(s);
    await other.event('welcome');
    assert.equal((await other.request({ type: 'join', room: 'lobby' })).type, 'result');
    const refused = await other.request({ type: 'join', room: 'dev' });
    assert.ok(refused.type === 'error' && refused.code === 'RATE_LIMITED', JSON.stringify(refused));
    for (const c of [...tabs, other]) c.close();
  } finally {
    await s.dispose();
  }
});

test("a connection refused for its address's rate is not read again until the bucket refills", async () => {
  const s = await startTestServer({
    addressRateBurst: 4,
    addressRatePerSecond: 4,
    ratePerSecond: 1000,
    rateBurst: 1000,
  });
  try {
    const c = await jsonFrom(s);
    await c.event('welcome');
    const other = await jsonFrom(s);
    await other.event('welcome');
    const replies = await blast(
      c,
      Array.from({ length: 6 }, (_, i) => ({ type: 'ping', id: `p${i}` })),
    );
    assert.ok(codes(replies).includes('RATE_LIMITED'), JSON.stringify(replies));
    // Read at once, this would be refused: the bucket gets a request back every 250 ms. The
    // connection is not read until the bucket holds half its burst, then it is served.
    const sent = Date.now();
    const late = await c.request({ type: 'ping' }, 5000);
    const waited = Date.now() - sent;
    assert.ok(late.type === 'result' && late.of === 'ping', JSON.stringify(late));
    assert.ok(waited >= 300, `answered after ${waited} ms`);
    // The address's other connection waits too (the bucket is the address's), and is served.
    const theirs = await other.request({ type: 'ping' }, 5000);
    assert.ok(theirs.type === 'result', JSON.stringify(theirs));
    // Another address is read at once throughout.
    const bystander = await jsonFrom(s, BYSTANDER);
    await bystander.event('welcome');
    for (let i = 0; i < 3; i++) c.send({ type: 'ping' });
    const t0 = Date.now();
    assert.equal((await bystander.request({ type: 'ping' })).type, 'result');
    assert.ok(Date.now() - t0 < 250, 'the bystander is not held');
    for (const x of [c, other, bystander]) x.close();
  } finally {
    await s.dispose();
  }
});
