// Databases written by earlier Parleys (test/fixtures/, made by their own store code) open with
// today's stores and lose nothing; every layout ends on one schema, the same in both stores; a
// database from a newer Parley is refused.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { foldKey } from '../src/protocol/rules.js';
import { sentEntry } from '../src/protocol/log-entries.js';
import { nameSkeleton } from '../src/protocol/skeleton.js';
import type { MessageStore } from '../src/store/index.js';
import { LATEST_VERSION } from '../src/store/migrations/plan.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import {
  FIXTURE_DIRECT_ROOM,
  FIXTURE_MESSAGES,
  FIXTURE_NAMES,
  FIXTURE_NOW,
  FIXTURE_ROOMS,
  FIXTURE_SCHEMA,
} from './fixtures/fixture-data.js';
import { requirePostgres, uniqueSuffix } from './services.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
/** The earlier layouts: before e941e8b (rooms.last_seq), 888270c (0.1.0), and 6935a42. */
const SQLITE_FIXTURES = ['3c75e49', '888270c', '6935a42'];
const POSTGRES_FIXTURES = ['888270c', '6935a42'];
const LATER = FIXTURE_NOW + 60_000;

/** Every message, direct conversation and name of the fixture, read back through the store. */
async function assertFixtureIntact(store: MessageStore): Promise<void> {
  // Each reserved name has a user id now, and the messages its holder sent carry it.
  const ids = new Map<string, string>();
  for (const { key } of FIXTURE_NAMES) {
    const id = await store.nameUser(key);
    assert.match(id ?? '', /^u_[0-9a-f]{16}$/, `user id of ${key}`);
    if (id) ids.set(key, id);
  }
  assert.equal(new Set(ids.values()).size, FIXTURE_NAMES.length);
  assert.deepEqual(
    (await store.rooms()).map(({ room, lastSeq }) => ({ room, lastSeq })),
    FIXTURE_ROOMS,
  );
  for (const room of [...FIXTURE_ROOMS.map((r) => r.room), FIXTURE_DIRECT_ROOM]) {
    const expected = FIXTURE_MESSAGES.filter((m) => m.room === room).map(
      ({ room, seq, cid, from, text, me, ts }) => ({ room, seq, from, text, ts, cid, me }),
    );
    assert.ok(expected.length > 0);
    assert.deepEqual(
      await store.after(room, 0, 100),
      expected.map((m) => sentEntry(m, ids.get(foldKey(m.from)) ?? null)),
      `messages of ${room}`,
    );
    assert.equal(await store.lastSeq(room), expected.length);
  }
  assert.ok(FIXTURE_MESSAGES.some((m) => m.me));
  // The direct conversation, under its old id, is ann's and bob's users' now.
  const [annId, bobId] = [ids.get('ann') ?? '', ids.get('bob') ?? ''];
  assert.deepEqual(await store.directRooms(annId), [
    { room: FIXTURE_DIRECT_ROOM, peer: bobId, peerKey: 'bob' },
  ]);
  assert.deepEqual(await store.directRooms(bobId), [
    { room: FIXTURE_DIRECT_ROOM, peer: annId, peerKey: 'ann' },
  ]);
  assert.equal(await store.directRoom(bobId, annId), FIXTURE_DIRECT_ROOM);
  assert.deepEqual(
    [...((await store.directPair(FIXTURE_DIRECT_ROOM)) ?? [])].sort(),
    [annId, bobId].sort(),
  );
  assert.deepEqual(await store.directRooms('ann'), [], 'no longer by name key');
  for (const { key, tokenHash } of FIXTURE_NAMES) {
    assert.equal(await store.nameHolder(key), tokenHash, `holder of ${key}`);
  }
}

/**
 * Each reserved name's user id is a user now, going by that name, and each token a session of
 * that user: everyone who had a name is still logged in, as the same person.
 */
async function assertAccountsCarriedOver(store: MessageStore, openedAt: number): Promise<void> {
  for (const { key, tokenHash } of FIXTURE_NAMES) {
    const id = await store.nameUser(key);
    assert.ok(id, `user id of ${key}`);
    const user = {
      id,
      key,
      display: key,
      role: 'member',
      hasPassword: false,
      bannedUntil: null,
      banReason: null,
      created: FIXTURE_NOW,
    };
    assert.deepEqual(await store.userByName(key), user, `user of ${key}`);
    assert.deepEqual(await store.userById(id), user);
    const session = await store.session(tokenHash);
    assert.ok(session, `session of ${key}'s token`);
    const { lastSeen, ...rest } = session;
    assert.deepEqual(rest, {
      id: tokenHash.slice(0, 12),
      userId: id,
      created: FIXTURE_NOW,
      label: 'earlier version',
    });
    assert.ok(lastSeen >= openedAt && lastSeen <= Date.now(), `lastSeen ${lastSeen}: the upgrade`);
    assert.deepEqual(
      (await store.sessions(id)).map((s) => s.id),
      [session.id],
    );
  }
  assert.deepEqual(
    (await store.users(undefined, 10)).map((u) => u.key),
    FIXTURE_NAMES.map((n) => n.key),
  );
  assert.equal(await store.hasOwner(), false);
  assert.equal(await store.lastAuditSeq(), 0);
}

