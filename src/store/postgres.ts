// The cluster store: PostgreSQL through node-postgres. Every node appends through the same
// tables; the row of a room in `rooms` is the lock that serialises its writers, so a room's
// sequence numbers are global across nodes and gapless (a rolled-back batch takes its numbers
// back with it).
//
// A batch costs a fixed number of round trips, not a few per message: one look-up of every
// (room, cid) in the batch, one upsert per room that takes the room's row lock, one read of
// the locked rooms' last numbers, and one insert of all new messages. The rooms are locked in
// sorted order, so two multi-room batches on different nodes cannot deadlock each other.

import type pg from 'pg';
import { randomBytes } from 'node:crypto';
import { foldKey, type ChatMessage, type LogEntry } from '../protocol/index.js';
import type { ChangeDraft, ChangeOutcome, Log } from '../core/ports.js';
import { applyVerdict, isChange, judge, type Target, type Verdict } from './change-rules.js';
import { rowEntry, rowMessage, rowReaderMessage, summarize, type StoredRow } from './entry-rows.js';
import { SKELETON_VERSION, nameSkeleton } from '../protocol/skeleton.js';
import { migratePostgres } from './migrations/postgres.js';
import { postgresDirectory } from './postgres-directory.js';
import { postgresMarkers } from './markers.js';
import { postgresSearch } from './postgres-search.js';
import { newUserId } from './user-id.js';
import type { Committed, Draft, MessageStore } from './types.js';

export interface PostgresStoreOptions {
  /** The schema that holds the tables, created if missing; `public` by default. */
  schema?: string;
}

