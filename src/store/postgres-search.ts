// Full-text search in PostgreSQL: every term an ILIKE pattern (escaped: the text is literal),
// served by the pg_trgm index for terms of 3 characters or more; ranked by how often the terms
// come in how short a text, among the newest matches (ports.ts: the bounds of a search).

import type pg from 'pg';
import { INDEXED_TERM_CHARS, codePoints } from '../core/search-terms.js';
import {
  SEARCH_CANDIDATES,
  SEARCH_SCAN_PER_ROOM,
  type SearchHit,
  type SearchQuery,
} from '../core/ports.js';

interface HitRow {
  room: string;
  seq: string;
  sender: string;
  body: string;
  ts: string;
  me: boolean;
}

/** A LIKE pattern that matches the term anywhere, its own %, _ and \ taken literally. */
export function likePattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function postgresSearch(
  pool: pg.Pool,
  messages: string,
): (q: SearchQuery) => Promise<{ hits: SearchHit[]; more: boolean }> {
  // Occurrences of each term per character of text, a little smoothed: short texts that say
  // the terms often come first.
  const score = `(SELECT sum((length(lower(c.body)) - length(replace(lower(c.body), t, ''))) / length(t))
    FROM unnest($2::text[]) AS t) / (1 + length(c.body) / 100.0)`;
  // One ILIKE per term, from $first on: the trigram index serves each (an ILIKE ALL of an array
  // it does not).
  const likes = (n: number, first: number) =>
    Array.from({ length: n }, (_, i) => `body ILIKE $${first + i}`).join(' AND ');
  const ranked = (n: number) => `
SELECT room, seq, sender, body, ts, me FROM (
  SELECT room, seq, sender, body, ts, me FROM ${messages}
  WHERE room = ANY($1::text[]) AND kind = 'message' AND body <> '' AND ${likes(n, 5)}
  ORDER BY ts DESC, room, seq DESC LIMIT ${SEARCH_CANDIDATES}
) c ORDER BY ${score} DESC, c.ts DESC, c.room, c.seq DESC LIMIT $3 OFFSET $4`;
  const scanned = (n: number) => `
SELECT m.room, m.seq, m.sender, m.body, m.ts, m.me
FROM unnest($1::text[]) AS r(room)
CROSS JOIN LATERAL (SELECT coalesce(max(seq), 0) AS last FROM ${messages} l WHERE l.room = r.room) l
JOIN ${messages} m ON m.room = r.room AND m.seq > l.last - ${SEARCH_SCAN_PER_ROOM}
WHERE m.kind = 'message' AND m.body <> '' AND ${likes(n, 4).replaceAll('body', 'm.body')}
ORDER BY m.ts DESC, m.room, m.seq DESC LIMIT $2 OFFSET $3`;
  return async (q) => {
    if (q.terms.length === 0 || q.rooms.length === 0) return { hits: [], more: false };
    const rooms = [...new Set(q.rooms)];
    const patterns = q.terms.map(likePattern);
    const indexed = q.terms.some((t) => codePoints(t) >= INDEXED_TERM_CHARS);
    const n = patterns.length;
    const res = indexed
      ? await pool.query<HitRow>(ranked(n), [rooms, q.terms, q.limit + 1, q.offset, ...patterns])
      : await pool.query<HitRow>(scanned(n), [rooms, q.limit + 1, q.offset, ...patterns]);
    return {
      hits: res.rows.slice(0, q.limit).map((r) => ({
        room: r.room,
        seq: Number(r.seq),
        from: r.sender,
        text: r.body,
        ts: Number(r.ts),
        me: r.me,
      })),
      more: res.rows.length > q.limit,
    };
  };
}
