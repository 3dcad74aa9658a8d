// Read markers in both stores. A write only ever raises a marker, in the statement itself, so
// that two nodes (or a batch that crossed a newer one) can never move it back.

import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { MarkerWrite, Markers } from '../core/ports.js';

/** One write per marker, the highest, in key order (two nodes' batches lock rows alike). */
function highest(writes: readonly MarkerWrite[]): MarkerWrite[] {
  const byKey = new Map<string, MarkerWrite>();
  for (const w of writes) {
    const key = `${w.userId} ${w.room}`;
    const had = byKey.get(key);
    if (!had || w.seq > had.seq) byKey.set(key, w);
  }
  return [...byKey.values()].sort((a, b) =>
    a.userId === b.userId ? (a.room < b.room ? -1 : 1) : a.userId < b.userId ? -1 : 1,
  );
}

export function sqliteMarkers(
  db: Database.Database,
  later: <T>(f: () => T) => Promise<T>,
): Markers {
  const get = db.prepare<[string, string], { room: string; seq: number }>(
    'SELECT room, seq FROM read_markers WHERE user_id = ? ' +
      'AND room IN (SELECT value FROM json_each(?))',
  );
  // A join asks for one room's marker: a point read, without the JSON list.
  const one = db.prepare<[string, string], { seq: number }>(
    'SELECT seq FROM read_markers WHERE user_id = ? AND room = ?',
  );
  const put = db.prepare<[string, string, number, number]>(
    'INSERT INTO read_markers (user_id, room, seq, updated_at) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (user_id, room) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at ' +
      'WHERE excluded.seq > read_markers.seq',
  );
  const save = db.transaction((writes: MarkerWrite[]) => {
    for (const w of writes) put.run(w.userId, w.room, w.seq, w.at);
  });
  return {
    markers: (userId, rooms) =>
      later(() => {
        const [first] = rooms;
        if (first === undefined) return new Map<string, number>();
        if (rooms.length === 1) {
          const r = one.get(userId, first);
          return new Map(r ? [[first, r.seq]] : []);
        }
        return new Map(get.all(userId, JSON.stringify(rooms)).map((r) => [r.room, r.seq]));
      }),
    saveMarkers: (writes) =>
      later(() => {
        if (writes.length > 0) save.immediate(highest(writes));
      }),
  };
}

export function postgresMarkers(
  pool: pg.Pool,
  /** The table, with its schema, quoted. */
  table: string,
  open: () => void,
): Markers {
  return {
    async markers(userId, rooms) {
      open();
      if (rooms.length === 0) return new Map<string, number>();
      const res = await pool.query<{ room: string; seq: string }>(
        `SELECT room, seq FROM ${table} WHERE user_id = $1 AND room = ANY($2::text[])`,
        [userId, [...rooms]],
      );
      return new Map(res.rows.map((r) => [r.room, Number(r.seq)]));
    },
    async saveMarkers(writes) {
      open();
      const rows = highest(writes);
      if (rows.length === 0) return;
      await pool.query(
        `INSERT INTO ${table} AS r (user_id, room, seq, updated_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
         ON CONFLICT (user_id, room) DO UPDATE SET seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at
         WHERE EXCLUDED.seq > r.seq`,
        [
          rows.map((w) => w.userId),
          rows.map((w) => w.room),
          rows.map((w) => w.seq),
          rows.map((w) => w.at),
        ],
      );
    },
  };
}