/** How often a batch is retried after losing a race to another node (same cid, deadlock). */
const MAX_ATTEMPTS = 5;
/** SQLSTATEs that mean "another transaction got there first; run the batch again". */
const RETRYABLE = new Set([
  '23505', // unique_violation: another node committed the same (room, cid) meanwhile
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

// BIGINT columns arrive as strings (node-postgres keeps 64-bit values exact); sequence numbers
// and millisecond timestamps stay far below 2^53, so Number() is exact for them.
interface Row {
  room: string;
  seq: string;
  cid: string;
  sender: string;
  body: string;
  me: boolean;
  ts: string;
  sender_id: string | null;
  kind: string;
  target: string | null;
  emoji: string | null;
  reaction_on: boolean | null;
  reply_to: string | null;
  edited_at: string | null;
  removed: boolean;
}

const COLUMNS =
  'room, seq, cid, sender, body, me, ts, sender_id, kind, target, emoji, reaction_on, reply_to, ' +
  'edited_at, removed';

const num = (v: string | null): number | null => (v === null ? null : Number(v));

function stored(r: Row): StoredRow {
  return {
    room: r.room,
    seq: Number(r.seq),
    cid: r.cid,
    sender: r.sender,
    body: r.body,
    me: r.me,
    ts: Number(r.ts),
    senderId: r.sender_id,
    kind: r.kind,
    target: num(r.target),
    emoji: r.emoji,
    reactionOn: r.reaction_on,
    replyTo: num(r.reply_to),
    editedAt: num(r.edited_at),
    removed: r.removed,
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

function sqlState(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** node-postgres gave up waiting for a reply (query_timeout); it sets no code. */
function isReadTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout';
}

/** Fails the batch before anything is written when a draft is not what the types promise. */
function checkDraft(d: Draft): void {
  const common =
    typeof d.room === 'string' &&
    typeof d.cid === 'string' &&
    typeof d.from === 'string' &&
    typeof d.fromId === 'string';
  const ok = isChange(d)
    ? common &&
      Number.isSafeInteger(d.target) &&
      (d.kind !== 'edit' || typeof d.text === 'string') &&
      (d.kind !== 'reaction' || typeof d.emoji === 'string')
    : common &&
      typeof d.text === 'string' &&
      typeof d.me === 'boolean' &&
      (d.replyTo === undefined || Number.isSafeInteger(d.replyTo)) &&
      (d.direct === undefined ||
        (Array.isArray(d.direct) &&
          d.direct.length === 2 &&
          typeof d.direct[0] === 'string' &&
          typeof d.direct[1] === 'string'));
  if (!ok) throw new TypeError(`invalid draft for room ${String(d.room)}, cid ${String(d.cid)}`);
}

/** A secret of this instance, made by the first node to open the store; all nodes read it. */
async function readInstanceSecret(client: pg.PoolClient, table: string): Promise<string> {
  await client.query(
    `INSERT INTO ${table} (name, value) VALUES ('instance_secret', $1) ON CONFLICT DO NOTHING`,
    [randomBytes(32).toString('hex')],
  );
  const res = await client.query<{ value: string }>(
    `SELECT value FROM ${table} WHERE name = 'instance_secret'`,
  );
  const secret = res.rows[0]?.value;
  if (!secret) throw new Error('the store has no instance secret');
  return secret;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The entry a change made. */
function changeRow(
  d: ChangeDraft,
  v: Exclude<Verdict, { refused: unknown }>,
  seq: number,
  now: number,
): LogEntry {
  const base = {
    room: d.room,
    seq,
    cid: d.cid,
    from: d.from,
    ts: now,
    target: d.target,
    actor: foldKey(d.from),
    actorId: d.fromId,
  };
  switch (v.kind) {
    case 'edit':
      return { kind: 'edit', ...base, text: v.text };
    case 'delete':
      return { kind: 'delete', ...base };
    case 'reaction':
      return { kind: 'reaction', ...base, emoji: v.emoji, on: v.on };
  }
}

/** A new entry of the batch; its sequence number is known once its room is locked. */
interface Slot {
  draft: Draft;
  seq: number;
  /** For a change: what it does, or why it is refused (then it takes no number). */
  verdict?: Verdict;
  /** For a change: the author of the message it acts on. */
  authorId?: string | null;
}

const targetKey = (room: string, seq: number) => `${seq} ${room}`;

export async function openPostgresStore(
  pool: pg.Pool,
  options: PostgresStoreOptions = {},
): Promise<MessageStore> {
  const schema = options.schema ?? 'public';
  if (!IDENTIFIER.test(schema)) {
    throw new Error(
      `invalid PostgreSQL schema name ${JSON.stringify(schema)}: use [A-Za-z_][A-Za-z0-9_]*`,
    );
  }
  // Identifiers cannot be bound as parameters; the name is checked above and quoted here.
  const s = `"${schema}"`;
  const t = {
    rooms: `${s}.rooms`,
    messages: `${s}.messages`,
    reactions: `${s}.reactions`,
    names: `${s}.names`,
    settings: `${s}.settings`,
  };
  let closed = false;

  async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (closed) throw new Error('the PostgreSQL store is closed');
      const client = await pool.connect();
      let broken: Error | undefined;
      // A checked-out client reports a dropped connection as an 'error' event as well as
      // failing the query; without a listener that event would end the process.
      const onError = (err: Error) => {
        broken = err;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          // A reply that never came: the connection is stuck behind it, and a ROLLBACK would
          // wait as long again. Dropping the connection rolls the transaction back.
          if (isReadTimeout(err)) throw err;
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // The connection is unusable: the pool must drop it rather than hand it out again.
          broken =
            rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        const state = sqlState(err);
        if (attempt >= MAX_ATTEMPTS || state === undefined || !RETRYABLE.has(state)) throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
      // Lost a race with another node: back off a little, with jitter, and run the batch again.
      await sleep(Math.random() * 5 * attempt);
    }
  }

  // The schema's steps, then the skeletons of reserved names: filled in where missing, and made
  // again where another version of nameSkeleton made them.
  const instanceSecret = await inTransaction(async (client) => {
    await migratePostgres(client, schema, s);
    const version = await client.query<{ value: string }>(
      `SELECT value FROM ${t.settings} WHERE name = 'skeleton_version'`,
    );
    const unfilled = await client.query<{ key: string }>(
      version.rows[0]?.value === SKELETON_VERSION
        ? `SELECT key FROM ${t.names} WHERE skeleton IS NULL`
        : `SELECT key FROM ${t.names}`,
    );
    await client.query(
      `INSERT INTO ${t.settings} (name, value) VALUES ('skeleton_version', $1)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
      [SKELETON_VERSION],
    );
    if (unfilled.rows.length > 0) {
      await client.query(
        `UPDATE ${t.names} n SET skeleton = u.skeleton
           FROM unnest($1::text[], $2::text[]) AS u(key, skeleton) WHERE n.key = u.key`,
        [unfilled.rows.map((r) => r.key), unfilled.rows.map((r) => nameSkeleton(r.key))],
      );
    }
    return readInstanceSecret(client, t.settings);
  });

  const info = await pool.query<{
    addr: string | null;
    port: number | null;
    db: string;
    sync: string;
  }>(
    `SELECT host(inet_server_addr()) AS addr, inet_server_port() AS port,
            current_database() AS db, current_setting('synchronous_commit') AS sync`,
  );
  const i = info.rows[0];
  const where = i ? `${i.addr ?? 'local socket'}${i.port ? `:${i.port}` : ''}/${i.db}` : '?';
  const description = `postgres ${where} (schema=${schema}, synchronous_commit=${i?.sync ?? '?'})`;

  async function appendOnce(
    client: pg.PoolClient,
    drafts: readonly Draft[],
    now: number,
  ): Promise<(Committed | ChangeOutcome)[]> {
    // 1. Which of these (room, cid) pairs are already stored? (With, for a change, the author
    // of the message it acted on.)
    const key = (room: string, cid: string) => JSON.stringify([room, cid]);
    const stored = new Map<string, { row: Row; authorId: string | null }>();
    const found = await client.query<Row & { author_id: string | null }>(
      `SELECT ${COLUMNS.split(', ')
        .map((c) => `m.${c}`)
        .join(', ')},
              (SELECT a.sender_id FROM ${t.messages} a
                WHERE m.target IS NOT NULL AND a.room = m.room AND a.seq = m.target) AS author_id
         FROM ${t.messages} m
         JOIN unnest($1::text[], $2::text[]) AS k(room, cid) ON m.room = k.room AND m.cid = k.cid`,
      [drafts.map((d) => d.room), drafts.map((d) => d.cid)],
    );
    for (const r of found.rows) stored.set(key(r.room, r.cid), { row: r, authorId: r.author_id });

    // 2. Walk the batch in order: stored ones and repeats within the batch are duplicates.
    const fresh = new Map<string, Slot>();
    const byRoom = new Map<string, Slot[]>();
    const plan: (
      | { stored: { row: Row; authorId: string | null }; draft: Draft }
      | { slot: Slot; duplicate: boolean }
    )[] = [];
    for (const d of drafts) {
      const k = key(d.room, d.cid);
      const old = stored.get(k);
      if (old) {
        plan.push({ stored: old, draft: d });
        continue;
      }
      const first = fresh.get(k);
      if (first) {
        plan.push({ slot: first, duplicate: true });
        continue;
      }
      const slot: Slot = { draft: d, seq: 0 };
      fresh.set(k, slot);
      const list = byRoom.get(d.room);
      if (list) list.push(slot);
      else byRoom.set(d.room, [slot]);
      plan.push({ slot, duplicate: false });
    }

    // 3. Per room, in a fixed order: create the room or lock its row. Once every row is held,
    // no other writer can add to these rooms, and their last numbers are read from the
    // messages' primary key (a fresh snapshot: this statement starts after the locks).
    const rooms = [...byRoom.keys()].sort();
    for (const room of rooms) {
      const first = byRoom.get(room)?.[0]?.draft;
      const direct = first && !isChange(first) ? first.direct : undefined;
      await client.query(
        `INSERT INTO ${t.rooms} AS r (room, dm_a, dm_b) VALUES ($1, $2, $3)
         ON CONFLICT (room) DO UPDATE SET room = r.room`,
        [room, direct?.[0] ?? null, direct?.[1] ?? null],
      );
    }
    const slots = [...fresh.values()];
    const changes = slots.filter((x) => isChange(x.draft));
    const targets =
      changes.length > 0 ? await readTargets(client, changes) : new Map<string, Target>();
    if (rooms.length > 0) {
      const res = await client.query<{ room: string; last_seq: string | null }>(
        `SELECT k.room, (SELECT max(seq) FROM ${t.messages} m WHERE m.room = k.room) AS last_seq
           FROM unnest($1::text[]) AS k(room)`,
        [rooms],
      );
      const lastOf = new Map(res.rows.map((r) => [r.room, Number(r.last_seq ?? 0)]));
      for (const room of rooms) {
        const last = lastOf.get(room);
        if (last === undefined || !Number.isSafeInteger(last)) {
          throw new Error(`room ${room}: no sequence number`);
        }
      }
      // In batch order: a change is judged on its target as the entries before it left it, and
      // a refused one takes no number.
      for (const slot of slots) {
        const d = slot.draft;
        if (isChange(d)) {
          const target = targets.get(targetKey(d.room, d.target));
          slot.verdict = judge(d, target);
          slot.authorId = target?.senderId ?? null;
          if ('refused' in slot.verdict) continue;
          if (target) applyVerdict(target, slot.verdict, d.fromId);
        }
        slot.seq = (lastOf.get(d.room) ?? 0) + 1;
        lastOf.set(d.room, slot.seq);
        if (!isChange(d)) {
          targets.set(targetKey(d.room, slot.seq), {
            senderId: d.fromId,
            ts: now,
            removed: false,
            reactions: new Map(),
          });
        }
      }
    }

    // 4. All new entries in one statement, then what the changes do to their messages.
    const written = slots.filter((x) => !(x.verdict && 'refused' in x.verdict));
    if (written.length > 0) {
      const col = <T>(f: (d: Draft, v: Verdict | undefined) => T) =>
        written.map((x) => f(x.draft, x.verdict));
      await client.query(
        `INSERT INTO ${t.messages} (${COLUMNS})
         SELECT *, false FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                              $6::boolean[], $7::bigint[], $8::text[], $9::text[], $10::bigint[],
                              $11::text[], $12::boolean[], $13::bigint[], $14::bigint[])`,
        [
          col((d) => d.room),
          written.map((x) => x.seq),
          col((d) => d.cid),
          col((d) => d.from),
          col((d, v) =>
            isChange(d) ? (v && 'kind' in v && v.kind === 'edit' ? v.text : '') : d.text,
          ),
          col((d) => (isChange(d) ? false : d.me)),
          written.map(() => now),
          col((d) => d.fromId),
          col((d) => (isChange(d) ? d.kind : 'message')),
          col((d) => (isChange(d) ? d.target : null)),
          col((_d, v) => (v && 'kind' in v && v.kind === 'reaction' ? v.emoji : null)),
          col((_d, v) => (v && 'kind' in v && v.kind === 'reaction' ? v.on : null)),
          col((d) => (isChange(d) ? null : (d.replyTo ?? null))),
          written.map(() => null),
        ],
      );
      await applyChanges(client, written, now);
    }

    return plan.map((p): Committed | ChangeOutcome => {
      if ('stored' in p) {
        const { row, authorId } = p.stored;
        return isChange(p.draft)
          ? { entry: toEntry(row), duplicate: true, authorId }
          : { message: toMessage(row), duplicate: true, actorId: row.sender_id };
      }
      const { slot } = p;
      const d = slot.draft;
      if (isChange(d)) {
        const v = slot.verdict;
        if (!v || 'refused' in v) return { refused: v ? v.refused : 'NO_SUCH_MESSAGE' };
        return {
          entry: changeRow(d, v, slot.seq, now),
          duplicate: p.duplicate,
          authorId: slot.authorId ?? null,
        };
      }
      const message: ChatMessage = {
        room: d.room,
        seq: slot.seq,
        from: d.from,
        text: d.text,
        ts: now,
        cid: d.cid,
        me: d.me,
      };
      if (d.replyTo !== undefined) message.replyTo = d.replyTo;
      return { message, duplicate: p.duplicate, actorId: d.fromId };
    });
  }

  /** The messages the changes act on, as they stand, with their reactions where needed. */
  async function readTargets(
    client: pg.PoolClient,
    changes: readonly Slot[],
  ): Promise<Map<string, Target>> {
    const ds = changes.map((x) => x.draft as ChangeDraft);
    const res = await client.query<{
      room: string;
      seq: string;
      sender_id: string | null;
      ts: string;
      removed: boolean;
    }>(
      `SELECT m.room, m.seq, m.sender_id, m.ts, m.removed FROM ${t.messages} m
         JOIN unnest($1::text[], $2::bigint[]) AS k(room, seq) ON m.room = k.room AND m.seq = k.seq
        WHERE m.kind = 'message'`,
      [ds.map((d) => d.room), ds.map((d) => d.target)],
    );
    const out = new Map<string, Target>();
    for (const r of res.rows) {
      out.set(targetKey(r.room, Number(r.seq)), {
        senderId: r.sender_id,
        ts: Number(r.ts),
        removed: r.removed,
        reactions: new Map(),
      });
    }
    const reacting = ds.filter((d) => d.kind === 'reaction');
    if (reacting.length > 0) {
      const rs = await client.query<{ room: string; seq: string; emoji: string; user_id: string }>(
        `SELECT r.room, r.seq, r.emoji, r.user_id FROM ${t.reactions} r
           JOIN (SELECT DISTINCT * FROM unnest($1::text[], $2::bigint[])) AS k(room, seq)
             ON r.room = k.room AND r.seq = k.seq
          ORDER BY r.entry_seq`,
        [reacting.map((d) => d.room), reacting.map((d) => d.target)],
      );
      for (const r of rs.rows) {
        const target = out.get(targetKey(r.room, Number(r.seq)));
        if (!target) continue;
        const by = target.reactions.get(r.emoji) ?? new Set<string>();
        by.add(r.user_id);
        target.reactions.set(r.emoji, by);
      }
    }
    return out;
  }

  /** Edits, removals and reactions applied to their messages: a few statements a batch. */
  async function applyChanges(
    client: pg.PoolClient,
    written: readonly Slot[],
    now: number,
  ): Promise<void> {
    const edits = new Map<string, { room: string; seq: number; text: string }>();
    const removals = new Map<string, { room: string; seq: number }>();
    const reactions = new Map<
      string,
      {
        room: string;
        seq: number;
        emoji: string;
        userId: string;
        name: string;
        on: boolean;
        entrySeq: number;
      }
    >();
    for (const x of written) {
      const d = x.draft;
      const v = x.verdict;
      if (!isChange(d) || !v || 'refused' in v) continue;
      const at = targetKey(d.room, d.target);
      if (v.kind === 'edit') edits.set(at, { room: d.room, seq: d.target, text: v.text });
      else if (v.kind === 'delete') removals.set(at, { room: d.room, seq: d.target });
      else {
        reactions.set(JSON.stringify([d.room, d.target, v.emoji, d.fromId]), {
          room: d.room,
          seq: d.target,
          emoji: v.emoji,
          userId: d.fromId,
          name: d.from,
          on: v.on,
          entrySeq: x.seq,
        });
      }
    }
    if (edits.size > 0) {
      const e = [...edits.values()];
      await client.query(
        `UPDATE ${t.messages} m SET body = u.body, edited_at = $4
           FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(room, seq, body)
          WHERE m.room = u.room AND m.seq = u.seq`,
        [e.map((x) => x.room), e.map((x) => x.seq), e.map((x) => x.text), now],
      );
    }
    if (reactions.size > 0) {
      const r = [...reactions.values()];
      await client.query(
        `DELETE FROM ${t.reactions} x USING unnest($1::text[], $2::bigint[], $3::text[], $4::text[])
           AS u(room, seq, emoji, user_id)
          WHERE x.room = u.room AND x.seq = u.seq AND x.emoji = u.emoji AND x.user_id = u.user_id`,
        [r.map((x) => x.room), r.map((x) => x.seq), r.map((x) => x.emoji), r.map((x) => x.userId)],
      );
      const on = r.filter((x) => x.on);
      if (on.length > 0) {
        await client.query(
          `INSERT INTO ${t.reactions} (room, seq, emoji, user_id, name, entry_seq)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[])`,
          [
            on.map((x) => x.room),
            on.map((x) => x.seq),
            on.map((x) => x.emoji),
            on.map((x) => x.userId),
            on.map((x) => x.name),
            on.map((x) => x.entrySeq),
          ],
        );
      }
    }
    if (removals.size > 0) {
      // A removal purges the text, its edits' too, and the reactions: a placeholder is left.
      const rm = [...removals.values()];
      const args = [rm.map((x) => x.room), rm.map((x) => x.seq)];
      await client.query(
        `UPDATE ${t.messages} m SET body = '', removed = true, edited_at = NULL
           FROM unnest($1::text[], $2::bigint[]) AS u(room, seq)
          WHERE m.room = u.room AND m.seq = u.seq`,
        args,
      );
      await client.query(
        `UPDATE ${t.messages} m SET body = ''
           FROM unnest($1::text[], $2::bigint[]) AS u(room, seq)
          WHERE m.room = u.room AND m.target = u.seq AND m.kind = 'edit'`,
        args,
      );
      await client.query(
        `DELETE FROM ${t.reactions} x USING unnest($1::text[], $2::bigint[]) AS u(room, seq)
          WHERE x.room = u.room AND x.seq = u.seq`,
        args,
      );
    }
  }

  function open(): void {
    if (closed) throw new Error('the PostgreSQL store is closed');
  }

  async function lastSeqOf(room: string): Promise<number> {
    const res = await pool.query<{ last_seq: string | null }>(
      `SELECT max(seq) AS last_seq FROM ${t.messages} WHERE room = $1`,
      [room],
    );
    return Number(res.rows[0]?.last_seq ?? 0);
  }

  async function reactionsOf(room: string, seqs: readonly number[]) {
    if (seqs.length === 0)
      return new Map<number, { emoji: string; count: number; by: string[] }[]>();
    const res = await pool.query<{ seq: string; emoji: string; name: string }>(
      `SELECT seq, emoji, name FROM ${t.reactions}
        WHERE room = $1 AND seq = ANY($2::bigint[]) ORDER BY seq, entry_seq`,
      [room, [...seqs]],
    );
    return summarize(res.rows.map((r) => ({ seq: Number(r.seq), emoji: r.emoji, name: r.name })));
  }
  const search = postgresSearch(pool, t.messages);

  return {
    ...postgresDirectory({ pool, s, inTransaction, open }),
    ...postgresMarkers(pool, `${s}.read_markers`, open),
    description,
    instanceSecret,
    append: (async (drafts: readonly Draft[], now: number) => {
      open();
      drafts.forEach(checkDraft);
      if (drafts.length === 0) return [];
      return inTransaction((client) => appendOnce(client, drafts, now));
    }) as Log['append'],
    async message(room, seq) {
      open();
      const res = await pool.query<Row>(
        `SELECT ${COLUMNS} FROM ${t.messages} WHERE room = $1 AND seq = $2 AND kind = 'message'`,
        [room, seq],
      );
      const row = res.rows[0];
      return row ? { message: toMessage(row), senderId: row.sender_id } : null;
    },
    async changed(room, since, before, scan) {
      open();
      // The last number first: the scan stops there, so `upTo` claims no entry it did not see.
      const last = await lastSeqOf(room);
      const res = await pool.query<{ seq: string; target: string }>(
        `SELECT seq, target FROM ${t.messages}
          WHERE room = $1 AND seq > $2 AND seq <= $4 AND kind <> 'message' ORDER BY seq LIMIT $3`,
        [room, since, scan, last],
      );
      const targets = [...new Set(res.rows.map((r) => Number(r.target)))].filter((x) => x < before);
      const rows =
        targets.length === 0
          ? []
          : (
              await pool.query<Row>(
                `SELECT ${COLUMNS} FROM ${t.messages}
                  WHERE room = $1 AND seq = ANY($2::bigint[]) AND kind = 'message' ORDER BY seq`,
                [room, targets],
              )
            ).rows;
      const reactions = await reactionsOf(room, targets);
      const messages = rows.map((r) => {
        const m = toReaderMessage(r);
        const x = reactions.get(m.seq);
        if (x) m.reactions = x;
        return m;
      });
      const more = res.rows.length === scan;
      const upTo = more ? Number(res.rows.at(-1)?.seq ?? since) : Math.max(since, last);
      return { messages, upTo, more };
    },
    reactions: (room, seqs) => {
      open();
      return reactionsOf(room, seqs);
    },
    async after(room, after, limit) {
      open();
      const res = await pool.query<Row>(
        `SELECT ${COLUMNS} FROM ${t.messages} WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [room, after, limit],
      );
      return res.rows.map(toEntry);
    },
    async before(room, before, limit) {
      open();
      const res = await pool.query<Row>(
        `SELECT ${COLUMNS} FROM ${t.messages} WHERE room = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
        [room, before, limit],
      );
      return res.rows.map(toEntry).reverse();
    },
    search(query) {
      open();
      return search(query);
    },
    async lastSeq(room) {
      open();
      return lastSeqOf(room);
    },
    async rooms() {
      open();
      // COLLATE "C" orders by code point, as SQLite does, whatever the database's locale.
      const res = await pool.query<{ room: string; last_seq: string | null; ts: string | null }>(
        `SELECT r.room, m.seq AS last_seq, m.ts FROM ${t.rooms} r
           LEFT JOIN ${t.messages} m ON m.room = r.room
             AND m.seq = (SELECT max(seq) FROM ${t.messages} l WHERE l.room = r.room)
           WHERE r.dm_a IS NULL ORDER BY r.room COLLATE "C"`,
      );
      return res.rows.map((r) => ({
        room: r.room,
        lastSeq: Number(r.last_seq ?? 0),
        lastTs: Number(r.ts ?? 0),
      }));
    },
    async directRooms(userId) {
      open();
      // The other participant's latest name is the one its labels show.
      const res = await pool.query<{ room: string; peer: string; peer_key: string | null }>(
        `SELECT d.room, d.peer,
                (SELECT n.key FROM ${t.names} n WHERE n.user_id = d.peer
                  ORDER BY n.created_at DESC, n.key COLLATE "C" LIMIT 1) AS peer_key
           FROM (SELECT room, CASE WHEN dm_a = $1 THEN dm_b ELSE dm_a END AS peer
                   FROM ${t.rooms} WHERE dm_a = $1 OR dm_b = $1) d
          ORDER BY d.room COLLATE "C"`,
        [userId],
      );
      return res.rows.map((r) => ({ room: r.room, peer: r.peer, peerKey: r.peer_key }));
    },
    async directRoom(a, b) {
      open();
      const res = await pool.query<{ room: string }>(
        `SELECT room FROM ${t.rooms} WHERE (dm_a = $1 AND dm_b = $2) OR (dm_a = $2 AND dm_b = $1)
          ORDER BY room COLLATE "C" LIMIT 1`,
        [a, b],
      );
      return res.rows[0]?.room ?? null;
    },
    async directPair(room) {
      open();
      const res = await pool.query<{ dm_a: string; dm_b: string }>(
        `SELECT dm_a, dm_b FROM ${t.rooms}
          WHERE room = $1 AND dm_a IS NOT NULL AND dm_b IS NOT NULL`,
        [room],
      );
      const r = res.rows[0];
      return r ? [r.dm_a, r.dm_b] : null;
    },
    async claimName(key, skeleton, tokenHash, now) {
      open();
      return inTransaction(async (client) => {
        // Two nodes claiming look-alikes at once: the lock on the skeleton puts one after the other.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
          `parley:name:${skeleton}`,
        ]);
        const res = await client.query<{ token_hash: string }>(
          `SELECT token_hash FROM ${t.names} WHERE key = $1`,
          [key],
        );
        const row = res.rows[0];
        if (row) return row.token_hash === tokenHash ? 'owned' : 'reserved';
        const other = await client.query(
          `SELECT 1 FROM ${t.names} WHERE skeleton = $1 AND token_hash <> $2 LIMIT 1`,
          [skeleton, tokenHash],
        );
        if (other.rowCount !== 0) return 'confusable';
        // The token's other names are the same person's: a rename keeps the user id.
        const same = await client.query<{ user_id: string }>(
          `SELECT user_id FROM ${t.names} WHERE token_hash = $1 LIMIT 1`,
          [tokenHash],
        );
        // Names are never released; a claim of the same key that won meanwhile is a conflict.
        const ins = await client.query(
          `INSERT INTO ${t.names} (key, token_hash, created_at, skeleton, user_id)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING key`,
          [key, tokenHash, now, skeleton, same.rows[0]?.user_id ?? newUserId()],
        );
        if (ins.rowCount === 1) return 'claimed';
        const again = await client.query<{ token_hash: string }>(
          `SELECT token_hash FROM ${t.names} WHERE key = $1`,
          [key],
        );
        return again.rows[0]?.token_hash === tokenHash ? 'owned' : 'reserved';
      });
    },
    async nameUser(key) {
      open();
      const res = await pool.query<{ user_id: string }>(
        `SELECT user_id FROM ${t.names} WHERE key = $1`,
        [key],
      );
      return res.rows[0]?.user_id ?? null;
    },
    async nameExists(key) {
      open();
      const res = await pool.query(`SELECT 1 FROM ${t.names} WHERE key = $1`, [key]);
      return res.rowCount === 1;
    },
    async nameHolder(key) {
      open();
      const res = await pool.query<{ token_hash: string }>(
        `SELECT token_hash FROM ${t.names} WHERE key = $1`,
        [key],
      );
      // Names reserved to a user id rather than a token keep '' for a token hash.
      return res.rows[0]?.token_hash || null;
    },
    async ping() {
      open();
      await pool.query('SELECT 1');
    },
    async close() {
      // The pool belongs to the caller, who ends it (openStore does); this store just stops.
      closed = true;
    },
  };
}