/**
 * Read markers start with the upgrade: each direct conversation read to its end by both people
 * (whether they had read it before cannot be known), no room yet (a first join starts there).
 */
async function assertDirectRead(store: MessageStore): Promise<void> {
  const last = await store.lastSeq(FIXTURE_DIRECT_ROOM);
  for (const key of ['ann', 'bob']) {
    const id = (await store.nameUser(key)) ?? '';
    const rooms = [FIXTURE_DIRECT_ROOM, ...FIXTURE_ROOMS.map((r) => r.room)];
    assert.deepEqual(await store.markers(id, rooms), new Map([[FIXTURE_DIRECT_ROOM, last]]), key);
  }
}

/** New sends number on from the old last numbers; old names stay their holders'. */
async function assertWritesGoOn(store: MessageStore): Promise<void> {
  const old = FIXTURE_MESSAGES.find((m) => m.room === 'lobby');
  assert.ok(old);
  const annId = (await store.nameUser('ann')) ?? '';
  const bobId = (await store.nameUser('bob')) ?? '';
  const committed = await store.append(
    [
      {
        room: 'lobby',
        cid: 'after-1',
        from: 'ann',
        fromId: annId,
        text: 'still here ✓',
        me: false,
      },
      { room: 'lobby', cid: old.cid, from: old.from, fromId: annId, text: old.text, me: old.me },
      {
        room: FIXTURE_DIRECT_ROOM,
        cid: 'after-2',
        from: 'bob',
        fromId: bobId,
        text: 'and me',
        me: true,
        direct: [annId, bobId],
      },
      { room: 'fresh', cid: 'after-3', from: 'bob', fromId: bobId, text: 'a new room', me: false },
    ],
    LATER,
  );
  assert.deepEqual(
    committed.map((c) => [c.message.room, c.message.seq, c.duplicate]),
    [
      ['lobby', 5, false],
      ['lobby', old.seq, true],
      [FIXTURE_DIRECT_ROOM, 3, false],
      ['fresh', 1, false],
    ],
  );
  const [ann, bob] = FIXTURE_NAMES;
  assert.ok(ann && bob);
  assert.equal(await store.claimName('ann', 'ann', ann.tokenHash, LATER), 'owned');
  assert.equal(await store.claimName('bob', 'bob', ann.tokenHash, LATER), 'reserved');
  // The old names have skeletons now: a look-alike of one (Cyrillic а) is refused.
  assert.equal(
    await store.claimName('\u0430nn', nameSkeleton('\u0430nn'), 'another', LATER),
    'confusable',
  );
  // bob renames with his token: the same user, the same conversation, shown by the new name.
  assert.equal(await store.claimName('robert', 'robert', bob.tokenHash, LATER + 1), 'claimed');
  assert.equal(await store.nameUser('robert'), bobId);
  assert.deepEqual(await store.directRooms(annId), [
    { room: FIXTURE_DIRECT_ROOM, peer: bobId, peerKey: 'robert' },
  ]);
  assert.equal(await store.directRoom(annId, bobId), FIXTURE_DIRECT_ROOM);
  assert.deepEqual(
    (await store.after(FIXTURE_DIRECT_ROOM, 2, 10)).map((e) => ['text' in e && e.text, e.actorId]),
    [['and me', bobId]],
  );
}

// ---- what each store's schema is, by name and meaning -----------------------------------------

interface LogicalSchema {
  /** table -> columns, each "name type null|not-null", in order */
  columns: Record<string, string[]>;
  /** table -> primary key columns in key order */
  keys: Record<string, string[]>;
  /** index name -> "table(columns) unique? partial?" (primary keys are compared as keys) */
  indexes: Record<string, string>;
}

/** SQLite has no BOOLEAN (a flag is INTEGER 0 or 1) and one INTEGER of every width. */
const LOGICAL_TYPE: Record<string, string> = {
  text: 'text',
  integer: 'integer',
  bigint: 'integer',
  boolean: 'integer',
};

