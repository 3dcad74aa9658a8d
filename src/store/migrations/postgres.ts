// The PostgreSQL schema, step by step (see plan.ts), in one schema of the database. The caller
// runs this in a transaction; an advisory lock on the schema's name makes the nodes that start
// together take turns, so that one migrates and the others find the steps done.

import type pg from 'pg';
import { foldKey } from '../../protocol/rules.js';
import { named, pendingSteps, type Step } from './plan.js';

interface PostgresStep extends Step {
  /** The step's SQL for the schema `s`, already quoted. */
  sql(s: string): string;
  /** Work after the SQL that needs the code's own rules (name keys). */
  after?(client: pg.PoolClient, s: string): Promise<void>;
}

const POSTGRES_STEPS: readonly PostgresStep[] = [
  {
    // The schema as the first Parley wrote it. IF NOT EXISTS: unrecorded databases run it too.
    ...named(1),
    sql: (s) => `
CREATE TABLE IF NOT EXISTS ${s}.rooms (
  room TEXT PRIMARY KEY,
  last_seq BIGINT NOT NULL,
  dm_a TEXT,
  dm_b TEXT
);
CREATE INDEX IF NOT EXISTS rooms_dm_a ON ${s}.rooms (dm_a) WHERE dm_a IS NOT NULL;
CREATE INDEX IF NOT EXISTS rooms_dm_b ON ${s}.rooms (dm_b) WHERE dm_b IS NOT NULL;
CREATE TABLE IF NOT EXISTS ${s}.messages (
  room TEXT NOT NULL,
  seq BIGINT NOT NULL,
  cid TEXT NOT NULL,
  sender TEXT NOT NULL,
  body TEXT NOT NULL,
  me BOOLEAN NOT NULL,
  ts BIGINT NOT NULL,
  PRIMARY KEY (room, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_cid ON ${s}.messages (room, cid);
CREATE TABLE IF NOT EXISTS ${s}.names (
  key TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
`,
  },
  {
    // As in SQLite: the room's row is the lock that orders its writers, and the next number is
    // read from the messages' primary key once the lock is held.
    ...named(2),
    sql: (s) => `ALTER TABLE ${s}.rooms DROP COLUMN IF EXISTS last_seq;`,
  },
  {
    // The skeletons are filled in at open, from the keys, by the code that makes them.
    ...named(3),
    sql: (s) => `
ALTER TABLE ${s}.names ADD COLUMN IF NOT EXISTS skeleton TEXT;
CREATE INDEX IF NOT EXISTS names_skeleton ON ${s}.names (skeleton);
CREATE TABLE IF NOT EXISTS ${s}.settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`,
  },
  {
    // As in SQLite: one id per token, and messages of reserved names carry their user's id.
    ...named(4),
    sql: (s) => `
ALTER TABLE ${s}.names ADD COLUMN user_id TEXT;
UPDATE ${s}.names SET user_id = 'u_' || substr(md5(random()::text || key), 1, 16);
UPDATE ${s}.names n SET user_id =
  (SELECT min(o.user_id) FROM ${s}.names o WHERE o.token_hash = n.token_hash);
CREATE INDEX names_token_hash ON ${s}.names (token_hash);
CREATE INDEX names_user_id ON ${s}.names (user_id);
ALTER TABLE ${s}.messages ADD COLUMN sender_id TEXT;
`,
    after: async (client, s) => {
      const senders = await client.query<{ sender: string }>(
        `SELECT DISTINCT sender FROM ${s}.messages`,
      );
      for (const { sender } of senders.rows) {
        await client.query(
          `UPDATE ${s}.messages SET sender_id = (SELECT user_id FROM ${s}.names WHERE key = $1)
           WHERE sender = $2`,
          [foldKey(sender), sender],
        );
      }
    },
  },
  {
    // As in SQLite: a direct room is the two users' from now on, under the id it had.
    ...named(5),
    sql: (s) => `
UPDATE ${s}.rooms r SET
  dm_a = coalesce((SELECT user_id FROM ${s}.names WHERE key = r.dm_a), r.dm_a),
  dm_b = coalesce((SELECT user_id FROM ${s}.names WHERE key = r.dm_b), r.dm_b)
WHERE r.dm_a IS NOT NULL;
`,
  },
  {
    // As in SQLite: people become accounts. Each user id of the names is a user who goes by its
    // latest name, each token a session of its user; names stays, every key ever reserved.
    ...named(6),
    sql: (s) => `
CREATE TABLE ${s}.users (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  display TEXT NOT NULL,
  password TEXT,
  role TEXT NOT NULL DEFAULT 'member',
  banned_until BIGINT,
  ban_reason TEXT,
  created_at BIGINT NOT NULL
);
CREATE TABLE ${s}.sessions (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  label TEXT NOT NULL
);
CREATE INDEX sessions_user ON ${s}.sessions (user_id);
CREATE TABLE ${s}.tickets (
  hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  user_id TEXT,
  uses INTEGER NOT NULL,
  expires_at BIGINT NOT NULL,
  created_by TEXT,
  created_at BIGINT NOT NULL
);
CREATE TABLE ${s}.room_settings (
  room TEXT PRIMARY KEY,
  visibility TEXT NOT NULL,
  topic TEXT NOT NULL,
  guests BOOLEAN NOT NULL
);
CREATE TABLE ${s}.room_roles (
  room TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY (room, user_id)
);
CREATE INDEX room_roles_user ON ${s}.room_roles (user_id);
CREATE TABLE ${s}.sanctions (
  room TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  until BIGINT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (room, user_id, kind)
);
CREATE TABLE ${s}.audit (
  seq BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  actor_id TEXT,
  action TEXT NOT NULL,
  target_id TEXT,
  room TEXT,
  reason TEXT NOT NULL
);
INSERT INTO ${s}.users (id, key, display, password, role, created_at)
SELECT DISTINCT ON (user_id) user_id, key, key, NULL, 'member',
       min(created_at) OVER (PARTITION BY user_id)
  FROM ${s}.names WHERE user_id IS NOT NULL
 ORDER BY user_id, created_at DESC, key COLLATE "C";
`,
    after: async (client, s) => {
      await client.query(
        `INSERT INTO ${s}.sessions (token_hash, user_id, created_at, last_seen, label)
         SELECT token_hash, min(user_id), min(created_at), $1, 'earlier version'
           FROM ${s}.names WHERE token_hash <> '' AND user_id IS NOT NULL GROUP BY token_hash`,
        [Date.now()],
      );
    },
  },
  {
    // As in SQLite: change entries in the log, the message rows in their current state.
    ...named(7),
    sql: (s) => `
ALTER TABLE ${s}.messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
ALTER TABLE ${s}.messages ADD COLUMN target BIGINT;
ALTER TABLE ${s}.messages ADD COLUMN emoji TEXT;
ALTER TABLE ${s}.messages ADD COLUMN reaction_on BOOLEAN;
ALTER TABLE ${s}.messages ADD COLUMN reply_to BIGINT;
ALTER TABLE ${s}.messages ADD COLUMN edited_at BIGINT;
ALTER TABLE ${s}.messages ADD COLUMN removed BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX messages_changes ON ${s}.messages (room, seq) WHERE kind <> 'message';
CREATE INDEX messages_target ON ${s}.messages (room, target) WHERE target IS NOT NULL;
CREATE TABLE ${s}.reactions (
  room TEXT NOT NULL,
  seq BIGINT NOT NULL,
  emoji TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  entry_seq BIGINT NOT NULL,
  PRIMARY KEY (room, seq, emoji, user_id)
);
`,
  },
  {
    // Search: a trigram index on the text (pg_trgm), which serves ILIKE for every term of 3
    // characters or more, in any script. An index changes with its rows, in their transaction.
    ...named(8),
    sql: () => '',
    after: async (client, s) => {
      const ext = await trigramSchema(client);
      if (ext === null) return;
      await client.query(
        `CREATE INDEX messages_body_trgm ON ${s}.messages USING gin (body "${ext}".gin_trgm_ops)`,
      );
    },
  },
  {
    // As in SQLite: each person's last-read entry per room, direct conversations read to their end.
    ...named(9),
    sql: (s) => `
CREATE TABLE ${s}.read_markers (
  user_id TEXT NOT NULL,
  room TEXT NOT NULL,
  seq BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, room)
);
INSERT INTO ${s}.read_markers (user_id, room, seq, updated_at)
SELECT p.user_id, p.room, max(m.seq), max(m.ts)
  FROM (SELECT room, dm_a AS user_id FROM ${s}.rooms WHERE dm_a IS NOT NULL
        UNION SELECT room, dm_b FROM ${s}.rooms WHERE dm_b IS NOT NULL) p
  JOIN ${s}.messages m ON m.room = p.room
 GROUP BY p.user_id, p.room;
`,
  },
];

