// Full-text search in SQLite: an FTS5 index with the trigram tokenizer (substrings, case aside,
// in any script: Chinese and Japanese have no spaces between words), kept by triggers on the
// messages table, so that an insert, an edit of the text, an emptied text and a deleted row
// change the index in the same transaction.

import type Database from 'better-sqlite3';
import { INDEXED_TERM_CHARS, codePoints, containsAll } from '../core/search-terms.js';
import {
  SEARCH_CANDIDATES,
  SEARCH_SCAN_PER_ROOM,
  type SearchHit,
  type SearchQuery,
} from '../core/ports.js';

/** Schema step 8; it indexes the messages already stored. */
export const SEARCH_INDEX_SQL = `
CREATE TABLE message_docs (
  id INTEGER PRIMARY KEY,
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  UNIQUE (room, seq)
) STRICT;
CREATE VIEW message_text AS
  SELECT d.id AS id, m.body AS body FROM message_docs d
  JOIN messages m ON m.room = d.room AND m.seq = d.seq
  WHERE m.body <> '' AND m.kind = 'message';
CREATE VIRTUAL TABLE message_search USING fts5(
  body, content = 'message_text', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
  INSERT INTO message_docs (room, seq) VALUES (NEW.room, NEW.seq);
  INSERT INTO message_search (rowid, body)
    SELECT d.id, NEW.body FROM message_docs d
    WHERE d.room = NEW.room AND d.seq = NEW.seq AND NEW.body <> '' AND NEW.kind = 'message';
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF body ON messages BEGIN
  INSERT INTO message_search (message_search, rowid, body)
    SELECT 'delete', d.id, OLD.body FROM message_docs d
    WHERE d.room = OLD.room AND d.seq = OLD.seq AND OLD.body <> '' AND OLD.kind = 'message';
  INSERT INTO message_search (rowid, body)
    SELECT d.id, NEW.body FROM message_docs d
    WHERE d.room = NEW.room AND d.seq = NEW.seq AND NEW.body <> '' AND NEW.kind = 'message';
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
  INSERT INTO message_search (message_search, rowid, body)
    SELECT 'delete', d.id, OLD.body FROM message_docs d
    WHERE d.room = OLD.room AND d.seq = OLD.seq AND OLD.body <> '' AND OLD.kind = 'message';
  DELETE FROM message_docs WHERE room = OLD.room AND seq = OLD.seq;
END;
INSERT INTO message_docs (room, seq) SELECT room, seq FROM messages ORDER BY ts, room, seq;
INSERT INTO message_search (message_search) VALUES ('rebuild');
`;

interface Params {
  rooms: string;
  short?: string;
  limit: number;
  offset: number;
  match?: string;
}

interface HitRow {
  room: string;
  seq: number;
  sender: string;
  body: string;
  ts: number;
  me: number;
}

/**
 * An FTS5 query of literal strings only: each term a quoted string with its quotes doubled, so
 * no input is ever read as FTS5 syntax.
 */
export function ftsMatch(terms: readonly string[]): string {
  return terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' ');
}

/** The search of a SQLite store. */
export function sqliteSearch(
  db: Database.Database,
): (q: SearchQuery) => { hits: SearchHit[]; more: boolean } {
  // The terms the index cannot hold are checked on the text, with the same folding as the
  // core's, so both stores agree on what matches.
  db.function('parley_contains_all', { deterministic: true }, (body: unknown, terms: unknown) =>
    containsAll(String(body), JSON.parse(String(terms)) as string[]) ? 1 : 0,
  );
  // The newest matches first from the index (its rowids are in the order written), in the
  // reader's rooms only, before any limit: a page never depends on rooms the reader cannot read.
  // They are ranked, and the page's messages read last.
  const ranked = db.prepare<[Params], HitRow>(`
SELECT m.room, m.seq, m.sender, m.body, m.ts, m.me FROM (
  SELECT room, seq, id, score FROM (
    SELECT d.room, d.seq, f.rowid AS id, bm25(message_search) AS score
    FROM message_search f
    CROSS JOIN message_docs d ON d.id = f.rowid
    WHERE message_search MATCH @match AND d.room IN (SELECT value FROM json_each(@rooms))
    ORDER BY f.rowid DESC LIMIT ${SEARCH_CANDIDATES}
  ) ORDER BY score, id DESC LIMIT @limit OFFSET @offset
) c CROSS JOIN messages m ON m.room = c.room AND m.seq = c.seq
ORDER BY c.score, c.id DESC`);
  // Short terms too: those are checked on the text, before the candidates are counted.
  const rankedShort = db.prepare<[Params], HitRow>(`
SELECT room, seq, sender, body, ts, me FROM (
  SELECT m.room, m.seq, m.sender, m.body, m.ts, m.me, f.rowid AS id, bm25(message_search) AS score
  FROM message_search f
  CROSS JOIN message_docs d ON d.id = f.rowid
  CROSS JOIN messages m ON m.room = d.room AND m.seq = d.seq
  WHERE message_search MATCH @match
    AND d.room IN (SELECT value FROM json_each(@rooms))
    AND parley_contains_all(m.body, @short)
  ORDER BY f.rowid DESC LIMIT ${SEARCH_CANDIDATES}
) ORDER BY score, id DESC LIMIT @limit OFFSET @offset`);
  const scanned = db.prepare<[Params], HitRow>(`
SELECT m.room, m.seq, m.sender, m.body, m.ts, m.me
FROM json_each(@rooms) r
CROSS JOIN messages m ON m.room = r.value
  AND m.seq > (SELECT coalesce(max(seq), 0) FROM messages l WHERE l.room = r.value) - ${SEARCH_SCAN_PER_ROOM}
WHERE m.kind = 'message' AND m.body <> '' AND parley_contains_all(m.body, @short)
ORDER BY m.ts DESC, m.room, m.seq DESC LIMIT @limit OFFSET @offset`);
  return (q) => {
    if (q.terms.length === 0 || q.rooms.length === 0) return { hits: [], more: false };
    const rooms = JSON.stringify([...new Set(q.rooms)]);
    const indexed = q.terms.filter((t) => codePoints(t) >= INDEXED_TERM_CHARS);
    const shortTerms = q.terms.filter((t) => codePoints(t) < INDEXED_TERM_CHARS);
    const params = { rooms, limit: q.limit + 1, offset: q.offset };
    const short = { ...params, short: JSON.stringify(shortTerms) };
    const rows =
      indexed.length === 0
        ? scanned.all(short)
        : shortTerms.length === 0
          ? ranked.all({ ...params, match: ftsMatch(indexed) })
          : rankedShort.all({ ...short, match: ftsMatch(indexed) });
    return {
      hits: rows.slice(0, q.limit).map((r) => ({
        room: r.room,
        seq: r.seq,
        from: r.sender,
        text: r.body,
        ts: r.ts,
        me: r.me === 1,
      })),
      more: rows.length > q.limit,
    };
  };
}
