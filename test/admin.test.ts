// `npm run admin`: each command against a real SQLite store, and its changes reaching the
// connections of a running server on the same store within a second or two.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { FOREVER, type Directory } from '../src/core/directory.js';
import { nameSkeleton } from '../src/protocol/skeleton.js';
import { main, splitArgs } from '../src/server/admin.js';
import { ticketHash } from '../src/server/setup-link.js';
import { openStore } from '../src/store/open-store.js';
import type { MessageStore } from '../src/store/types.js';
import { newUserId } from '../src/store/user-id.js';
import { TestClient, startTestServer, tempDir, type TestServer } from './helpers.js';

const PAGE = 'https://chat.example.com';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function admin(dataDir: string, ...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    [...args, '--data-dir', dataDir, '--public-url', PAGE],
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    {},
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A fresh store in a temp folder, as a server would have made it. */
async function withStore(
  f: (store: MessageStore, run: (...args: string[]) => Promise<Run>) => Promise<void>,
): Promise<void> {
  const dir = tempDir('parley-admin-');
  const store = await openStore(join(dir, 'parley.db'));
  try {
    await f(store, (...args) => admin(dir, ...args));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function addUser(
  dir: Directory,
  display: string,
  role: 'owner' | 'admin' | 'moderator' | 'member' = 'member',
): Promise<string> {
  const id = newUserId();
  const key = display.toLowerCase();
  const claim = await dir.createUser({
    id,
    key,
    skeleton: nameSkeleton(key),
    display,
    passwordHash: null,
    role,
    now: Date.now(),
  });
  assert.equal(claim, 'claimed');
  return id;
}

function codeOf(link: string, kind: string): string {
  const m = new RegExp(`^${PAGE}/#${kind}=([A-Za-z0-9_-]{20,})$`, 'm').exec(link);
  assert.ok(m?.[1], `a ${kind} link in ${JSON.stringify(link)}`);
  return m[1];
}

test('settings go to the config, the rest is the command', () => {
  assert.deepEqual(splitArgs(['ban', '--store', 'sqlite:x', 'bob', '--data-dir=d', '2h']), {
    settings: ['--store', 'sqlite:x', '--data-dir=d'],
    command: ['ban', 'bob', '2h'],
  });
  assert.deepEqual(splitArgs(['invite', '--uses', '3']).command, ['invite', '--uses', '3']);
});

test('help, an unknown command, a bad setting and a store that is not there', async () => {
  const dir = tempDir('parley-admin-');
  try {
    const help = await admin(dir, 'help');
    assert.equal(help.code, 0);
    assert.match(help.out, /end-sessions NAME/);
    const unknown = await admin(dir, 'frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command "frobnicate"/);
    const bad = await admin(dir, 'users', '--http-port', 'nine');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--http-port/);
    const none = await admin(dir, 'users');
    assert.equal(none.code, 1);
    assert.match(none.err, /no store at .*parley\.db/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('owner-link: a setup link while there is no owner, and a refusal once there is one', async () => {
  await withStore(async (store, run) => {
    const r = await run('owner-link');
    assert.equal(r.code, 0, r.err);
    const code = codeOf(r.out, 'setup');
    const ticket = await store.useTicket(ticketHash(code), 'setup', Date.now());
    assert.equal(ticket?.kind, 'setup');
    const [entry] = await store.auditBefore(undefined, 1);
    assert.equal(entry?.action, 'setup link');
    assert.equal(entry?.actorId, null);

    await addUser(store, 'Olive', 'owner');
    const again = await run('owner-link');
    assert.equal(again.code, 1);
    assert.match(again.err, /has an owner already/);
  });
});

test('invite, invites and revoke-invite: links by code, listed by hash prefix only', async () => {
  await withStore(async (store, run) => {
    const made = await run('invite', '--uses', '3', '--days', '2');
    assert.equal(made.code, 0, made.err);
    const code = codeOf(made.out, 'invite');
    const hash = ticketHash(code);
    const [t] = await store.tickets('invite', Date.now());
    assert.equal(t?.hash, hash);
    assert.equal(t?.uses, 3);
    assert.ok(Math.abs((t?.expires ?? 0) - (Date.now() + 2 * 86_400_000)) < 60_000);

    const list = await run('invites');
    assert.equal(list.code, 0);
    assert.ok(list.out.includes(hash.slice(0, 8)));
    assert.match(list.out, /\b3\b/);
    assert.ok(!list.out.includes(code), 'the list shows no code');

    assert.equal((await run('invite', '--uses', '0')).code, 2);
    assert.equal((await run('invite', '--days', 'x')).code, 2);
    assert.equal((await run('invite', '--color', 'red')).code, 2);
    assert.equal((await run('revoke-invite', 'zz')).code, 2);
    const missing = await run('revoke-invite', hash.startsWith('0000') ? 'ffff' : '0000');
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no live invite link/);

    const revoked = await run('revoke-invite', hash.slice(0, 6).toUpperCase());
    assert.equal(revoked.code, 0, revoked.err);
    assert.equal(await store.useTicket(hash, 'invite', Date.now()), null);
    assert.match((await run('invites')).out, /No invite links are live/);
  });
});

test('users lists name, role, ban and creation', async () => {
  await withStore(async (store, run) => {
    assert.match((await run('users')).out, /No accounts yet/);
    await addUser(store, 'Olive', 'owner');
    const bob = await addUser(store, 'Bob');
    await store.setServerBan(bob, FOREVER, 'spam');
    const r = await run('users');
    assert.equal(r.code, 0);
    const lines = r.out.split('\n');
    assert.match(lines[0] ?? '', /^name\s+role\s+banned\s+created$/);
    assert.match(r.out, /Bob\s+member\s+until lifted \(spam\)\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    assert.match(r.out, /Olive\s+owner\s+no\s+\d{4}-/);
    assert.match(r.out, /2 accounts\./);
  });
});

test('role sets a server role, and never takes the last owner away', async () => {
  await withStore(async (store, run) => {
    const olive = await addUser(store, 'Olive', 'owner');
    const bob = await addUser(store, 'Bob');
    const r = await run('role', 'bob', 'admin');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Bob is now admin \(was member\)/);
    assert.equal((await store.userById(bob))?.role, 'admin');
    const [entry] = await store.auditBefore(undefined, 1);
    assert.deepEqual(
      [entry?.action, entry?.actorId, entry?.targetId, entry?.reason],
      ['role', null, bob, 'admin'],
    );

    const last = await run('role', 'Olive', 'admin');
    assert.equal(last.code, 1);
    assert.match(last.err, /only owner/);
    assert.equal((await store.userById(olive))?.role, 'owner');
    assert.equal((await run('role', 'bob', 'owner')).code, 0);
    assert.equal((await run('role', 'olive', 'member')).code, 0, 'two owners: one may go');
    assert.equal((await store.userById(olive))?.role, 'member');

    assert.equal((await run('role', 'bob', 'king')).code, 2);
    assert.equal((await run('role', 'nobody', 'admin')).code, 1);
    assert.equal((await run('role', 'bob')).code, 2);
  });
});

test('reset prints a one-time link that sets the password of that person, for a day', async () => {
  await withStore(async (store, run) => {
    const bob = await addUser(store, 'Bob');
    const r = await run('reset', 'Bob');
    assert.equal(r.code, 0, r.err);
    const hash = ticketHash(codeOf(r.out, 'reset'));
    const t = await store.useTicket(hash, 'reset', Date.now());
    assert.equal(t?.userId, bob);
    assert.ok(Math.abs((t?.expires ?? 0) - (Date.now() + 86_400_000)) < 60_000);
    assert.equal(await store.useTicket(hash, 'reset', Date.now()), null, 'one use');
    assert.equal((await run('reset', 'carol')).code, 1);
  });
});

test('ban with and without a duration, bad durations, unban', async () => {
  await withStore(async (store, run) => {
    const bob = await addUser(store, 'Bob');
    const r = await run('ban', 'bob', '2h', 'spamming', 'links');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Bob is banned from the server until .* UTC \(spamming links\)/);
    const u = await store.userById(bob);
    assert.ok(Math.abs((u?.bannedUntil ?? 0) - (Date.now() + 2 * 3_600_000)) < 60_000);
    assert.equal(u?.banReason, 'spamming links');
    const [entry] = await store.auditBefore(undefined, 1);
    assert.deepEqual([entry?.action, entry?.actorId, entry?.targetId], ['server ban', null, bob]);

    for (const bad of ['3x', '0m', '30', '123456d']) {
      const b = await run('ban', 'bob', bad);
      assert.equal(b.code, 2, bad);
      assert.match(b.err, /is not a duration/);
    }

    assert.equal((await run('ban', 'bob', 'flooding')).code, 0, 'a reason alone: until lifted');
    assert.equal((await store.userById(bob))?.bannedUntil, FOREVER);
    assert.equal((await run('ban', 'nobody')).code, 1);
    assert.equal((await run('ban')).code, 2);

    const lifted = await run('unban', 'Bob');
    assert.equal(lifted.code, 0, lifted.err);
    assert.equal((await store.userById(bob))?.bannedUntil, null);
    assert.match((await run('unban', 'Bob')).out, /not banned/);
  });
});

test('end-sessions ends every session of the person', async () => {
  await withStore(async (store, run) => {
    const bob = await addUser(store, 'Bob');
    await store.addSession('a'.repeat(64), bob, Date.now(), 'web page');
    await store.addSession('b'.repeat(64), bob, Date.now(), 'text client');
    const r = await run('end-sessions', 'bob');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Ended 2 sessions of Bob/);
    assert.deepEqual(await store.sessions(bob), []);
    assert.match((await run('end-sessions', 'bob')).out, /no sessions/);
  });
});

test('audit shows the last entries, oldest first, with names for ids', async () => {
  await withStore(async (store, run) => {
    const olive = await addUser(store, 'Olive', 'owner');
    const bob = await addUser(store, 'Bob');
    await store.audit({
      at: Date.now(),
      actorId: olive,
      action: 'kick',
      targetId: bob,
      room: 'lobby',
      reason: 'rude',
    });
    await run('role', 'bob', 'moderator');
    await run('ban', 'bob', '7d');
    const all = await run('audit');
    assert.equal(all.code, 0);
    const lines = all.out.split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^#1 .* Olive: kick Bob in #lobby: rude$/);
    assert.match(lines[1] ?? '', /^#2 .* operator: role Bob: moderator$/);
    assert.match(lines[2] ?? '', /^#3 .* operator: server ban Bob: \(7d\)$/);
    const one = await run('audit', '1');
    assert.equal(one.out.split('\n').length, 1);
    assert.match(one.out, /^#3 /);
    assert.equal((await run('audit', '0')).code, 2);
  });
});

// ---- against a running server ----------------------------------------------------------------

async function registered(server: TestServer, name: string): Promise<TestClient> {
  const c = await TestClient.json(server);
  const r = await c.request({ type: 'register', name, password: 'correct horse battery' });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return c;
}

/** The ms from `run` returning to the client's connection closing, with its close code. */
async function closedAfter(c: TestClient, run: () => Promise<Run>): Promise<[number, number]> {
  const r = await run();
  assert.equal(r.code, 0, r.err);
  const start = Date.now();
  const code = await c.closed(3000);
  return [code, Date.now() - start];
}

test('a running server applies the operator’s ban, ended sessions and roles within ~2 s', async () => {
  const server = await startTestServer({ guests: 'on' });
  try {
    const run = (...args: string[]) => admin(server.dataDir, ...args);

    const bob = await registered(server, 'Bob');
    const [banCode, banMs] = await closedAfter(bob, () => run('ban', 'bob', '1h'));
    assert.equal(banCode, 4003);
    assert.ok(banMs < 2000, `closed ${banMs} ms after the ban`);

    const carol = await registered(server, 'Carol');
    const [endCode, endMs] = await closedAfter(carol, () => run('end-sessions', 'carol'));
    assert.equal(endCode, 4001);
    assert.ok(endMs < 2000, `closed ${endMs} ms after the sessions ended`);

    const dave = await registered(server, 'Dave');
    assert.equal((await run('role', 'dave', 'moderator')).code, 0);
    const notice = await dave.event('notice', (n) => n.what === 'role', 2000);
    assert.equal(notice.role, 'moderator');
    dave.close();
  } finally {
    await server.dispose();
  }
});
