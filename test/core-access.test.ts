// The access policy as a table, and the parts of accounts that need a clock: sign-in throttling
// per account over addresses, sessions that expire unused, durations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Core } from './core-fakes.js';
import { parseDuration } from '../src/core/moderation.js';
import {
  outranks,
  refusal,
  type Actor,
  type RoomAction,
  type Standing,
} from '../src/core/policy.js';
import type { RoomRole, ServerRole } from '../src/core/directory.js';

const PUBLIC = { visibility: 'public', topic: '', guests: false } as const;
const LOBBYLIKE = { visibility: 'public', topic: '', guests: true } as const;
const PRIVATE = { visibility: 'private', topic: '', guests: false } as const;

const ACTIONS: RoomAction[] = [
  'read',
  'send',
  'topic',
  'invite',
  'kick',
  'ban',
  'mute',
  'visibility',
  'op',
];

/** Who, in which room, as [server role or guest, room role]. */
const PEOPLE: [string, ServerRole | null, RoomRole | null][] = [
  ['guest', null, null],
  ['member', 'member', null],
  ['room member', 'member', 'member'],
  ['room moderator', 'member', 'moderator'],
  ['room owner', 'member', 'owner'],
  ['server moderator', 'moderator', null],
  ['admin', 'admin', null],
  ['owner', 'owner', null],
];

/** The expected answer of each action, in the order of ACTIONS, per person, per room kind. */
const ok = null;
const F = 'FORBIDDEN';
const N = 'NO_SUCH_ROOM';
const A = 'ACCOUNT_REQUIRED';
const EXPECTED: Record<string, Record<string, (string | null)[]>> = {
  'public, closed to guests': {
    guest: [A, A, F, F, F, F, F, F, F],
    member: [ok, ok, F, F, F, F, F, F, F],
    'room member': [ok, ok, F, F, F, F, F, F, F],
    'room moderator': [ok, ok, ok, ok, ok, ok, ok, F, F],
    'room owner': [ok, ok, ok, ok, ok, ok, ok, ok, ok],
    'server moderator': [ok, ok, ok, ok, ok, ok, ok, ok, ok],
    admin: [ok, ok, ok, ok, ok, ok, ok, ok, ok],
    owner: [ok, ok, ok, ok, ok, ok, ok, ok, ok],
  },
  'public, open to guests': {
    guest: [ok, ok, F, F, F, F, F, F, F],
    member: [ok, ok, F, F, F, F, F, F, F],
  },
  private: {
    guest: [N, N, N, N, N, N, N, N, N],
    member: [N, N, N, N, N, N, N, N, N],
    'room member': [ok, ok, F, F, F, F, F, F, F],
    'room moderator': [ok, ok, ok, ok, ok, ok, ok, F, F],
    'room owner': [ok, ok, ok, ok, ok, ok, ok, ok, ok],
    'server moderator': [ok, ok, ok, ok, ok, ok, ok, ok, ok],
    admin: [ok, ok, ok, ok, ok, ok, ok, ok, ok],
  },
};

const ROOMS = {
  'public, closed to guests': PUBLIC,
  'public, open to guests': LOBBYLIKE,
  private: PRIVATE,
} as const;

test('the permission matrix: each action for each role in public and private rooms', () => {
  for (const [kind, rows] of Object.entries(EXPECTED)) {
    for (const [who, expected] of Object.entries(rows)) {
      const p = PEOPLE.find(([n]) => n === who);
      assert.ok(p, who);
      const actor: Actor = { role: p[1] };
      const standing: Standing = {
        settings: ROOMS[kind as keyof typeof ROOMS],
        role: p[2],
        banned: false,
        muted: false,
      };
      const got = ACTIONS.map((a) => refusal(a, actor, standing));
      assert.deepEqual(got, expected, `${who} in a ${kind} room`);
    }
  }
});

test('banned and muted: a ban keeps out below server moderator, a mute stops sending only', () => {
  const member: Actor = { role: 'member' };
  const base: Standing = { settings: PUBLIC, role: 'member', banned: false, muted: false };
  assert.equal(refusal('read', member, { ...base, banned: true }), 'BANNED');
  assert.equal(refusal('read', { role: 'moderator' }, { ...base, banned: true }), null);
  assert.equal(refusal('read', member, { ...base, muted: true }), null);
  assert.equal(refusal('send', member, { ...base, muted: true }), 'MUTED');
  assert.equal(refusal('send', member, { ...base, role: 'moderator', muted: true }), null);
});

