// The embedded default: SQLite through better-sqlite3, WAL mode, one file in the data folder.
// better-sqlite3 is synchronous; a whole batch is one short transaction, so the event loop
// is held only for the commit itself. Checkpoints, which fsync, run on a worker thread.

import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ChatMessage, LogEntry } from '../protocol/index.js';
import type { ChangeDraft, ChangeOutcome, MessageDraft } from '../core/ports.js';
import { isChange, judge, type Target } from './change-rules.js';
import { rowEntry, rowMessage, rowReaderMessage, summarize, type StoredRow } from './entry-rows.js';
import { SKELETON_VERSION, nameSkeleton } from '../protocol/skeleton.js';
import { migrateSqlite } from './migrations/sqlite.js';
import { sqliteSearch } from './search-index.js';
import { startSearchThread } from './search-thread.js';
import { sqliteDirectory } from './sqlite-directory.js';
import { sqliteMarkers } from './markers.js';
import { newUserId } from './user-id.js';
import type { CheckpointCounts, Committed, Draft, Log, MessageStore } from './types.js';

interface Row {
  room: string;
  seq: number;
  cid: string;
  sender: string;
  body: string;
  me: number;
  ts: number;
  sender_id: string | null;
  kind: string;
  target: number | null;
  emoji: string | null;
  reaction_on: number | null;
  reply_to: number | null;
  edited_at: number | null;
  removed: number;
}

function stored(r: Row): StoredRow {
  return {
    room: r.room,
    seq: r.seq,
    cid: r.cid,
    sender: r.sender,
    body: r.body,
    me: r.me === 1,
    ts: r.ts,
    senderId: r.sender_id,
    kind: r.kind,
    target: r.target,
    emoji: r.emoji,
    reactionOn: r.reaction_on === null ? null : r.reaction_on === 1,
    replyTo: r.reply_to,
    editedAt: r.edited_at,
    removed: r.removed === 1,
  };
}

function toMessage(r: Row): ChatMessage {
  return rowMessage(stored(r));
}

function toReaderMessage(r: Row): ChatMessage {
  return rowReaderMessage(stored(r));
}

function toEntry(r: Row): LogEntry {
  return rowEntry(stored(r));
}

/**
 * Each reserved name's skeleton, so that a new name is compared with the old ones too: filled in
 * where missing, and made again where another version of nameSkeleton made it.
 */
function fillNameSkeletons(db: Database.Database): void {
  const version = db
    .prepare<[], { value: string }>("SELECT value FROM settings WHERE name = 'skeleton_version'")
    .get()?.value;
  const stale = db.prepare<[], { key: string }>(
    version === SKELETON_VERSION
      ? 'SELECT key FROM names WHERE skeleton IS NULL'
      : 'SELECT key FROM names',
  );
  const fill = db.prepare<[string, string]>('UPDATE names SET skeleton = ? WHERE key = ?');
  db.transaction(() => {
    for (const { key } of stale.all()) fill.run(nameSkeleton(key), key);
    db.prepare(
      "INSERT INTO settings (name, value) VALUES ('skeleton_version', ?) " +
        'ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ).run(SKELETON_VERSION);
  })();
}

/** A secret of this instance, made at the first open and kept. */
function readInstanceSecret(db: Database.Database): string {
  db.prepare(
    "INSERT INTO settings (name, value) VALUES ('instance_secret', ?) ON CONFLICT DO NOTHING",
  ).run(randomBytes(32).toString('hex'));
  const row = db
    .prepare<[], { value: string }>("SELECT value FROM settings WHERE name = 'instance_secret'")
    .get();
  if (!row) throw new Error('the store has no instance secret');
  return row.value;
}

export type Synchronous = 'FULL' | 'NORMAL' | 'EXTRA';

/** How often the worker copies the WAL back into the database file. */
const CHECKPOINT_EVERY_MS = 1000;
/** WAL pages past which the worker makes writers wait once so the WAL can start over. */
const RESTART_PAGES = 16_384;
/**
 * The checkpoint thread's nice value. A checkpoint copies megabytes for 15-20 ms; at equal
 * priority it takes half of a core the event loop needs, once a second.
 */
const CHECKPOINT_NICE = 19;

// The worker's whole program. It is CommonJS source run with `eval`, so the same code runs from
// dist/ and from src/ under tsx (which does not reach into workers on Node 20). PASSIVE never
// waits for the writer, but under steady writes a new commit nearly always lands while it runs,
// and then the WAL cannot start over and keeps growing; past RESTART_PAGES a RESTART checkpoint
// holds writers back once (a few milliseconds) so that it does.
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
try {
  // Linux: this thread alone is niced (setpriority takes a thread id there), so that on a
  // busy core it yields to the event loop. Elsewhere the call fails or means the process.
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid !== process.pid) require('node:os').setPriority(tid, workerData.nice);
} catch {}
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try {
    const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
    if (passive.log > workerData.restartPages) db.pragma('wal_checkpoint(RESTART)');
    parentPort.postMessage('ok');
  } catch (err) {
    // Busy past busy_timeout, or a full disk (SQLITE_FULL, SQLITE_IOERR): try again next time.
    // Were the thread to end, the WAL would grow until a restart, and on a full disk it is
    // exactly what holds the space a checkpoint would give back.
    if (err.code !== 'SQLITE_BUSY') parentPort.postMessage('failed');
  }
}, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages, and its
 * fsyncs stall the event loop for several milliseconds. A worker thread checkpoints instead, on
 * its own connection. Should the worker fail, SQLite's own checkpoint comes back.
 */
