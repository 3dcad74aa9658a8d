// Accounts, sessions and who may do what, against a real server with the default access
// settings (guests talk in the lobby only; anyone may register).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TestClient, waitFor, type TestServer } from './helpers.js';
import fc from 'fast-check';
import type { ServerEvent } from '../src/protocol/index.js';

const PASSWORD = 'correct horse';

function expectCode(e: ServerEvent, code: string): void {
  assert.ok(e.type === 'error' && e.code === code, `expected ${code}, got ${JSON.stringify(e)}`);
}

function expectResult(e: ServerEvent, of: string): void {
  assert.ok(
    e.type === 'result' && e.of === of,
    `expected a ${of} result, got ${JSON.stringify(e)}`,
  );
}

async function client(s: TestServer): Promise<TestClient> {
  const c = await TestClient.json(s);
  await c.event('welcome');
  return c;
}

/** A person with an account and a password, connected. */
async function person(
  s: TestServer,
  name: string,
  ticket?: string,
): Promise<TestClient & { token: string }> {
  const c = await client(s);
  const r = await c.request({
    type: 'register',
    name,
    password: PASSWORD,
    ...(ticket && { ticket }),
  });
  assert.ok(r.type === 'result' && r.of === 'login', JSON.stringify(r));
  return Object.assign(c, { token: r.token });
}

/** The code of a link's fragment: `PAGE/#setup=CODE`. */
function codeOf(link: string | undefined): string {
  const m = /#\w+=(.+)$/.exec(link ?? '');
  assert.ok(m?.[1], `no code in ${link}`);
  return m[1];
}