test('nobody acts on their equal or above', () => {
  const m: Actor = { role: 'member' };
  assert.equal(outranks(m, 'moderator', m, 'member'), true);
  assert.equal(outranks(m, 'moderator', m, 'moderator'), false);
  assert.equal(outranks(m, 'owner', { role: 'moderator' }, null), false);
  assert.equal(outranks({ role: 'moderator' }, null, m, 'owner'), true);
  assert.equal(outranks({ role: 'admin' }, null, { role: 'owner' }, null), false);
  assert.equal(outranks({ role: 'admin' }, null, { role: null }, null), true);
});

test('durations read like 30m, 2h and 7d; anything else is refused', () => {
  assert.equal(parseDuration('30m'), 30 * 60_000);
  assert.equal(parseDuration('2H'), 2 * 3_600_000);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.equal(parseDuration(undefined), undefined);
  for (const bad of ['0m', '5', 'm', '1w', '-1h', '1.5h', '99999999d']) {
    assert.throws(() => parseDuration(bad), /duration/i, bad);
  }
});

test('sign-in attempts for one name are throttled across addresses', async () => {
  const core = new Core();
  const codes: string[] = [];
  for (let i = 0; i < 12; i++) {
    const c = core.connect(`198.51.100.${i + 1}`);
    const r = await c.call({ type: 'login', name: 'ann', password: 'not her password' });
    codes.push(r?.type === 'error' ? r.code : String(r?.type));
  }
  assert.deepEqual(codes.slice(0, 10), Array<string>(10).fill('LOGIN_FAILED'));
  assert.deepEqual(codes.slice(10), ['LOGIN_THROTTLED', 'LOGIN_THROTTLED']);
  // A quarter of an hour later the name may be tried again.
  core.clock.advance(15 * 60_000);
  const later = await core
    .connect('198.51.100.99')
    .call({ type: 'login', name: 'ann', password: 'x'.repeat(8) });
  assert.ok(later?.type === 'error' && later.code === 'LOGIN_FAILED');
});

test('a session with a password ends after 30 days unused; one without never does', async () => {
  const core = new Core();
  const a = core.connect();
  const reg = await a.call({ type: 'register', name: 'ann', password: 'correct horse' });
  assert.ok(reg?.type === 'result' && reg.of === 'login');
  const b = core.connect();
  const plain = await b.call({ type: 'hello', name: 'bob', token: `bob-token-${'x'.repeat(16)}` });
  assert.ok(plain?.type === 'result' && plain.of === 'hello');
  core.clock.advance(31 * 24 * 3_600_000);
  const ann = await core.connect().call({ type: 'hello', token: reg.token });
  assert.ok(
    ann?.type === 'result' && ann.of === 'hello' && ann.name.startsWith('guest-'),
    JSON.stringify(ann),
  );
  const bob = await core.connect().call({ type: 'hello', token: `bob-token-${'x'.repeat(16)}` });
  assert.ok(
    bob?.type === 'result' && bob.of === 'hello' && bob.name === 'bob',
    JSON.stringify(bob),
  );
});

test("a person's budget of text holds over every address they sign in from", async () => {
  const core = new Core();
  const first = core.connect('198.51.100.1');
  const reg = await first.call({ type: 'register', name: 'ann', password: 'correct horse' });
  assert.ok(reg?.type === 'result' && reg.of === 'login');
  const tabs = [first];
  for (const a of ['198.51.100.2', '198.51.100.3']) {
    const c = core.connect(a);
    const r = await c.call({ type: 'login', name: 'ann', password: 'correct horse' });
    assert.ok(r?.type === 'result' && r.of === 'login');
    tabs.push(c);
  }
  for (const c of tabs)
    assert.equal((await c.call({ type: 'join', room: 'lobby' }))?.type, 'result');
  const text = 'x'.repeat(16 * 1024);
  let sent = 0;
  let refusal: string | undefined;
  for (let i = 0; i < 40 && refusal === undefined; i++) {
    const c = tabs[i % tabs.length];
    assert.ok(c);
    const r = await c.call({ type: 'send', room: 'lobby', cid: `c${i}`, text });
    if (r?.type === 'ack') sent++;
    else if (r?.type === 'error') refusal = r.message;
  }
  // An address alone may send an eighth of 2 MiB at once: 16 of these. The person, over three
  // addresses, no more than that either.
  assert.equal(sent, 16);
  assert.match(refusal ?? '', /from you lately/);
});
