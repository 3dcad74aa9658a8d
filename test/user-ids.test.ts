// User ids in the core alone: a guest's comes from its token, a name's from the store and stays
// through renames, and a direct room is reached from the bus only by its own two users.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sentEntry } from '../src/protocol/index.js';
import { Core } from './core-fakes.js';

const TOKEN = 'guest-token-0123456789';

test('a guest has its id from its token, the same on every connection', async () => {
  const core = new Core();
  const first = core.connect();
  assert.match(first.session.userId, /^g_/);
  const hello = await first.call({ type: 'hello', token: TOKEN });
  const id = first.session.userId;
  assert.equal(id, `g_${first.session.name.slice('guest-'.length)}`);
  // The hello tells the person their id, so a client knows its own messages by it.
  assert.ok(hello?.type === 'result' && hello.of === 'hello');
  assert.equal(hello.userId, id);
  const again = core.connect();
  await again.call({ type: 'hello', token: TOKEN });
  assert.equal(again.session.userId, id);
  const other = core.connect();
  await other.call({ type: 'hello', token: `${TOKEN}-other` });
  assert.notEqual(other.session.userId, id);
});

test('a rename keeps the user id; a new token is another user; messages carry it', async () => {
  const core = new Core();
  const ann = await core.named('Ann');
  const id = ann.session.userId;
  assert.equal(id, await core.log.nameUser('ann'));
  const renamed = await ann.call({
    type: 'hello',
    name: 'Annie',
    token: `Ann-token-${'x'.repeat(16)}`,
  });
  assert.equal(ann.session.userId, id);
  assert.ok(renamed?.type === 'result' && renamed.of === 'hello');
  assert.equal(renamed.userId, id, 'the rename says the same id');
  assert.equal(await core.log.nameUser('annie'), id);
  await ann.call({ type: 'send', room: 'lobby', cid: 'u1', text: 'hi' });
  await ann.call({ type: 'hello', name: 'Zed', token: `another-token-${'x'.repeat(16)}` });
  assert.notEqual(ann.session.userId, id);
  await ann.call({ type: 'send', room: 'lobby', cid: 'u2', text: 'hi again' });
  // And the messages say it to readers, whatever name they were sent under.
  const page = await ann.call({ type: 'history', room: 'lobby' });
  assert.ok(page?.type === 'result' && page.of === 'history');
  assert.deepEqual(
    page.messages.map((m) => [m.from, m.fromId]),
    [
      ['Annie', id],
      ['Zed', ann.session.userId],
    ],
  );
  assert.deepEqual(
    (await core.log.after('lobby', 0, 10)).map((e) => [e.from, e.actorId]),
    [
      ['Annie', id],
      ['Zed', ann.session.userId],
    ],
  );
});

test('the bus reaches a direct room only from its own users, under their own names', async () => {
  const core = new Core();
  const ann = await core.named('Ann', []);
  const bob = await core.named('Bob', []);
  const mal = await core.named('Mal', []);
  await ann.call({ type: 'send', room: '@bob', cid: 'd1', text: 'hi bob' });
  const [dm] = await core.log.directRooms(ann.session.userId);
  assert.ok(dm);
  // A new conversation is named by the two user ids, not by names anyone could take later.
  assert.equal(dm.room, `@${[ann.session.userId, bob.session.userId].sort().join(' ')}`);
  ann.clear();
  const forged = (seq: number, from: string, actorId: string | null) =>
    core.chat.onBell({
      kind: 'entry',
      node: 'n2',
      entry: sentEntry(
        { room: dm.room, seq, from, text: `forged ${seq}`, ts: 1, cid: `f${seq}`, me: false },
        actorId,
      ),
    });
  // Another user, a participant's id under another's name, or no id at all: nothing arrives.
  forged(2, 'Mal', mal.session.userId);
  forged(2, 'Mal', bob.session.userId);
  forged(2, 'Bob', null);
  core.chat.onBell({
    kind: 'presence',
    node: 'n2',
    room: dm.room,
    key: 'mal',
    name: 'Mal',
    event: 'join',
    userId: mal.session.userId,
  });
  await core.settle();
  assert.deepEqual(
    ann.of('msg').map((m) => m.text),
    [],
  );
  assert.deepEqual(ann.of('presence'), []);
  // bob, under his own name: it reaches ann, labelled by him.
  forged(2, 'Bob', bob.session.userId);
  await core.settle();
  assert.deepEqual(
    ann.of('msg').map((m) => [m.room, m.text]),
    [['@bob', 'forged 2']],
  );
});

test('claiming the name a person goes by writes nothing; a new way of writing it is written', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { default: Database } = await import('better-sqlite3');
  const { openSqliteStore } = await import('../src/store/sqlite.js');
  const dir = mkdtempSync(join(tmpdir(), 'parley-claim-'));
  const file = join(dir, 'parley.db');
  const store = openSqliteStore(file);
  // Another connection's data_version moves whenever this one commits a change.
  const watcher = new Database(file, { readonly: true });
  const version = () => watcher.pragma('data_version', { simple: true });
  try {
    await store.createUser({
      id: 'u_ann',
      key: 'ann',
      skeleton: 'ann',
      display: 'Ann',
      passwordHash: null,
      role: 'member',
      now: 1,
    });
    const before = version();
    assert.equal(await store.claimUserName('ann', 'ann', 'Ann', 'u_ann', 2), 'owned');
    assert.equal(version(), before, 'a hello under the same name changes nothing on disk');
    assert.equal(await store.claimUserName('ann', 'ann', 'ANN', 'u_ann', 3), 'owned');
    assert.notEqual(version(), before);
    assert.equal((await store.userById('u_ann'))?.display, 'ANN');
  } finally {
    watcher.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
