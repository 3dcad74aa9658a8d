// Names people cannot tell apart are one name: invisible code points and blank names are
// refused, and a look-alike of a taken name (another script, fullwidth, mathematical letters,
// a dotted capital I) is refused as taken. Old databases keep their names working.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startTestServer, tempDir, TestClient, type TestServer } from './helpers.js';
import { openStore } from '../src/store/open-store.js';
import { normalizeName } from '../src/protocol/index.js';
import { nameSkeleton } from '../src/protocol/skeleton.js';
import { POSTGRES_URL, requirePostgres, uniqueSuffix } from './services.js';
import type { ServerEvent } from '../src/protocol/index.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.dispose());

let tokens = 0;
const token = () => `names-token-${++tokens}-${'x'.repeat(16)}`;

async function client(): Promise<TestClient> {
  const c = await TestClient.json(server);
  await c.event('welcome');
  return c;
}

function errorOf(r: ServerEvent): { code: string; message: string } {
  assert.equal(r.type, 'error', JSON.stringify(r));
  return r.type === 'error' ? { code: r.code, message: r.message } : { code: '', message: '' };
}

test('names with invisible code points, or with nothing visible, are refused', async () => {
  const c = await client();
  const bad = [
    'ali\u034fce', // combining grapheme joiner
    'alice\ufe0f', // variation selector
    'ali\u180bce', // Mongolian free variation selector
    '\u3164', // Hangul filler
    '\u3164\u3164',
    '\u2800', // blank braille pattern
    '\u2800\u2800\u2800',
    '\u0301', // a mark alone
  ];
  for (const name of bad) {
    assert.equal(normalizeName(name), null, JSON.stringify(name));
    assert.equal(
      errorOf(await c.request({ type: 'hello', name, token: token() })).code,
      'NAME_INVALID',
      JSON.stringify(name),
    );
  }
  c.close();
});

test('NFKC: fullwidth and mathematical letters are the plain ones', () => {
  assert.deepEqual(normalizeName('ａｌｉｃｅ'), { display: 'alice', key: 'alice' });
  assert.deepEqual(normalizeName('𝐚𝐥𝐢𝐜𝐞'), { display: 'alice', key: 'alice' });
  assert.equal(nameSkeleton('\u0430lice'), nameSkeleton('alice'));
  assert.equal(nameSkeleton('ALİCE'), nameSkeleton('alice'));
  assert.notEqual(nameSkeleton('alicia'), nameSkeleton('alice'));
});

test('a look-alike of a taken name is refused, online or not, and its owner keeps it', async () => {
  const aliceToken = token();
  const alice = await client();
  assert.equal(
    (await alice.request({ type: 'hello', name: 'alice', token: aliceToken })).type,
    'result',
  );
  const bob = await client();
  assert.equal((await bob.request({ type: 'hello', name: 'bob', token: token() })).type, 'result');
  const lookalikes = ['\u0430lice', 'ａｌｉｃｅ', '𝐚𝐥𝐢𝐜𝐞', 'ALİCE', 'AL\u0130CE', 'alic\u0435'];
  // A connection for each try: name changes are limited per connection.
  const refusals = async () => {
    for (const name of lookalikes) {
      const c = await client();
      const e = errorOf(await c.request({ type: 'hello', name, token: token() }));
      assert.ok(['NAME_TAKEN', 'NAME_RESERVED'].includes(e.code), `${name}: ${e.code}`);
      c.close();
    }
  };
  const mallory = await client();
  await refusals();
  const e = errorOf(await mallory.request({ type: 'hello', name: '\u0430lice', token: token() }));
  assert.match(e.message, /looks like/);
  // A direct message to the look-alike reaches no one.
  await mallory.request({ type: 'hello', name: 'mallory', token: token() });
  assert.equal(
    errorOf(await mallory.request({ type: 'join', room: '@\u0430lice' })).code,
    'NO_SUCH_USER',
  );
  alice.close();
  await new Promise((r) => setTimeout(r, 50));
  await refusals();
  // The owner's token still takes the name.
  const back = await client();
  const r = await back.request({ type: 'hello', name: 'Alice', token: aliceToken });
  assert.ok(r.type === 'result' && r.of === 'hello' && r.name === 'Alice', JSON.stringify(r));
  back.close();
  bob.close();
  mallory.close();
});

test('the guest- prefix is checked on the skeleton', async () => {
  const c = await client();
  for (const name of ['guest-abc', 'ｇuest-abc', '\u0261uest-abc', 'GUEST-1', 'gu\u0435st-x']) {
    const e = errorOf(await c.request({ type: 'hello', name, token: token() }));
    assert.equal(e.code, 'NAME_INVALID', name);
  }
  c.close();
});