describe('accounts and sessions', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ guests: 'on' });
  });
  after(() => s.dispose());

  test('the setup link makes the owner once; register, login, wrong passwords', async () => {
    const setup = codeOf(s.setupLink);
    const owner = await client(s);
    const r = await owner.request({
      type: 'register',
      name: 'olga',
      password: PASSWORD,
      ticket: setup,
    });
    assert.ok(r.type === 'result' && r.of === 'login' && r.role === 'owner', JSON.stringify(r));
    assert.ok(r.token.length >= 22, 'a session token has at least 128 bits');
    const again = await client(s);
    expectCode(
      await again.request({ type: 'register', name: 'mallory', password: PASSWORD, ticket: setup }),
      'TICKET_INVALID',
    );
    expectCode(
      await again.request({ type: 'register', name: 'weak', password: 'short' }),
      'PASSWORD_WEAK',
    );
    expectCode(
      await again.request({ type: 'register', name: 'olgA', password: PASSWORD }),
      'NAME_TAKEN',
    );
    // A wrong password and an unknown name get one answer.
    const wrong = await again.request({ type: 'login', name: 'olga', password: 'not the one' });
    const unknown = await again.request({ type: 'login', name: 'nobody', password: PASSWORD });
    expectCode(wrong, 'LOGIN_FAILED');
    expectCode(unknown, 'LOGIN_FAILED');
    assert.equal(
      wrong.type === 'error' && wrong.message,
      unknown.type === 'error' && unknown.message,
    );
    const ok = await again.request({ type: 'login', name: 'OLGA', password: PASSWORD });
    assert.ok(
      ok.type === 'result' && ok.of === 'login' && ok.name === 'olga' && ok.role === 'owner',
    );
    owner.close();
    again.close();
  });

  test('a session token logs in again; sessions are listed and ended; logout ends one', async () => {
    const ann = await person(s, 'ann');
    const tab = await client(s);
    const login = await tab.request({ type: 'login', name: 'ann', password: PASSWORD });
    assert.ok(login.type === 'result' && login.of === 'login');
    // The token is a session: a new connection's hello with it is ann.
    const third = await client(s);
    const h = await third.request({ type: 'hello', token: ann.token });
    assert.ok(h.type === 'result' && h.of === 'hello' && h.name === 'ann', JSON.stringify(h));
    const list = await ann.request({ type: 'sessions' });
    assert.ok(list.type === 'result' && list.of === 'sessions');
    assert.equal(list.sessions.length, 2);
    assert.equal(list.sessions.filter((x) => x.current).length, 1);
    const other = list.sessions.find((x) => !x.current);
    assert.ok(other);
    expectResult(await ann.request({ type: 'revoke', session: other.id }), 'revoke');
    assert.equal(await tab.closed(3000), 4001, 'the ended session is closed at once');
    expectCode(await ann.request({ type: 'revoke', session: 'ffffffffffff' }), 'NOT_FOUND');
    // Logging out ends the session: the token no longer logs in, and the connection is a guest.
    const out = await ann.request({ type: 'logout' });
    assert.ok(out.type === 'result' && out.of === 'logout' && out.ended === 1);
    assert.equal(await third.closed(3000), 4001);
    const later = await client(s);
    const back = await later.request({ type: 'hello', token: ann.token });
    assert.ok(back.type === 'result' && back.of === 'hello' && back.name.startsWith('guest-'));
    for (const c of [ann, later]) c.close();
  });

  test('a password change needs the old one and ends the other sessions', async () => {
    const bea = await person(s, 'bea');
    const tab = await client(s);
    expectResult(await tab.request({ type: 'login', name: 'bea', password: PASSWORD }), 'login');
    expectCode(
      await bea.request({ type: 'password', password: 'a new secret', old: 'wrong one' }),
      'LOGIN_FAILED',
    );
    expectResult(
      await bea.request({ type: 'password', password: 'a new secret', old: PASSWORD }),
      'password',
    );
    assert.equal(await tab.closed(3000), 4001);
    const fresh = await client(s);
    expectCode(
      await fresh.request({ type: 'login', name: 'bea', password: PASSWORD }),
      'LOGIN_FAILED',
    );
    expectResult(
      await fresh.request({ type: 'login', name: 'bea', password: 'a new secret' }),
      'login',
    );
    bea.close();
    fresh.close();
  });

  test('a name taken without a password keeps its token, and its owner can set one', async () => {
    const c = await client(s);
    const h = await c.request({ type: 'hello', name: 'cid', token: 'legacy-token-0123456789' });
    assert.ok(h.type === 'result' && h.of === 'hello' && h.name === 'cid');
    expectResult(await c.request({ type: 'password', password: PASSWORD }), 'password');
    const d = await client(s);
    expectResult(await d.request({ type: 'login', name: 'cid', password: PASSWORD }), 'login');
    c.close();
    d.close();
  });
});

test('sign-in attempts are throttled per address, refused before any hashing', async () => {
  const s = await startTestServer({ guests: 'on' });
  try {
    const c = await client(s);
    const codes: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await c.request({ type: 'login', name: `someone${i}`, password: PASSWORD });
      codes.push(r.type === 'error' ? r.code : r.type);
    }
    assert.deepEqual(codes, [
      ...Array<string>(10).fill('LOGIN_FAILED'),
      'LOGIN_THROTTLED',
      'LOGIN_THROTTLED',
    ]);
    // A reconnect does not refill it.
    c.close();
    const d = await client(s);
    expectCode(
      await d.request({ type: 'login', name: 'someone', password: PASSWORD }),
      'LOGIN_THROTTLED',
    );
    d.close();
  } finally {
    await s.dispose();
  }
});