function startCheckpointer(
  db: Database.Database,
  file: string,
  counts: CheckpointCounts,
): () => Promise<void> {
  db.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(CHECKPOINTER, {
    eval: true,
    workerData: {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      file,
      everyMs: CHECKPOINT_EVERY_MS,
      restartPages: RESTART_PAGES,
      nice: CHECKPOINT_NICE,
    },
  });
  worker.unref();
  worker.on('message', (result: unknown) => {
    if (result === 'ok') counts.ok++;
    else if (result === 'failed') counts.failed++;
  });
  let running = true;
  const fallBack = () => {
    if (!running) return;
    running = false;
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('error', fallBack);
  worker.on('exit', fallBack);
  return async () => {
    if (!running) return;
    running = false;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref(); // the close is awaited: keep the process up until the worker is gone
    worker.postMessage('stop');
    await exited;
  };
}

export function openSqliteStore(file: string, synchronous: Synchronous = 'NORMAL'): MessageStore {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // In WAL mode NORMAL writes each commit to the WAL file before the ack, so an acked message
  // survives a crash or kill -9 of the process; only an OS crash or power loss can take the
  // last commits, and FULL (an fsync per commit) closes that too, at a latency cost.
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  // A WAL that grew under a burst is cut back to this when it restarts.
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  migrateSqlite(db);
  fillNameSkeletons(db);
  const instanceSecret = readInstanceSecret(db);
  const checkpoints: CheckpointCounts = { ok: 0, failed: 0 };
  const stopCheckpointer =
    file === ':memory:' ? () => Promise.resolve() : startCheckpointer(db, file, checkpoints);

  const q = {
    byCid: db.prepare<[string, string], Row>('SELECT * FROM messages WHERE room = ? AND cid = ?'),
    ensureRoom: db.prepare<[string, string | null, string | null]>(
      'INSERT INTO rooms (room, dm_a, dm_b) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    // The primary key's last entry for the room: one seek, and no page to write for it.
    lastSeq: db.prepare<[string], { seq: number | null }>(
      'SELECT max(seq) AS seq FROM messages WHERE room = ?',
    ),
    // A resend (same room and client id) inserts nothing, and so takes no number.
    insert: db.prepare<[string, number, string, string, string, number, number, string]>(
      'INSERT INTO messages (room, seq, cid, sender, body, me, ts, sender_id) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (room, cid) DO NOTHING',
    ),
    insertReply: db.prepare<
      [string, number, string, string, string, number, number, string, number]
    >(
      'INSERT INTO messages (room, seq, cid, sender, body, me, ts, sender_id, reply_to) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (room, cid) DO NOTHING',
    ),
    insertChange: db.prepare<
      [
        string,
        number,
        string,
        string,
        string,
        number,
        string,
        string,
        number,
        string | null,
        number | null,
      ]
    >(
      'INSERT INTO messages (room, seq, cid, sender, body, me, ts, sender_id, kind, target, emoji, reaction_on) ' +
        'VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)',
    ),
    target: db.prepare<[string, number], { sender_id: string | null; ts: number; removed: number }>(
      "SELECT sender_id, ts, removed FROM messages WHERE room = ? AND seq = ? AND kind = 'message'",
    ),
    message: db.prepare<[string, number], Row>(
      "SELECT * FROM messages WHERE room = ? AND seq = ? AND kind = 'message'",
    ),
    targetReactions: db.prepare<[string, number], { emoji: string; user_id: string }>(
      'SELECT emoji, user_id FROM reactions WHERE room = ? AND seq = ? ORDER BY entry_seq',
    ),
    edit: db.prepare<[string, number, string, number]>(
      'UPDATE messages SET body = ?, edited_at = ? WHERE room = ? AND seq = ?',
    ),
    // A removal purges the text, the edits' too, and the reactions: a placeholder is left.
    remove: db.prepare<[string, number]>(
      "UPDATE messages SET body = '', removed = 1, edited_at = NULL WHERE room = ? AND seq = ?",
    ),
    purgeEdits: db.prepare<[string, number]>(
      "UPDATE messages SET body = '' WHERE room = ? AND target = ? AND kind = 'edit'",
    ),
    dropReactions: db.prepare<[string, number]>('DELETE FROM reactions WHERE room = ? AND seq = ?'),
    react: db.prepare<[string, number, string, string, string, number]>(
      'INSERT INTO reactions (room, seq, emoji, user_id, name, entry_seq) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    unreact: db.prepare<[string, number, string, string]>(
      'DELETE FROM reactions WHERE room = ? AND seq = ? AND emoji = ? AND user_id = ?',
    ),
    reactionsIn: db.prepare<[string, number, number], { seq: number; emoji: string; name: string }>(
      'SELECT seq, emoji, name FROM reactions WHERE room = ? AND seq >= ? AND seq <= ? ' +
        'ORDER BY seq, entry_seq',
    ),
    changes: db.prepare<[string, number, number], { seq: number; target: number }>(
      "SELECT seq, target FROM messages WHERE room = ? AND seq > ? AND kind <> 'message' " +
        'ORDER BY seq LIMIT ?',
    ),
    after: db.prepare<[string, number, number], Row>(
      'SELECT * FROM messages WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    before: db.prepare<[string, number, number], Row>(
      'SELECT * FROM messages WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    rooms: db.prepare<[], { room: string; seq: number; ts: number }>(
      'SELECT r.room, coalesce(m.seq, 0) AS seq, coalesce(m.ts, 0) AS ts FROM rooms r ' +
        'LEFT JOIN messages m ON m.room = r.room AND m.seq = ' +
        '(SELECT max(seq) FROM messages l WHERE l.room = r.room) ' +
        'WHERE r.dm_a IS NULL ORDER BY r.room',
    ),
    // The other participant's latest name is the one its labels show.
    direct: db.prepare<[string, string], { room: string; peer: string; peer_key: string | null }>(
      'SELECT d.room, d.peer, (SELECT n.key FROM names n WHERE n.user_id = d.peer ' +
        'ORDER BY n.created_at DESC, n.key LIMIT 1) AS peer_key FROM (' +
        'SELECT room, dm_b AS peer FROM rooms WHERE dm_a = ? UNION ' +
        'SELECT room, dm_a AS peer FROM rooms WHERE dm_b = ?) d ORDER BY d.room',
    ),
    directRoom: db.prepare<[string, string, string, string], { room: string }>(
      'SELECT room FROM rooms WHERE (dm_a = ? AND dm_b = ?) OR (dm_a = ? AND dm_b = ?) ' +
        'ORDER BY room LIMIT 1',
    ),
    directPair: db.prepare<[string], { dm_a: string; dm_b: string }>(
      'SELECT dm_a, dm_b FROM rooms WHERE room = ? AND dm_a IS NOT NULL AND dm_b IS NOT NULL',
    ),
    name: db.prepare<[string], { token_hash: string; user_id: string }>(
      'SELECT token_hash, user_id FROM names WHERE key = ?',
    ),
    userOfToken: db.prepare<[string], { user_id: string }>(
      'SELECT user_id FROM names WHERE token_hash = ? LIMIT 1',
    ),
    // Another's name that looks the same; the caller's own look-alikes do not count.
    lookalike: db.prepare<[string, string], { key: string }>(
      'SELECT key FROM names WHERE skeleton = ? AND token_hash <> ? LIMIT 1',
    ),
    probe: db.prepare<[string]>(
      "INSERT INTO settings (name, value) VALUES ('ready_probe', ?) " +
        'ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ),
    claim: db.prepare<[string, string, number, string, string]>(
      'INSERT INTO names (key, token_hash, created_at, skeleton, user_id) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT DO NOTHING',
    ),
  };

  // The next number is the room's last one plus one, read from the messages' own primary key,
  // so a commit writes the pages of the message and its cid index and nothing else: the commit
  // is most of a small room's cost per message. The rooms row is written once, with the first
  // message. IMMEDIATE takes the write lock before the read, so that two connections cannot
  // both read the same last number.
  const appendMessage = (d: MessageDraft, now: number): Committed => {
    const seq = (q.lastSeq.get(d.room)?.seq ?? 0) + 1;
    if (seq === 1) q.ensureRoom.run(d.room, d.direct?.[0] ?? null, d.direct?.[1] ?? null);
    const row = [d.room, seq, d.cid, d.from, d.text, d.me ? 1 : 0, now, d.fromId] as const;
    const inserted =
      d.replyTo === undefined ? q.insert.run(...row) : q.insertReply.run(...row, d.replyTo);
    if (inserted.changes === 0) {
      const existing = q.byCid.get(d.room, d.cid);
      if (!existing) throw new Error(`message ${d.cid} in ${d.room} conflicted but is not there`);
      return { message: toMessage(existing), duplicate: true, actorId: existing.sender_id };
    }
    const message: ChatMessage = {
      room: d.room,
      seq,
      from: d.from,
      text: d.text,
      ts: now,
      cid: d.cid,
      me: d.me,
    };
    if (d.replyTo !== undefined) message.replyTo = d.replyTo;
    return { message, duplicate: false, actorId: d.fromId };
  };

  const targetOf = (d: ChangeDraft): Target | undefined => {
    const t = q.target.get(d.room, d.target);
    if (!t) return undefined;
    const reactions = new Map<string, Set<string>>();
    if (d.kind === 'reaction') {
      for (const r of q.targetReactions.all(d.room, d.target)) {
        const by = reactions.get(r.emoji) ?? new Set<string>();
        by.add(r.user_id);
        reactions.set(r.emoji, by);
      }
    }
    return { senderId: t.sender_id, ts: t.ts, removed: t.removed === 1, reactions };
  };

  // A change is judged on the target as this transaction sees it, so two changes of one batch
  // see each other.
  const appendChange = (d: ChangeDraft, now: number): ChangeOutcome => {
    const existing = q.byCid.get(d.room, d.cid);
    if (existing) {
      const author = existing.target === null ? null : q.target.get(d.room, existing.target);
      return { entry: toEntry(existing), duplicate: true, authorId: author?.sender_id ?? null };
    }
    const t = targetOf(d);
    const v = judge(d, t);
    if ('refused' in v) return v;
    const seq = (q.lastSeq.get(d.room)?.seq ?? 0) + 1;
    const text = v.kind === 'edit' ? v.text : '';
    const emoji = v.kind === 'reaction' ? v.emoji : null;
    const on = v.kind === 'reaction' ? (v.on ? 1 : 0) : null;
    q.insertChange.run(
      d.room,
      seq,
      d.cid,
      d.from,
      text,
      now,
      d.fromId,
      v.kind,
      d.target,
      emoji,
      on,
    );
    if (v.kind === 'edit') q.edit.run(v.text, now, d.room, d.target);
    else if (v.kind === 'delete') {
      q.remove.run(d.room, d.target);
      q.purgeEdits.run(d.room, d.target);
      q.dropReactions.run(d.room, d.target);
    } else if (v.on) q.react.run(d.room, d.target, v.emoji, d.fromId, d.from, seq);
    else q.unreact.run(d.room, d.target, v.emoji, d.fromId);
    const row = q.byCid.get(d.room, d.cid);
    if (!row) throw new Error(`change ${d.cid} in ${d.room} was not stored`);
    return { entry: toEntry(row), duplicate: false, authorId: t?.senderId ?? null };
  };

  const appendTx = db.transaction((drafts: readonly Draft[], now: number) =>
    drafts.map((d) => (isChange(d) ? appendChange(d, now) : appendMessage(d, now))),
  );

  const changedTx = db.transaction((room: string, since: number, before: number, scan: number) => {
    const rows = q.changes.all(room, since, scan);
    const targets = [...new Set(rows.map((r) => r.target))]
      .filter((t) => t < before)
      .sort((a, b) => a - b);
    const messages: ChatMessage[] = [];
    const low = targets[0];
    const high = targets.at(-1);
    const reactions =
      low === undefined || high === undefined
        ? new Map()
        : summarize(q.reactionsIn.all(room, low, high));
    for (const seq of targets) {
      const row = q.message.get(room, seq);
      if (!row) continue;
      const m = toReaderMessage(row);
      const r = reactions.get(seq);
      if (r) m.reactions = r;
      messages.push(m);
    }
    const more = rows.length === scan;
    const upTo = more
      ? (rows.at(-1)?.seq ?? since)
      : Math.max(since, q.lastSeq.get(room)?.seq ?? 0);
    return { messages, upTo, more };
  });

  const claimTx = db.transaction((key: string, skeleton: string, hash: string, now: number) => {
    const row = q.name.get(key);
    if (row) return row.token_hash === hash ? 'owned' : 'reserved';
    if (q.lookalike.get(skeleton, hash)) return 'confusable';
    // The token's other names are the same person's: a rename keeps the user id.
    q.claim.run(key, hash, now, skeleton, q.userOfToken.get(hash)?.user_id ?? newUserId());
    return 'claimed';
  });

  // Promise.resolve().then defers the work so callers see the same asynchrony as network stores.
  const later = <T>(f: () => T): Promise<T> => Promise.resolve().then(f);
  // An in-memory database has no file for a second connection: its searches stay inline.
  const thread = file === ':memory:' ? undefined : startSearchThread(file);
  const search: MessageStore['search'] =
    thread?.search ??
    (
      (run) => (query) =>
        later(() => run(query))
    )(sqliteSearch(db));

  return {
    description: `sqlite ${file} (journal_mode=WAL, synchronous=${synchronous})`,
    instanceSecret,
    checkpoints: () => ({ ...checkpoints }),
    ...sqliteDirectory(db, later),
    ...sqliteMarkers(db, later),
    append: ((drafts: readonly Draft[], now: number) =>
      later(() => appendTx.immediate(drafts, now))) as Log['append'],
    after: (room, after, limit) => later(() => q.after.all(room, after, limit).map(toEntry)),
    before: (room, before, limit) =>
      later(() => q.before.all(room, before, limit).map(toEntry).reverse()),
    search,
    lastSeq: (room) => later(() => q.lastSeq.get(room)?.seq ?? 0),
    message: (room, seq) =>
      later(() => {
        const row = q.message.get(room, seq);
        return row ? { message: toMessage(row), senderId: row.sender_id } : null;
      }),
    changed: (room, since, before, scan) => later(() => changedTx(room, since, before, scan)),
    reactions: (room, seqs) =>
      later(() => {
        if (seqs.length === 0) return new Map();
        const all = summarize(q.reactionsIn.all(room, Math.min(...seqs), Math.max(...seqs)));
        const wanted = new Set(seqs);
        for (const seq of all.keys()) if (!wanted.has(seq)) all.delete(seq);
        return all;
      }),
    rooms: () =>
      later(() => q.rooms.all().map((r) => ({ room: r.room, lastSeq: r.seq, lastTs: r.ts }))),
    directRooms: (userId) =>
      later(() =>
        q.direct
          .all(userId, userId)
          .map((r) => ({ room: r.room, peer: r.peer, peerKey: r.peer_key })),
      ),
    directRoom: (a, b) => later(() => q.directRoom.get(a, b, b, a)?.room ?? null),
    directPair: (room) =>
      later(() => {
        const r = q.directPair.get(room);
        return r ? [r.dm_a, r.dm_b] : null;
      }),
    claimName: (key, skeleton, hash, now) =>
      later(() => claimTx.immediate(key, skeleton, hash, now)),
    nameUser: (key) => later(() => q.name.get(key)?.user_id ?? null),
    nameExists: (key) => later(() => q.name.get(key) !== undefined),
    nameHolder: (key) => later(() => q.name.get(key)?.token_hash ?? null),
    // A write, not a read: with the disk full, reads still work and commits do not.
    ping: () => later(() => void q.probe.run(String(Date.now()))),
    // The worker goes first: the last connection to close checkpoints what is left.
    close: async () => {
      await thread?.close();
      await stopCheckpointer();
      db.close();
    },
  };
}