test('text mode: a look-alike is refused with /nick too', async () => {
  const owner = await client();
  await owner.request({ type: 'hello', name: 'carol', token: token() });
  const t = await TestClient.text(server);
  await t.next((l) => l.includes('Welcome'));
  t.send('/nick c\u0430rol');
  const line = await t.next((l) => /taken|reserved|looks like/i.test(l));
  assert.doesNotMatch(line, /you are now/i);
  owner.close();
  t.close();
});

// ---- databases written by an earlier Parley -------------------------------------------------

const OLD_SQLITE = `
CREATE TABLE rooms (room TEXT PRIMARY KEY, dm_a TEXT, dm_b TEXT) STRICT;
CREATE TABLE messages (room TEXT NOT NULL, seq INTEGER NOT NULL, cid TEXT NOT NULL,
  sender TEXT NOT NULL, body TEXT NOT NULL, me INTEGER NOT NULL, ts INTEGER NOT NULL,
  PRIMARY KEY (room, seq)) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX messages_cid ON messages(room, cid);
CREATE TABLE names (key TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;
INSERT INTO rooms VALUES ('lobby', NULL, NULL);
INSERT INTO messages VALUES ('lobby', 1, 'c1', 'alice', 'hello', 0, 1);
INSERT INTO names VALUES ('alice', 'hash-latin', 1), ('\u0430lice', 'hash-cyrillic', 2);
`;

async function oldNamesStillWork(url: string): Promise<void> {
  const store = await openStore(url);
  try {
    // Both stored look-alikes keep working for their owners; a third is refused.
    assert.equal(await store.claimName('alice', 'alice', 'hash-latin', 3), 'owned');
    assert.equal(await store.claimName('\u0430lice', 'alice', 'hash-cyrillic', 3), 'owned');
    assert.equal(await store.claimName('alic\u0435', 'alice', 'hash-new', 3), 'confusable');
    assert.equal(await store.claimName('alice', 'alice', 'hash-new', 3), 'reserved');
    assert.notEqual(await store.claimName('dave', 'dave', 'hash-new', 3), 'reserved');
    assert.deepEqual(
      (await store.after('lobby', 0, 10)).map((m) => [m.seq, m.from, 'text' in m && m.text]),
      [[1, 'alice', 'hello']],
    );
  } finally {
    await store.close();
  }
}