describe('guests and registration settings', () => {
  test('by default a guest talks in the lobby but makes no room and sends no direct message', async () => {
    const s = await startTestServer({ guests: 'on' });
    try {
      const g = await client(s);
      expectResult(await g.request({ type: 'join', room: 'lobby' }), 'join');
      const ack = await g.request({ type: 'send', room: 'lobby', cid: 'g1', text: 'hi' });
      assert.equal(ack.type, 'ack');
      expectCode(await g.request({ type: 'join', room: 'dev' }), 'ACCOUNT_REQUIRED');
      const ann = await person(s, 'ann');
      expectCode(
        await g.request({ type: 'send', room: '@ann', cid: 'g2', text: 'psst' }),
        'NAME_REQUIRED',
      );
      expectResult(await ann.request({ type: 'join', room: 'dev' }), 'join');
      // A room made by a member is closed to guests until its owner opens it.
      expectCode(await g.request({ type: 'join', room: 'dev' }), 'ACCOUNT_REQUIRED');
      expectResult(await ann.request({ type: 'settings', room: 'dev', guests: true }), 'settings');
      expectResult(await g.request({ type: 'join', room: 'dev' }), 'join');
      g.close();
      ann.close();
    } finally {
      await s.dispose();
    }
  });

  test('--guests off: a plain client is welcomed and told to sign in', async () => {
    const s = await startTestServer({ guests: 'off' });
    try {
      const t = await TestClient.text(s);
      await t.next((f) => f === 'Welcome to the chat!!!');
      await t.next((f) => f.includes('no guests'));
      t.send('/register tex correct-horse');
      await t.next((f) => f.includes('Signed in as tex'));
      t.send('/join lobby');
      await t.next((f) => f.includes('Now talking in #lobby'));
      t.close();
    } finally {
      await s.dispose();
    }
  });

  test('--registration invite and closed', async () => {
    const s = await startTestServer({ guests: 'on', registration: 'invite' });
    try {
      const owner = await person(s, 'olga', codeOf(s.setupLink));
      const c = await client(s);
      expectCode(
        await c.request({ type: 'register', name: 'ann', password: PASSWORD }),
        'INVITE_REQUIRED',
      );
      expectCode(await c.request({ type: 'hello', name: 'ann' }), 'INVITE_REQUIRED');
      const inv = await owner.request({ type: 'invite', uses: 1 });
      assert.ok(inv.type === 'result' && inv.of === 'invite');
      const ann = await person(s, 'ann', inv.code);
      expectCode(
        await c.request({ type: 'register', name: 'ben', password: PASSWORD, ticket: inv.code }),
        'TICKET_INVALID',
      );
      for (const x of [owner, c, ann]) x.close();
    } finally {
      await s.dispose();
    }
    const closed = await startTestServer({ guests: 'on', registration: 'closed' });
    try {
      const c = await client(closed);
      expectCode(
        await c.request({ type: 'register', name: 'ann', password: PASSWORD }),
        'REGISTRATION_CLOSED',
      );
      // The owner's setup link works even so: somebody must run the instance.
      await person(closed, 'olga', codeOf(closed.setupLink));
      c.close();
    } finally {
      await closed.dispose();
    }
  });
});

