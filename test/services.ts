// The local services the cluster tests need. A missing service fails the test with what to do
// about it; it never turns into a skipped test that looks green.

import { Redis } from 'ioredis';
import pg from 'pg';

export const POSTGRES_URL =
  process.env.PARLEY_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.PARLEY_TEST_REDIS ?? 'redis://127.0.0.1:6379';

const TIMEOUT_MS = 3000;

function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith('redis') ? '6379' : '5432')}`;
  } catch {
    return url;
  }
}

function reason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return reason(err.errors[0]);
  return err instanceof Error ? err.message || err.name : String(err);
}

/** A fresh pool on the test database; the caller ends it. */
export function postgresPool(max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString: POSTGRES_URL,
    max,
    connectionTimeoutMillis: TIMEOUT_MS,
  });
  pool.on('error', () => {});
  return pool;
}

/** A pool that has answered a query, or an Error that says how to start PostgreSQL. */
export async function requirePostgres(max = 10): Promise<pg.Pool> {
  const pool = postgresPool(max);
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (err) {
    await pool.end().catch(() => {});
    throw new Error(
      `PostgreSQL is not reachable at ${where(POSTGRES_URL)} (${reason(err)}): run .ci/run, ` +
        'which starts it, or `pg_ctlcluster 15 main start` (then `createdb -U postgres test` ' +
        'if the database is missing); set PARLEY_TEST_POSTGRES to use another server',
      { cause: err },
    );
  }
}

/** A Redis client that fails fast instead of retrying; the caller ends it. */
export function redisClient(url = REDIS_URL): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  return client;
}

/** A connected Redis client, or an Error that says how to start Redis. */
export async function requireRedis(): Promise<Redis> {
  const client = redisClient();
  // connect() rejects with a bare "Connection is closed."; the cause comes as an 'error' event.
  let socketError: unknown;
  client.on('error', (err) => (socketError = err));
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (err) {
    // An ended client is left alone: disconnect() would arm a 2 s timer on its dead socket.
    if (client.status !== 'end') client.disconnect();
    throw new Error(
      `Redis is not reachable at ${where(REDIS_URL)} (${reason(socketError ?? err)}): run .ci/run, which starts ` +
        'it, or `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""`; ' +
        'set PARLEY_TEST_REDIS to use another server',
      { cause: err },
    );
  }
}

/** A short random suffix for schema and channel names, so runs never share state. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