test('SQLite: a database of the earlier schema is upgraded with its names intact', async () => {
  const dir = tempDir('parley-old-');
  const file = join(dir, 'parley.db');
  try {
    const old = new Database(file);
    old.exec(OLD_SQLITE);
    old.close();
    await oldNamesStillWork(`sqlite:${file}`);
    await oldNamesStillWork(`sqlite:${file}`); // and a second open finds nothing to do
    // Skeletons of another version of the table are made again.
    const stale = new Database(file);
    stale.exec(
      "UPDATE names SET skeleton = 'stale'; UPDATE settings SET value = 'older' WHERE name = 'skeleton_version'",
    );
    stale.close();
    await oldNamesStillWork(`sqlite:${file}`);
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT key, skeleton FROM names ORDER BY created_at').all();
    db.close();
    assert.deepEqual(rows, [
      { key: 'alice', skeleton: 'alice' },
      { key: '\u0430lice', skeleton: 'alice' },
      { key: 'dave', skeleton: 'dave' },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('PostgreSQL: a database of the earlier schema is upgraded with its names intact', async () => {
  const admin = await requirePostgres(2);
  const schema = `parley_old_${uniqueSuffix()}`;
  const s = `"${schema}"`;
  try {
    await admin.query(`
      CREATE SCHEMA ${s};
      CREATE TABLE ${s}.rooms (room TEXT PRIMARY KEY, last_seq BIGINT NOT NULL, dm_a TEXT, dm_b TEXT);
      CREATE TABLE ${s}.messages (room TEXT NOT NULL, seq BIGINT NOT NULL, cid TEXT NOT NULL,
        sender TEXT NOT NULL, body TEXT NOT NULL, me BOOLEAN NOT NULL, ts BIGINT NOT NULL,
        PRIMARY KEY (room, seq));
      CREATE UNIQUE INDEX messages_cid ON ${s}.messages (room, cid);
      CREATE TABLE ${s}.names (key TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at BIGINT NOT NULL);
      INSERT INTO ${s}.rooms VALUES ('lobby', 1, NULL, NULL);
      INSERT INTO ${s}.messages VALUES ('lobby', 1, 'c1', 'alice', 'hello', false, 1);
      INSERT INTO ${s}.names VALUES ('alice', 'hash-latin', 1), ('\u0430lice', 'hash-cyrillic', 2);
    `);
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('schema', schema);
    await oldNamesStillWork(url.toString());
    await oldNamesStillWork(url.toString());
    await admin.query(`UPDATE ${s}.names SET skeleton = 'stale'`);
    await admin.query(`UPDATE ${s}.settings SET value = 'older' WHERE name = 'skeleton_version'`);
    await oldNamesStillWork(url.toString());
    const rows = await admin.query(`SELECT key, skeleton FROM ${s}.names ORDER BY created_at`);
    assert.deepEqual(rows.rows, [
      { key: 'alice', skeleton: 'alice' },
      { key: '\u0430lice', skeleton: 'alice' },
      { key: 'dave', skeleton: 'dave' },
    ]);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  }
});

test("names taken under the earlier rules stay their tokens' and can be messaged", async () => {
  const dataDir = tempDir();
  const hash = (t: string) => createHash('sha256').update(t).digest('hex');
  const [emoji, wide, other] = [token(), token(), token()];
  const old = new Database(join(dataDir, 'parley.db'));
  old.exec(OLD_SQLITE);
  old.exec('DELETE FROM names');
  old
    .prepare('INSERT INTO names VALUES (?, ?, 3), (?, ?, 4)')
    .run('\u2615\ufe0fbob', hash(emoji), 'ａｌｉｃｅ', hash(wide));
  old.close();
  const s = await startTestServer({ dataDir });
  try {
    const hello = async (name: string, tok: string) => {
      const c = await TestClient.json(s);
      await c.event('welcome');
      return { c, r: await c.request({ type: 'hello', name, token: tok }) };
    };
    // A variation selector is refused now, but not to the token that took the name.
    const a = await hello('\u2615\ufe0fbob', emoji);
    assert.ok(a.r.type === 'result' && a.r.of === 'hello' && a.r.name === '\u2615\ufe0fbob');
    const b = await hello('\u2615\ufe0fbob', other);
    assert.equal(errorOf(b.r).code, 'NAME_INVALID');
    // Fullwidth is `alice` now; the earlier holder keeps it as it was, and no one gets `alice`.
    const w = await hello('ａｌｉｃｅ', wide);
    assert.ok(
      w.r.type === 'result' && w.r.of === 'hello' && w.r.name === 'ａｌｉｃｅ',
      JSON.stringify(w.r),
    );
    const x = await hello('ａｌｉｃｅ', other);
    assert.equal(errorOf(x.r).code, 'NAME_RESERVED');
    const y = await hello('alice', other);
    assert.equal(errorOf(y.r).code, 'NAME_RESERVED');
    // A direct message to the earlier name reaches its holder.
    const d = await hello('dora', other);
    const j = await d.c.request({ type: 'join', room: '@ａｌｉｃｅ' });
    assert.ok(
      j.type === 'result' && j.of === 'join' && j.room === '@ａｌｉｃｅ',
      JSON.stringify(j),
    );
    assert.equal(errorOf(await d.c.request({ type: 'join', room: '@alice' })).code, 'NO_SUCH_USER');
    const sent = await d.c.request({ type: 'send', room: '@ａｌｉｃｅ', cid: 'dm1', text: 'hi' });
    assert.equal(sent.type, 'ack', JSON.stringify(sent));
    const got = await w.c.event('msg', (m) => m.text === 'hi');
    assert.equal(got.from, 'dora');
    for (const c of [a, b, w, x, y, d]) c.c.close();
  } finally {
    await s.dispose();
  }
});

// ---- guest names --------------------------------------------------------------------------

async function guestName(s: TestServer, tok: string): Promise<string> {
  const c = await TestClient.json(s);
  await c.event('welcome');
  const r = await c.request({ type: 'hello', token: tok });
  c.close();
  assert.ok(r.type === 'result' && r.of === 'hello', JSON.stringify(r));
  return r.type === 'result' && r.of === 'hello' ? r.name : '';
}

test('a guest name cannot be computed from the token alone', async () => {
  const tok = token();
  const name = await guestName(server, tok);
  assert.match(name, /^guest-[0-9a-f]{10}$/);
  const sha = createHash('sha256').update(tok).digest('hex');
  assert.ok(!name.startsWith(`guest-${sha.slice(0, 6)}`), 'the name is the hash of the token');
  // Another instance has another secret: the same token is another guest there.
  const elsewhere = await startTestServer();
  try {
    assert.notEqual(await guestName(elsewhere, tok), name);
  } finally {
    await elsewhere.dispose();
  }
  // The same instance after a restart keeps the name: the secret is in the store.
  const dataDir = tempDir();
  const first = await startTestServer({ dataDir });
  const before = await guestName(first, tok);
  await first.stop();
  const again = await startTestServer({ dataDir });
  try {
    assert.equal(await guestName(again, tok), before);
  } finally {
    await again.dispose();
  }
});