describe('rooms with owners', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ guests: 'on' });
  });
  after(() => s.dispose());

  test('a private room is, to everyone else, a room that does not exist', async () => {
    const ann = await person(s, 'pat');
    const ben = await person(s, 'pia');
    const eve = await person(s, 'pam');
    const guest = await client(s);
    expectResult(await ann.request({ type: 'join', room: 'secret' }), 'join');
    expectResult(
      await ann.request({ type: 'settings', room: 'secret', visibility: 'private' }),
      'settings',
    );
    await ann.request({ type: 'send', room: 'secret', cid: 's1', text: 'the plan' });
    expectResult(
      await ann.request({ type: 'moderate', action: 'invite', name: 'pia', room: 'secret' }),
      'moderate',
    );
    await ben.event('notice', (n) => n.what === 'invited' && n.room === 'secret');
    const joined = await ben.request({ type: 'join', room: 'secret' });
    expectResult(joined, 'join');
    const h = await ben.request({ type: 'history', room: 'secret' });
    assert.ok(h.type === 'result' && h.of === 'history' && h.messages[0]?.text === 'the plan');
    // Outsiders: every route answers as for a room nobody made.
    for (const [who, join] of [
      [eve, 'NO_SUCH_ROOM'],
      [guest, 'ACCOUNT_REQUIRED'],
    ] as const) {
      expectCode(await who.request({ type: 'join', room: 'secret' }), join);
      for (const req of [
        { type: 'history', room: 'secret' },
        { type: 'who', room: 'secret' },
        { type: 'room', room: 'secret' },
      ]) {
        expectCode(await who.request(req), 'NO_SUCH_ROOM');
        expectCode(await who.request({ ...req, room: 'never-made' }), 'NO_SUCH_ROOM');
      }
      const list = await who.request({ type: 'rooms' });
      assert.ok(list.type === 'result' && list.of === 'rooms');
      assert.ok(!list.rooms.some((r) => r.room === 'secret'));
    }
    const members = await ben.request({ type: 'rooms' });
    assert.ok(members.type === 'result' && members.of === 'rooms');
    assert.ok(
      members.rooms.some((r) => r.room === 'secret'),
      'members see it listed',
    );
    // Over HTTP: anonymous, with an outsider's token, and with a member's.
    const get = (token?: string) =>
      fetch(`${s.httpUrl}/api/rooms/secret/messages`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    assert.equal((await get()).status, 404);
    assert.equal((await get(eve.token)).status, 404);
    const ok = await get(ben.token);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /the plan/);
    const listed = (await (await fetch(`${s.httpUrl}/api/rooms`)).json()) as {
      rooms: { room: string }[];
    };
    assert.ok(!listed.rooms.some((r) => r.room === 'secret'));
    for (const c of [ann, ben, eve, guest]) c.close();
  });

  test('kick, ban, mute and op, by whom, on whom, through JSON and text', async () => {
    const own = await person(s, 'ros');
    const mod = await person(s, 'rob');
    const mem = await person(s, 'rex');
    expectResult(await own.request({ type: 'join', room: 'town' }), 'join');
    for (const c of [mod, mem])
      expectResult(await c.request({ type: 'join', room: 'town' }), 'join');
    // A member may not moderate, nor op, nor set the topic.
    expectCode(
      await mem.request({ type: 'moderate', action: 'kick', name: 'rob', room: 'town' }),
      'FORBIDDEN',
    );
    expectCode(await mem.request({ type: 'settings', room: 'town', topic: 'mine' }), 'FORBIDDEN');
    expectCode(
      await mod.request({ type: 'moderate', action: 'op', name: 'rex', room: 'town' }),
      'FORBIDDEN',
    );
    expectResult(
      await own.request({ type: 'moderate', action: 'op', name: 'rob', room: 'town' }),
      'moderate',
    );
    // A room moderator may kick a member but not the owner.
    expectCode(
      await mod.request({ type: 'moderate', action: 'kick', name: 'ros', room: 'town' }),
      'FORBIDDEN',
    );
    expectResult(
      await mod.request({ type: 'settings', room: 'town', topic: 'Town square' }),
      'settings',
    );
    const topic = await mem.event('topic');
    assert.equal(topic.topic, 'Town square');
    // Mute: reads, cannot send or type.
    expectResult(
      await mod.request({
        type: 'moderate',
        action: 'mute',
        name: 'rex',
        room: 'town',
        duration: '30m',
      }),
      'moderate',
    );
    await mem.event('notice', (n) => n.what === 'muted');
    expectCode(await mem.request({ type: 'send', room: 'town', cid: 'm1', text: 'hey' }), 'MUTED');
    expectCode(await mem.request({ type: 'typing', room: 'town' }), 'MUTED');
    expectResult(
      await mod.request({ type: 'moderate', action: 'unmute', name: 'rex', room: 'town' }),
      'moderate',
    );
    await mem.event('notice', (n) => n.what === 'unmuted');
    assert.equal(
      (await mem.request({ type: 'send', room: 'town', cid: 'm2', text: 'back' })).type,
      'ack',
    );
    // Kick: out at once, from every tab; a public room may be joined again.
    const tab = await client(s);
    expectResult(await tab.request({ type: 'hello', token: mem.token }), 'hello');
    expectResult(await tab.request({ type: 'join', room: 'town' }), 'join');
    expectResult(
      await mod.request({
        type: 'moderate',
        action: 'kick',
        name: 'rex',
        room: 'town',
        reason: 'calm down',
      }),
      'moderate',
    );
    for (const c of [mem, tab]) {
      const n = await c.event('notice', (x) => x.what === 'kicked');
      assert.equal(n.reason, 'calm down');
      assert.equal(n.by, 'rob');
    }
    expectCode(
      await mem.request({ type: 'send', room: 'town', cid: 'm3', text: 'x' }),
      'NOT_IN_ROOM',
    );
    expectResult(await mem.request({ type: 'join', room: 'town' }), 'join');
    // Ban: out, and no join, resume or history until lifted.
    expectResult(
      await mod.request({ type: 'moderate', action: 'ban', name: 'rex', room: 'town' }),
      'moderate',
    );
    await mem.event('notice', (n) => n.what === 'banned');
    expectCode(await mem.request({ type: 'join', room: 'town', since: 0 }), 'BANNED');
    expectCode(await mem.request({ type: 'history', room: 'town' }), 'BANNED');
    // Text mode: the same refusals, in words.
    const t = await TestClient.text(s);
    t.send(`/nick rex ${mem.token}`);
    await t.next((f) => f.startsWith('* You are now rex'));
    t.send('/join town');
    await t.next((f) => f === '! You are banned from this room.');
    expectResult(
      await own.request({ type: 'moderate', action: 'unban', name: 'rex', room: 'town' }),
      'moderate',
    );
    t.send('/join town');
    await t.next((f) => f.startsWith('* Now talking in #town'));
    t.send('/kick rob');
    await t.next(
      (f) => f.startsWith('! You cannot kick rob') || f === '! You may not do that here.',
    );
    for (const c of [own, mod, mem, tab, t]) c.close();
  });

  test('server staff act in every room; the audit log says who did what', async () => {
    const owner = await person(s, 'otto', codeOf(s.setupLink));
    const staff = await person(s, 'sam');
    const ann = await person(s, 'abe');
    expectResult(await owner.request({ type: 'role', name: 'sam', role: 'moderator' }), 'role');
    await staff.event('notice', (n) => n.what === 'role' && n.role === 'moderator');
    expectCode(await staff.request({ type: 'role', name: 'abe', role: 'admin' }), 'FORBIDDEN');
    expectResult(await ann.request({ type: 'join', room: 'abes' }), 'join');
    expectResult(
      await ann.request({ type: 'settings', room: 'abes', visibility: 'private' }),
      'settings',
    );
    // A server moderator sees and moderates a private room.
    expectResult(await staff.request({ type: 'join', room: 'abes' }), 'join');
    expectResult(
      await staff.request({
        type: 'moderate',
        action: 'mute',
        name: 'abe',
        room: 'abes',
        reason: 'spam',
      }),
      'moderate',
    );
    expectCode(await ann.request({ type: 'audit' }), 'FORBIDDEN');
    const log = await owner.request({ type: 'audit' });
    assert.ok(log.type === 'result' && log.of === 'audit');
    const mute = log.entries.find((e) => e.action === 'mute');
    assert.deepEqual(mute && [mute.actor, mute.target, mute.room, mute.reason], [
      'sam',
      'abe',
      'abes',
      'spam',
    ]);
    assert.ok(log.entries.some((e) => e.action === 'role' && e.target === 'sam'));
    // A server ban closes every connection of the person at once, and keeps them out.
    expectResult(await staff.request({ type: 'moderate', action: 'ban', name: 'abe' }), 'moderate');
    assert.equal(await ann.closed(3000), 4003);
    const again = await client(s);
    expectCode(
      await again.request({ type: 'login', name: 'abe', password: PASSWORD }),
      'SERVER_BANNED',
    );
    for (const c of [owner, staff, again]) c.close();
  });
});

