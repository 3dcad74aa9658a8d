// The SQLite schema, step by step (see plan.ts). All pending steps run in one IMMEDIATE
// transaction: a second process opening the same file waits, then finds them done.

import type Database from 'better-sqlite3';
import { foldKey } from '../../protocol/rules.js';
import { SEARCH_INDEX_SQL } from '../search-index.js';
import { named, pendingSteps, type Step } from './plan.js';

interface SqliteStep extends Step {
  run(db: Database.Database): void;
}

const hasColumn = (db: Database.Database, table: string, column: string): boolean =>
  (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);

const SQLITE_STEPS: readonly SqliteStep[] = [
  {
    // The schema as the first Parley wrote it. IF NOT EXISTS: unrecorded databases run it too.
    ...named(1),
    run: (db) =>
      db.exec(`
CREATE TABLE IF NOT EXISTS rooms (
  room TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  dm_a TEXT,
  dm_b TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS rooms_dm_a ON rooms(dm_a) WHERE dm_a IS NOT NULL;
CREATE INDEX IF NOT EXISTS rooms_dm_b ON rooms(dm_b) WHERE dm_b IS NOT NULL;
CREATE TABLE IF NOT EXISTS messages (
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  cid TEXT NOT NULL,
  sender TEXT NOT NULL,
  body TEXT NOT NULL,
  me INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (room, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_cid ON messages(room, cid);
CREATE TABLE IF NOT EXISTS names (
  key TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
`),
  },
  {
    // The counter always equalled the room's largest seq; the next number is read from the
    // messages' primary key, and a commit writes one page fewer.
    ...named(2),
    run: (db) => {
      if (hasColumn(db, 'rooms', 'last_seq')) db.exec('ALTER TABLE rooms DROP COLUMN last_seq');
    },
  },
  {
    // The skeletons are filled in at open, from the keys, by the code that makes them.
    ...named(3),
    run: (db) => {
      if (!hasColumn(db, 'names', 'skeleton'))
        db.exec('ALTER TABLE names ADD COLUMN skeleton TEXT');
      db.exec(`
CREATE INDEX IF NOT EXISTS names_skeleton ON names(skeleton);
CREATE TABLE IF NOT EXISTS settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`);
    },
  },
  {
    // One id per token: every name a token holds is one person's. A message names its sender
    // by display name; where that name is reserved, the message is that user's (old guests'
    // messages keep NULL: a guest's id is not stored).
    ...named(4),
    run: (db) => {
      db.exec(`
ALTER TABLE names ADD COLUMN user_id TEXT;
UPDATE names SET user_id = 'u_' || lower(hex(randomblob(8)));
UPDATE names SET user_id = (SELECT min(o.user_id) FROM names o WHERE o.token_hash = names.token_hash);
CREATE INDEX names_token_hash ON names(token_hash);
CREATE INDEX names_user_id ON names(user_id);
ALTER TABLE messages ADD COLUMN sender_id TEXT;
`);
      const senders = db.prepare<[], { sender: string }>('SELECT DISTINCT sender FROM messages');
      const user = db.prepare<[string], { user_id: string }>(
        'SELECT user_id FROM names WHERE key = ?',
      );
      const fill = db.prepare<[string, string]>(
        'UPDATE messages SET sender_id = ? WHERE sender = ?',
      );
      for (const { sender } of senders.all()) {
        const id = user.get(foldKey(sender))?.user_id;
        if (id) fill.run(id, sender);
      }
    },
  },
  {
    // A direct room was the two name keys' (its id is made of them, and stays: its messages are
    // stored under it); from now on it is the two users', so that a rename keeps it.
    ...named(5),
    run: (db) =>
      db.exec(`
UPDATE rooms SET
  dm_a = coalesce((SELECT user_id FROM names WHERE key = rooms.dm_a), dm_a),
  dm_b = coalesce((SELECT user_id FROM names WHERE key = rooms.dm_b), dm_b)
WHERE dm_a IS NOT NULL;
`),
  },
  {
    // Accounts: each person a user row (named as their latest name), each token that held a
    // name a session of its person, so that nobody is logged out or loses a name.
    ...named(6),
    run: (db) => {
      db.exec(`
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  display TEXT NOT NULL,
  password TEXT,
  role TEXT NOT NULL DEFAULT 'member',
  banned_until INTEGER,
  ban_reason TEXT,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  label TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE tickets (
  hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  user_id TEXT,
  uses INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_by TEXT,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE room_settings (
  room TEXT PRIMARY KEY,
  visibility TEXT NOT NULL,
  topic TEXT NOT NULL,
  guests INTEGER NOT NULL
) STRICT;
CREATE TABLE room_roles (
  room TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY (room, user_id)
) STRICT;
CREATE INDEX room_roles_user ON room_roles(user_id);
CREATE TABLE sanctions (
  room TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  until INTEGER NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (room, user_id, kind)
) STRICT;
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor_id TEXT,
  action TEXT NOT NULL,
  target_id TEXT,
  room TEXT,
  reason TEXT NOT NULL
) STRICT;
INSERT INTO users (id, key, display, password, role, created_at)
SELECT u.user_id,
  (SELECT n.key FROM names n WHERE n.user_id = u.user_id ORDER BY n.created_at DESC, n.key LIMIT 1),
  (SELECT n.key FROM names n WHERE n.user_id = u.user_id ORDER BY n.created_at DESC, n.key LIMIT 1),
  NULL, 'member', u.created
FROM (SELECT user_id, min(created_at) AS created FROM names GROUP BY user_id) u;
`);
      db.prepare(
        'INSERT INTO sessions (token_hash, user_id, created_at, last_seen, label) ' +
          "SELECT token_hash, min(user_id), min(created_at), ?, 'earlier version' FROM names " +
          "WHERE token_hash <> '' GROUP BY token_hash",
      ).run(Date.now());
    },
  },
  {
    // Edits, removals and reactions are log entries too: a kind, and the message they act on.
    // A message row holds its current state (edited text, removal); reactions are a table.
    ...named(7),
    run: (db) =>
      db.exec(`
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
ALTER TABLE messages ADD COLUMN target INTEGER;
ALTER TABLE messages ADD COLUMN emoji TEXT;
ALTER TABLE messages ADD COLUMN reaction_on INTEGER;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_changes ON messages(room, seq) WHERE kind <> 'message';
CREATE INDEX messages_target ON messages(room, target) WHERE target IS NOT NULL;
CREATE TABLE reactions (
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  emoji TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  entry_seq INTEGER NOT NULL,
  PRIMARY KEY (room, seq, emoji, user_id)
) STRICT, WITHOUT ROWID;
`),
  },
  {
    // Full-text search (search-index.ts). Messages are keyed by (room, seq) in a table without
    // rowids, and FTS5 needs an integer id: message_docs numbers every message in the order
    // written, so that the newest matches come first from the index, and the search table reads
    // its text through a view over the messages (external content: the text is stored once).
    ...named(8),
    run: (db) => db.exec(SEARCH_INDEX_SQL),
  },
  {
    // Each person's last-read entry per room. Direct conversations start read to their end for
    // both people: they were read or not before markers, and no one can say which now.
    ...named(9),
    run: (db) =>
      db.exec(`
CREATE TABLE read_markers (
  user_id TEXT NOT NULL,
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, room)
) STRICT, WITHOUT ROWID;
INSERT INTO read_markers (user_id, room, seq, updated_at)
SELECT p.user_id, p.room, max(m.seq), max(m.ts)
  FROM (SELECT room, dm_a AS user_id FROM rooms WHERE dm_a IS NOT NULL
        UNION SELECT room, dm_b FROM rooms WHERE dm_b IS NOT NULL) p
  JOIN messages m ON m.room = p.room
 GROUP BY p.user_id, p.room;
`),
  },
];

function hasTable(db: Database.Database, name: string): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
    undefined
  );
}

function record(db: Database.Database, step: Step): void {
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
    step.version,
    step.name,
    Date.now(),
  );
}

/** The version the database is at: 0 where nothing is recorded, the record made then. */
function recordedVersion(db: Database.Database): number {
  if (hasTable(db, 'schema_migrations')) {
    const row = db
      .prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_migrations')
      .get();
    return row?.v ?? 0;
  }
  db.exec(`
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT;
`);
  return 0;
}

/** Brings the database to the latest schema; refuses one that a newer Parley wrote. */
export function migrateSqlite(db: Database.Database): void {
  db.transaction(() => {
    for (const step of pendingSteps(SQLITE_STEPS, recordedVersion(db))) {
      step.run(db);
      record(db, step);
    }
  }).immediate();
}
