// PostgreSQL and Redis for the cluster scenario: whether they answer, and a fresh schema and
// channel for each side, dropped at its end (and those of runs that were killed).

import { Redis } from 'ioredis';
import pg from 'pg';
import { reason } from './format.js';
import type { Options } from './options.js';

function hostPort(url: string, port: number): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || port}`;
  } catch {
    return url;
  }
}

function pgPool(opts: Options): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.postgres,
    max: 1,
    connectionTimeoutMillis: 3000,
  });
  pool.on('error', () => undefined);
  return pool;
}

/** Runs fn on a one-connection pool to opts.postgres, then ends the pool. */
async function withPostgres<T>(opts: Options, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = pgPool(opts);
  try {
    return await fn(pool);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Resolves when PostgreSQL and Redis both answer; otherwise throws what to do about it. */
export async function checkServices(opts: Options): Promise<void> {
  const problems: string[] = [];
  try {
    await withPostgres(opts, (pool) => pool.query('SELECT 1'));
  } catch (err) {
    problems.push(
      `PostgreSQL is not reachable at ${hostPort(opts.postgres, 5432)} (${reason(err)}): start it ` +
        '(.ci/run does, or `pg_ctlcluster 15 main start`, then `createdb -U postgres test` if the ' +
        'database is missing), or pass --postgres URL',
    );
  }
  const redis = new Redis(opts.redis, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let socketError: unknown;
  redis.on('error', (err) => (socketError = err));
  try {
    await redis.connect();
    await redis.ping();
    redis.disconnect();
  } catch (err) {
    if (redis.status !== 'end') redis.disconnect();
    problems.push(
      `Redis is not reachable at ${hostPort(opts.redis, 6379)} (${reason(socketError ?? err)}): ` +
        'start it (.ci/run does, or `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 ' +
        '--save ""`), or pass --redis URL',
    );
  }
  if (problems.length) throw new Error(problems.join('; '));
}

/** Schemas this run created (or is about to), until dropped. */
const pendingSchemas = new Set<string>();
const SCHEMA_PREFIX = 'parley_bench_';

/** A fresh schema and channel for one side of the cluster scenario. */
export function freshBackend(
  opts: Options,
  key: string,
): { schema: string; storeUrl: string; busUrl: string } {
  const stamp = `${process.pid}_${Date.now().toString(36)}`;
  const schema = `${SCHEMA_PREFIX}${stamp}_${key.replace(/\W/g, '_')}`;
  const store = new URL(opts.postgres);
  store.searchParams.set('schema', schema);
  const bus = new URL(opts.redis);
  bus.searchParams.set('channel', `parley-bench:${stamp}:${key}`);
  pendingSchemas.add(schema);
  return { schema, storeUrl: store.toString(), busUrl: bus.toString() };
}

export async function dropSchema(opts: Options, schema: string): Promise<void> {
  await withPostgres(opts, (pool) => pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  pendingSchemas.delete(schema);
}

/** Drops the schemas this run still has (when it is stopped before their sides' end). */
export async function dropPendingSchemas(opts: Options | undefined): Promise<void> {
  if (!opts) return;
  for (const schema of [...pendingSchemas]) await dropSchema(opts, schema).catch(() => undefined);
}

/**
 * Whether a name parley_bench_<pid>_<time>_... (a schema or a database) was made by a run
 * whose process is gone, more than an hour ago (a run of another machine on the same
 * PostgreSQL is left alone).
 */
export function leftByKilledRun(name: string): boolean {
  const m = /^parley_bench_(\d+)_([0-9a-z]+)_/.exec(name);
  if (!m || Number(m[1]) === process.pid) return false;
  if (Date.now() - parseInt(m[2] ?? '', 36) < 3600_000) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Schemas left by runs that were killed: named parley_bench_<pid>_<time>_..., their process gone
 * and older than an hour (so a run of another machine on the same database is left alone).
 */
export async function dropStaleSchemas(opts: Options): Promise<string[]> {
  return withPostgres(opts, async (pool) => {
    const r = await pool.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'parley\\_bench\\_%'",
    );
    const dropped: string[] = [];
    for (const { nspname } of r.rows) {
      if (!leftByKilledRun(nspname)) continue;
      await pool.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
      dropped.push(nspname);
    }
    return dropped;
  });
}