describe('the policy on every route', () => {
  test('no sequence of requests by an outsider reads a private room or a direct conversation', async () => {
    // Hundreds of requests on one connection and over HTTP: the rates would refuse them, which is
    // not what is tested here.
    const s = await startTestServer({
      guests: 'on',
      ratePerSecond: 10_000,
      rateBurst: 10_000,
      httpRatePerSecond: 10_000,
      httpRateBurst: 10_000,
    });
    try {
      const ann = await person(s, 'ann');
      const ben = await person(s, 'ben');
      await ann.request({ type: 'join', room: 'vault' });
      await ann.request({ type: 'settings', room: 'vault', visibility: 'private' });
      await ann.request({ type: 'send', room: 'vault', cid: 'v1', text: 'SECRET-ROOM-TEXT' });
      await ann.request({ type: 'send', room: '@ben', cid: 'd1', text: 'SECRET-DM-TEXT' });
      await waitFor(() => ben.frames.some((f) => f.includes('SECRET-DM-TEXT')), 'the DM');
      const outsiders = [await person(s, 'eve'), await client(s)];
      const rooms = ['vault', 'VAULT', '#vault', ' vault', '@ann', '@ben', '@ANN'];
      const room = fc.constantFrom(...rooms);
      const request = fc.oneof(
        fc.record({ type: fc.constant('join'), room, since: fc.nat(3) }),
        fc.record({ type: fc.constantFrom('history', 'who', 'room', 'typing', 'part'), room }),
        fc.record({ type: fc.constant('rooms') }),
        fc.record({
          type: fc.constant('send'),
          room,
          cid: fc.uuid(),
          text: fc.constant('let me in'),
        }),
        fc.record({
          type: fc.constant('settings'),
          room,
          visibility: fc.constantFrom('public', 'private'),
        }),
        fc.record({
          type: fc.constant('moderate'),
          action: fc.constantFrom('invite', 'op', 'unban', 'kick'),
          name: fc.constantFrom('eve', 'ann', 'ben'),
          room,
        }),
        fc.record({ type: fc.constant('hello'), name: fc.constantFrom('ann', 'ben') }),
        fc.record({ type: fc.constant('read'), room, seq: fc.nat(5) }),
        fc.record({
          type: fc.constant('login'),
          name: fc.constantFrom('ann', 'ben'),
          password: fc.string(),
        }),
      );
      // ann reads on as they go: her marker moves, and only her other session hears of it.
      const annToo = await client(s);
      await annToo.request({ type: 'hello', token: ann.token });
      await annToo.request({ type: 'join', room: 'vault' });
      let annSeq = 1;
      await fc.assert(
        fc.asyncProperty(fc.nat(1), fc.array(request, { maxLength: 12 }), async (who, reqs) => {
          const o = outsiders[who] as TestClient;
          const sent = await ann.request({
            type: 'send',
            room: 'vault',
            cid: `v${++annSeq}`,
            text: 'SECRET-ROOM-TEXT',
          });
          assert.equal(sent.type, 'ack', JSON.stringify(sent));
          const read = sent.type === 'ack' ? sent.seq : 0;
          await ann.request({ type: 'read', room: 'vault', seq: read });
          for (const req of reqs) await o.request(req);
          for (const path of [
            '/api/rooms/vault/messages',
            '/api/rooms',
            '/api/rooms/%40ann/messages',
          ]) {
            const token = 'token' in o ? { authorization: `Bearer ${String(o.token)}` } : undefined;
            const res = await fetch(`${s.httpUrl}${path}`, { headers: token });
            assert.ok(!(await res.text()).includes('SECRET'), path);
          }
          const seen = o.frames.join('\n');
          assert.ok(!seen.includes('SECRET'), 'no secret text reaches an outsider');
          assert.ok(!/"room":"vault"[^}]*"members"/.test(seen), 'no member list of the room');
          assert.ok(!seen.includes('"type":"read"'), "no one else's read marker");
        }),
        { numRuns: 40 },
      );
      await annToo.event('read', (e) => e.room === 'vault' && e.seq === annSeq);
      for (const c of [ann, annToo, ben, ...outsiders]) c.close();
    } finally {
      await s.dispose();
    }
  });
});