function logicalType(type: string): string {
  const t = LOGICAL_TYPE[type.toLowerCase()];
  assert.ok(t, `a column type the comparison does not know: ${type}`);
  return t;
}

/**
 * The search index is each engine's own (SQLite: an FTS5 table and the numbering of its rows;
 * PostgreSQL: a trigram index), and is compared by what it finds (test/store-contract.test.ts).
 */
const SQLITE_SEARCH_TABLE = /^message_(docs|search(_\w+)?)$/;
const POSTGRES_SEARCH_INDEX = 'messages_body_trgm';

function sqliteSchema(file: string): LogicalSchema {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all()
      .filter((t) => !SQLITE_SEARCH_TABLE.test(t.name));
    const schema: LogicalSchema = { columns: {}, keys: {}, indexes: {} };
    for (const { name } of tables) {
      const cols = db.pragma(`table_info(${name})`) as {
        name: string;
        type: string;
        notnull: number;
        pk: number;
      }[];
      // SQLite lets a PRIMARY KEY column of a rowid table hold NULL; Parley never writes one.
      schema.columns[name] = cols.map(
        (c) => `${c.name} ${logicalType(c.type)} ${c.notnull || c.pk ? 'not-null' : 'null'}`,
      );
      schema.keys[name] = cols
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((c) => c.name);
      const indexes = db.pragma(`index_list(${name})`) as {
        name: string;
        unique: number;
        origin: string;
        partial: number;
      }[];
      for (const ix of indexes.filter((i) => i.origin !== 'pk')) {
        const on = (db.pragma(`index_info(${ix.name})`) as { seqno: number; name: string }[])
          .sort((a, b) => a.seqno - b.seqno)
          .map((c) => c.name);
        // A UNIQUE column's index has a name SQLite makes up: named here as PostgreSQL names it.
        const ixName = ix.origin === 'u' ? `${name}_${on.join('_')}_key` : ix.name;
        schema.indexes[ixName] =
          `${name}(${on.join(', ')})${ix.unique ? ' unique' : ''}${ix.partial ? ' partial' : ''}`;
      }
    }
    return schema;
  } finally {
    db.close();
  }
}

async function postgresSchema(pool: pg.Pool, schemaName: string): Promise<LogicalSchema> {
  const schema: LogicalSchema = { columns: {}, keys: {}, indexes: {} };
  const cols = await pool.query<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
  }>(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
      WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
    [schemaName],
  );
  for (const c of cols.rows) {
    (schema.columns[c.table_name] ??= []).push(
      `${c.column_name} ${logicalType(c.data_type)} ${c.is_nullable === 'YES' ? 'null' : 'not-null'}`,
    );
    schema.keys[c.table_name] ??= [];
  }
  const keys = await pool.query<{ table_name: string; column_name: string }>(
    `SELECT k.table_name, k.column_name FROM information_schema.table_constraints c
       JOIN information_schema.key_column_usage k
         ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name
      WHERE c.table_schema = $1 AND c.constraint_type = 'PRIMARY KEY'
      ORDER BY k.table_name, k.ordinal_position`,
    [schemaName],
  );
  for (const k of keys.rows) (schema.keys[k.table_name] ??= []).push(k.column_name);
  const indexes = await pool.query<{
    name: string;
    table_name: string;
    columns: string[];
    unique: boolean;
    partial: boolean;
  }>(
    `SELECT i.relname AS name, t.relname AS table_name, x.indisunique AS unique,
            x.indpred IS NOT NULL AS partial,
            array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(n, o)
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n
                   ORDER BY k.o)::text[] AS columns
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND NOT x.indisprimary`,
    [schemaName],
  );
  for (const ix of indexes.rows) {
    if (ix.name === POSTGRES_SEARCH_INDEX) continue;
    schema.indexes[ix.name] =
      `${ix.table_name}(${ix.columns.join(', ')})${ix.unique ? ' unique' : ''}${ix.partial ? ' partial' : ''}`;
  }
  return schema;
}

function recordedSqliteVersions(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version')
      .all()
      .map((r) => r.version);
  } finally {
    db.close();
  }
}

