// Picks the message store from a URL, as given by `--store`:
//   sqlite:./data/parley.db   (or a bare path, or sqlite::memory:)  the embedded default
//   postgres://user@host:5432/db[?schema=name]                      the cluster store
// The store owns what it opens here: close() also ends the PostgreSQL pool.

import { openPostgresStore } from './postgres.js';
import { openSqliteStore, type Synchronous } from './sqlite.js';
import type { MessageStore } from './types.js';
import { redactUrl, schemeOf } from '../shared/url.js';

export interface OpenStoreOptions {
  /** SQLite's durability setting; NORMAL unless told otherwise. */
  sqliteSynchronous?: Synchronous;
  /** PostgreSQL: longest a connection, a statement or a wait for a reply may take. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

export async function openStore(
  url: string,
  options: OpenStoreOptions = {},
): Promise<MessageStore> {
  const sync = options.sqliteSynchronous ?? 'NORMAL';
  const scheme = schemeOf(url);
  // A one-letter "scheme" is a Windows drive (C:\data\parley.db): a bare path.
  if (scheme === undefined || scheme.length === 1) return openSqliteStore(url, sync);
  if (scheme === 'sqlite') return openSqliteStore(sqlitePath(url), sync);
  if (scheme === 'postgres' || scheme === 'postgresql') {
    return openPostgresUrl(url, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }
  throw new Error(
    `unknown store URL scheme "${scheme}:" in ${redactUrl(url)}: use sqlite:PATH (or a bare path) ` +
      'or postgres://user@host:5432/database',
  );
}

function sqlitePath(url: string): string {
  // sqlite:./data/parley.db, sqlite:/abs/parley.db, sqlite:///abs/parley.db, sqlite::memory:
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '')
    throw new Error('store URL sqlite: needs a file path, e.g. sqlite:./data/parley.db');
  return path;
}

async function openPostgresUrl(url: string, timeoutMs: number): Promise<MessageStore> {
  // `schema` is ours, not a libpq parameter: take it out before node-postgres reads the URL.
  let connectionString = url;
  let schema: string | undefined;
  if (/[?&]schema=/.test(url)) {
    const parsed = new URL(url);
    schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    connectionString = parsed.toString();
  }
  // Without timeouts a server that stops answering (paused, or packets dropped) holds every
  // query forever, and the sends behind it. The client gives up on a connection or a reply after
  // timeoutMs; the server ends a statement that runs, or a lock wait, that long, and a
  // transaction whose client has gone quiet, so its row locks do not hold up the other nodes.
  // Loaded only for PostgreSQL: on SQLite it would be a sixth of the start-up, which a restart
  // with everyone waiting to reconnect pays.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    idle_in_transaction_session_timeout: 2 * timeoutMs,
    keepAlive: true,
  });
  // An idle connection that breaks (server restart, network) is dropped by the pool, and the next
  // query opens a new one; without a listener the 'error' event would end the process.
  pool.on('error', () => {});
  let store: MessageStore;
  try {
    store = await openPostgresStore(pool, schema === undefined ? {} : { schema });
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return {
    ...store,
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