/**
 * The schema pg_trgm is in, made if it can be; null when this server has it not or this role may
 * not make it (search then reads the rows: right, and slower).
 */
async function trigramSchema(client: pg.PoolClient): Promise<string | null> {
  // Schemas of one database migrate at the same time; the extension is the database's, once.
  await client.query("SELECT pg_advisory_xact_lock(hashtext('parley:pg_trgm'))");
  await client.query('SAVEPOINT trigram');
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await client.query('RELEASE SAVEPOINT trigram');
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT trigram');
  }
  const res = await client.query<{ nspname: string }>(
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
  );
  const name = res.rows[0]?.nspname;
  return name && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : null;
}

async function hasTable(client: pg.PoolClient, schema: string, table: string): Promise<boolean> {
  const res = await client.query(
    'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2',
    [schema, table],
  );
  return res.rowCount === 1;
}

async function record(client: pg.PoolClient, s: string, step: Step): Promise<void> {
  await client.query(
    `INSERT INTO ${s}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
    [step.version, step.name, Date.now()],
  );
}

/** The version the schema is at: 0 where nothing is recorded, the record made then. */
async function recordedVersion(client: pg.PoolClient, schema: string, s: string): Promise<number> {
  if (await hasTable(client, schema, 'schema_migrations')) {
    const res = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${s}.schema_migrations`,
    );
    return res.rows[0]?.v ?? 0;
  }
  await client.query(`
CREATE TABLE ${s}.schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
);
`);
  return 0;
}

/**
 * Brings the schema to the latest steps, inside the caller's transaction; refuses one that a
 * newer Parley wrote. `schema` is the plain name, `s` the same quoted for SQL.
 */
export async function migratePostgres(
  client: pg.PoolClient,
  schema: string,
  s: string,
): Promise<void> {
  // Held to the end of the transaction. CREATE ... IF NOT EXISTS alone can still collide on the
  // catalog's unique indexes when several nodes start together.
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`parley:schema:${schema}`]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  for (const step of pendingSteps(POSTGRES_STEPS, await recordedVersion(client, schema, s))) {
    await client.query(step.sql(s));
    await step.after?.(client, s);
    await record(client, s, step);
  }
}