async function recordedPostgresVersions(pool: pg.Pool, schema: string): Promise<number[]> {
  const res = await pool.query<{ version: number }>(
    `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
  );
  return res.rows.map((r) => r.version);
}

const TOO_NEW =
  `this database is at schema version ${LATEST_VERSION + 1}; ` +
  `this Parley knows up to ${LATEST_VERSION}: upgrade Parley`;

const ALL_VERSIONS = Array.from({ length: LATEST_VERSION }, (_, i) => i + 1);

// ---- SQLite -------------------------------------------------------------------------------

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-migrate-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fresh database, made by today's store, for comparison. */
async function freshSqlite(dir: string): Promise<string> {
  const file = join(dir, 'fresh.db');
  await openSqliteStore(file).close();
  return file;
}

describe('SQLite: databases written by earlier Parleys', () => {
  for (const commit of SQLITE_FIXTURES) {
    test(`the database of ${commit} opens, upgrades and numbers on with nothing lost`, () =>
      withTempDir(async (dir) => {
        const file = join(dir, 'parley.db');
        await copyFile(join(FIXTURES, `sqlite-${commit}.db`), file);
        const before = new Database(file, { readonly: true });
        const hadSecret = before
          .prepare<[], { n: number }>(
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'settings'",
          )
          .get()?.n
          ? before
              .prepare<[], { value: string }>(
                "SELECT value FROM settings WHERE name = 'instance_secret'",
              )
              .get()?.value
          : undefined;
        before.close();

        const openedAt = Date.now();
        const store = openSqliteStore(file);
        try {
          await assertFixtureIntact(store);
          await assertAccountsCarriedOver(store, openedAt);
          if (hadSecret !== undefined) assert.equal(store.instanceSecret, hadSecret);
          await assertDirectRead(store);
          await assertWritesGoOn(store);
        } finally {
          await store.close();
        }
        assert.deepEqual(recordedSqliteVersions(file), ALL_VERSIONS);
        assert.deepEqual(sqliteSchema(file), sqliteSchema(await freshSqlite(dir)));

        // A second open has nothing to do and finds everything where it was.
        const again = openSqliteStore(file);
        try {
          assert.equal(await again.lastSeq('lobby'), 5);
          assert.equal(await again.lastSeq(FIXTURE_DIRECT_ROOM), 3);
          assert.equal(await again.nameHolder('bob'), FIXTURE_NAMES[1]?.tokenHash);
        } finally {
          await again.close();
        }
        assert.deepEqual(recordedSqliteVersions(file), ALL_VERSIONS);
      }));
  }

  test('records each step with the time it was applied', () =>
    withTempDir(async (dir) => {
      const start = Date.now();
      const db = new Database(await freshSqlite(dir), { readonly: true });
      const rows = db
        .prepare<[], { version: number; name: string; applied_at: number }>(
          'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
        )
        .all();
      db.close();
      assert.deepEqual(
        rows.map((r) => r.version),
        ALL_VERSIONS,
      );
      for (const r of rows) {
        assert.ok(r.name.length > 0);
        assert.ok(
          r.applied_at >= start && r.applied_at <= Date.now(),
          `applied_at ${r.applied_at}`,
        );
      }
    }));

  test('a database from a newer Parley is refused, and left as it was', () =>
    withTempDir(async (dir) => {
      const file = await freshSqlite(dir);
      const newer = new Database(file);
      newer
        .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
        .run(LATEST_VERSION + 1, 'from the future', Date.now());
      newer.close();
      const bytes = await readFile(file);
      assert.throws(() => openSqliteStore(file), { message: TOO_NEW });
      assert.deepEqual(await readFile(file), bytes);
    }));
});

// ---- PostgreSQL -----------------------------------------------------------------------------

/** Loads a fixture dump into a fresh schema; psql's own commands are left out. */
async function loadDump(pool: pg.Pool, commit: string, schema: string): Promise<void> {
  const dump = await readFile(join(FIXTURES, `postgres-${commit}.sql`), 'utf8');
  const sql = dump
    .split('\n')
    .filter((line) => !line.startsWith('\\'))
    .join('\n')
    .replaceAll(FIXTURE_SCHEMA, schema);
  const client = await pool.connect();
  try {
    await client.query(sql);
  } finally {
    // The dump empties search_path for its session: that connection is not reused.
    client.release(true);
  }
}

async function withSchema(body: (pool: pg.Pool, schema: string) => Promise<void>): Promise<void> {
  const pool = await requirePostgres(10);
  const schema = `parley_migrate_${uniqueSuffix()}`;
  try {
    await body(pool, schema);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}

describe('PostgreSQL: schemas written by earlier Parleys', () => {
  for (const commit of POSTGRES_FIXTURES) {
    test(`the schema of ${commit} opens, upgrades and numbers on with nothing lost`, () =>
      withSchema(async (pool, schema) => {
        await loadDump(pool, commit, schema);
        const secret = await pool
          .query<{ value: string }>(
            `SELECT value FROM "${schema}".settings WHERE name = 'instance_secret'`,
          )
          .then((r) => r.rows[0]?.value)
          .catch(() => undefined);
        // Nodes that start together on the old schema: one migrates, the others wait for it.
        const openedAt = Date.now();
        const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(pool, { schema })));
        try {
          const [store, ...others] = stores;
          assert.ok(store);
          for (const other of others) assert.equal(other.instanceSecret, store.instanceSecret);
          if (secret !== undefined) assert.equal(store.instanceSecret, secret);
          await assertFixtureIntact(store);
          await assertAccountsCarriedOver(store, openedAt);
          await assertDirectRead(store);
          await assertWritesGoOn(store);
        } finally {
          await Promise.all(stores.map((s) => s.close()));
        }
        assert.deepEqual(await recordedPostgresVersions(pool, schema), ALL_VERSIONS);

        const again = await openPostgresStore(pool, { schema });
        assert.equal(await again.lastSeq('lobby'), 5);
        assert.equal(await again.lastSeq(FIXTURE_DIRECT_ROOM), 3);
        await again.close();
        assert.deepEqual(await recordedPostgresVersions(pool, schema), ALL_VERSIONS);
        const fresh = `${schema}_fresh`;
        try {
          await (await openPostgresStore(pool, { schema: fresh })).close();
          assert.deepEqual(await postgresSchema(pool, schema), await postgresSchema(pool, fresh));
        } finally {
          await pool.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`);
        }
      }));
  }

  test('a person with several names becomes one user, going by the latest', () =>
    withSchema(async (pool, schema) => {
      await loadDump(pool, '6935a42', schema);
      const [ann, bob] = FIXTURE_NAMES;
      assert.ok(ann && bob);
      // ann renamed twice at one time (the smaller key wins the tie); bob had an older name.
      await pool.query(
        `INSERT INTO "${schema}".names (key, token_hash, created_at, skeleton)
         VALUES ($1, $2, $3, $1), ($4, $2, $3, $4), ($5, $6, $7, $5)`,
        ['annie', ann.tokenHash, FIXTURE_NOW + 5, 'anna', 'bobby', bob.tokenHash, FIXTURE_NOW - 5],
      );
      const store = await openPostgresStore(pool, { schema });
      try {
        const annId = await store.nameUser('ann');
        assert.ok(annId);
        for (const key of ['ann', 'anna', 'annie']) {
          const user = await store.userByName(key);
          assert.deepEqual([user?.id, user?.key, user?.display], [annId, 'anna', 'anna'], key);
          assert.equal(user?.created, FIXTURE_NOW, 'made when the first name was');
        }
        const bobUser = await store.userByName('bobby');
        assert.deepEqual(
          [bobUser?.id, bobUser?.key, bobUser?.created],
          [await store.nameUser('bob'), 'bob', FIXTURE_NOW - 5],
        );
        assert.deepEqual(
          (await store.users(undefined, 10)).map((u) => u.key),
          ['anna', 'bob'],
        );
        // One session per token, made when the token's first name was.
        assert.equal((await store.sessions(annId)).length, 1);
        assert.equal((await store.session(bob.tokenHash))?.created, FIXTURE_NOW - 5);
      } finally {
        await store.close();
      }
    }));

  test('a schema from a newer Parley is refused, and left as it was', () =>
    withSchema(async (pool, schema) => {
      await (await openPostgresStore(pool, { schema })).close();
      await pool.query(
        `INSERT INTO "${schema}".schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
        [LATEST_VERSION + 1, 'from the future', Date.now()],
      );
      await assert.rejects(openPostgresStore(pool, { schema }), { message: TOO_NEW });
      assert.deepEqual(await recordedPostgresVersions(pool, schema), [
        ...ALL_VERSIONS,
        LATEST_VERSION + 1,
      ]);
    }));
});

// ---- the two stores -------------------------------------------------------------------------

test('SQLite and PostgreSQL end on the same tables, columns, keys and indexes', () =>
  withTempDir((dir) =>
    withSchema(async (pool, schema) => {
      await (await openPostgresStore(pool, { schema })).close();
      const sqlite = sqliteSchema(await freshSqlite(dir));
      assert.deepEqual(Object.keys(sqlite.columns), [
        'audit',
        'messages',
        'names',
        'reactions',
        'read_markers',
        'room_roles',
        'room_settings',
        'rooms',
        'sanctions',
        'schema_migrations',
        'sessions',
        'settings',
        'tickets',
        'users',
      ]);
      assert.deepEqual(await postgresSchema(pool, schema), sqlite);
    }),
  ));
