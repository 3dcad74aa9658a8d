// The instance scenario on a cluster (`--nodes N`): a PostgreSQL database and a Redis of the
// bench's own, made for the run and gone after it (so it never touches anyone else's data), and
// what goes through them in each window: bus messages and bytes through Redis, commits and rows
// in PostgreSQL, and the CPU of both.

import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { leftByKilledRun } from './backends.js';
import { reason } from './format.js';
import { CLK_TCK, readCpu, readServicesCpu, servicesCpuUs } from './proc-stats.js';
import { canConnect, canPin, freePort, sleep, spawnChild } from './processes.js';
import { median } from './stats.js';

/** PostgreSQL as the machine has it: trust authentication, one of these users. */
const PG_HOST = '127.0.0.1:5432';
const PG_USERS = ['postgres', 'root'];
/** Where the bench connects to make and drop its database, and to read the counters. */
const PG_ADMIN_DB = 'test';
const DB_PREFIX = 'parley_bench_';

/** What the counters say at one moment. */
export interface ServicesReading {
  atMs: number;
  redis: {
    commands: number;
    publishes: number;
    inBytes: number;
    outBytes: number;
    inKbps: number;
    outKbps: number;
    /** Subscribers cut off for falling behind (client-output-buffer-limit pubsub). */
    cutOff: number;
    connections: number;
    cpuUs: number;
  };
  pg: {
    commits: number;
    rollbacks: number;
    inserted: number;
    updated: number;
    deleted: number;
    cpu: ReturnType<typeof readServicesCpu>;
  };
}

/** Per second over a window, from two readings. */
export interface ServicesWindow {
  /** Every command Redis ran (the nodes' PUBLISHes, and their pings). */
  redisCommandsPerS: number;
  /** PUBLISH calls: bus messages (one per event, whatever the number of nodes). */
  busMessagesPerS: number;
  /** Bytes into Redis (what the nodes publish) and out of it (each message to every node). */
  busInKiBPerS: number;
  busOutKiBPerS: number;
  /** Redis's own moving average (instantaneous_input_kbps), at the start and the end. */
  redisInKbps: [number, number];
  redisOutKbps: [number, number];
  /** The bench's redis-server, % of one core. */
  redisCpuPct: number;
  /** Nodes' subscriptions Redis cut for falling behind, and connections made, in the window. */
  redisCutOff: number;
  redisConnections: number;
  /** xact_commit of the bench's database (pg_stat_database). */
  pgCommitsPerS: number;
  pgRollbacksPerS: number;
  /** Rows inserted, updated and deleted in it. */
  pgRowsPerS: number;
  /** Every postgres process of the machine (whoever else uses it), % of one core. */
  postgresCpuPct: number;
}

function pgUrl(user: string, db: string): string {
  return `postgres://${user}@${PG_HOST}/${db}`;
}

async function adminClient(): Promise<{ client: pg.Client; user: string }> {
  const problems: string[] = [];
  for (const user of PG_USERS) {
    const client = new pg.Client({
      connectionString: pgUrl(user, PG_ADMIN_DB),
      connectionTimeoutMillis: 3000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return { client, user };
    } catch (e) {
      problems.push(`${user}: ${reason(e)}`);
      await client.end().catch(() => undefined);
    }
  }
  throw new Error(
    `PostgreSQL is not reachable at ${PG_HOST}/${PG_ADMIN_DB} (${problems.join('; ')}): start it ` +
      '(`pg_ctlcluster 15 main start`, then `createdb -U postgres test` if the database is missing)',
  );
}

/**
 * Databases left by runs that were killed: parley_bench_<pid>_<time>_..., their process gone and
 * older than an hour.
 */
async function dropStale(client: pg.Client): Promise<string[]> {
  const r = await client.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'parley\\_bench\\_%'",
  );
  const dropped: string[] = [];
  for (const { datname } of r.rows) {
    if (!leftByKilledRun(datname)) continue;
    await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    dropped.push(datname);
  }
  return dropped;
}

/** The bench's PostgreSQL database and Redis, and the counters of both. */
export class ClusterServices {
  private stopped = false;

  private constructor(
    private readonly admin: pg.Client,
    readonly database: string,
    /** The nodes' --store. */
    readonly storeUrl: string,
    private readonly redisProc: ChildProcess,
    private readonly redis: Redis,
    readonly redisPort: number,
    /** What was cleaned up from killed runs. */
    readonly staleDropped: string[],
  ) {}

  /** The nodes' --bus. */
  get busUrl(): string {
    return `redis://127.0.0.1:${this.redisPort}`;
  }

  get redisPid(): number {
    return this.redisProc.pid ?? 0;
  }

  static async start(): Promise<ClusterServices> {
    const { client, user } = await adminClient();
    let database: string | undefined;
    let proc: ChildProcess | undefined;
    try {
      const stale = await dropStale(client);
      database = `${DB_PREFIX}${process.pid}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
      await client.query(`CREATE DATABASE "${database}"`);
      const port = await freePort();
      // PostgreSQL and Redis float over every core (this program may be pinned to one, and its
      // children would inherit that). No snapshots, no append log.
      const float = canPin ? ['taskset', '-c', `0-${cpus().length - 1}`] : [];
      proc = spawnChild(
        [
          ...float,
          'redis-server',
          ...['--port', String(port), '--bind', '127.0.0.1'],
          ...['--save', '', '--appendonly', 'no'],
        ],
        undefined,
        ['ignore', 'ignore', 'inherit'],
      );
      const redis = await connectRedis(port, proc);
      return new ClusterServices(client, database, pgUrl(user, database), proc, redis, port, stale);
    } catch (e) {
      proc?.kill('SIGKILL');
      if (database)
        await client
          .query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
          .catch(() => undefined);
      await client.end().catch(() => undefined);
      throw e;
    }
  }

  async read(): Promise<ServicesReading> {
    const [stats, commandstats, db] = await Promise.all([
      this.redis.info('stats'),
      this.redis.info('commandstats'),
      this.admin.query<Record<string, string>>(
        'SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted ' +
          'FROM pg_stat_database WHERE datname = $1',
        [this.database],
      ),
    ]);
    const field = (text: string, key: string) =>
      Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
    const row = db.rows[0] ?? {};
    const n = (k: string) => Number(row[k] ?? 0);
    let cpuUs = 0;
    try {
      const c = readCpu(this.redisPid);
      cpuUs = c.userUs + c.sysUs;
    } catch {
      // gone
    }
    return {
      atMs: performance.now(),
      redis: {
        commands: field(stats, 'total_commands_processed'),
        publishes: Number(/^cmdstat_publish:calls=(\d+)/m.exec(commandstats)?.[1] ?? 0),
        inBytes: field(stats, 'total_net_input_bytes'),
        outBytes: field(stats, 'total_net_output_bytes'),
        inKbps: field(stats, 'instantaneous_input_kbps'),
        outKbps: field(stats, 'instantaneous_output_kbps'),
        cutOff: field(stats, 'client_output_buffer_limit_disconnections'),
        connections: field(stats, 'total_connections_received'),
        cpuUs,
      },
      pg: {
        commits: n('xact_commit'),
        rollbacks: n('xact_rollback'),
        inserted: n('tup_inserted'),
        updated: n('tup_updated'),
        deleted: n('tup_deleted'),
        cpu: readServicesCpu(['postgres']),
      },
    };
  }

  /** Stops Redis and drops the database (the nodes must be gone first); once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.redis.disconnect();
    this.redisProc.kill('SIGKILL');
    await this.admin
      .query(`DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`)
      .catch((e: unknown) =>
        console.error(`instance: could not drop database ${this.database}: ${reason(e)}`),
      );
    await this.admin.end().catch(() => undefined);
  }
}

async function connectRedis(port: number, proc: ChildProcess): Promise<Redis> {
  for (let i = 0; i < 250 && proc.exitCode === null; i++) {
    if (await canConnect(port)) {
      const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      redis.on('error', () => undefined);
      await redis.ping();
      return redis;
    }
    await sleep(20);
  }
  throw new Error(`redis-server did not start on port ${port}: is it installed?`);
}

/** Per second between two readings. */
export function servicesWindow(a: ServicesReading, b: ServicesReading): ServicesWindow {
  const s = (b.atMs - a.atMs) / 1000;
  const per = (x: number, y: number) => (y - x) / s;
  return {
    redisCommandsPerS: per(a.redis.commands, b.redis.commands),
    busMessagesPerS: per(a.redis.publishes, b.redis.publishes),
    busInKiBPerS: per(a.redis.inBytes, b.redis.inBytes) / 1024,
    busOutKiBPerS: per(a.redis.outBytes, b.redis.outBytes) / 1024,
    redisInKbps: [a.redis.inKbps, b.redis.inKbps],
    redisOutKbps: [a.redis.outKbps, b.redis.outKbps],
    redisCpuPct: (per(a.redis.cpuUs, b.redis.cpuUs) / 1e6) * 100,
    redisCutOff: b.redis.cutOff - a.redis.cutOff,
    redisConnections: b.redis.connections - a.redis.connections,
    pgCommitsPerS: per(a.pg.commits, b.pg.commits),
    pgRollbacksPerS: per(a.pg.rollbacks, b.pg.rollbacks),
    pgRowsPerS:
      per(a.pg.inserted, b.pg.inserted) +
      per(a.pg.updated, b.pg.updated) +
      per(a.pg.deleted, b.pg.deleted),
    postgresCpuPct: (servicesCpuUs(a.pg.cpu, b.pg.cpu) / 1e6 / s) * 100,
  };
}

/**
 * CPU time of the whole machine in processes (user, nice, system) and taken by its host
 * (steal), µs: what the bench's processes did not use of it was someone else's.
 */
export function machineCpuUs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const ticks = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[7] ?? 0);
  return (ticks * 1e6) / CLK_TCK;
}

/** Each figure's median over the windows of one point. */
export function medianWindow(ws: ServicesWindow[]): ServicesWindow {
  const of = (f: (w: ServicesWindow) => number) => median(ws.map(f));
  return {
    redisCommandsPerS: of((w) => w.redisCommandsPerS),
    busMessagesPerS: of((w) => w.busMessagesPerS),
    busInKiBPerS: of((w) => w.busInKiBPerS),
    busOutKiBPerS: of((w) => w.busOutKiBPerS),
    redisInKbps: [of((w) => w.redisInKbps[0]), of((w) => w.redisInKbps[1])],
    redisOutKbps: [of((w) => w.redisOutKbps[0]), of((w) => w.redisOutKbps[1])],
    redisCpuPct: of((w) => w.redisCpuPct),
    redisCutOff: ws.reduce((n, w) => n + w.redisCutOff, 0),
    redisConnections: ws.reduce((n, w) => n + w.redisConnections, 0),
    pgCommitsPerS: of((w) => w.pgCommitsPerS),
    pgRollbacksPerS: of((w) => w.pgRollbacksPerS),
    pgRowsPerS: of((w) => w.pgRowsPerS),
    postgresCpuPct: of((w) => w.postgresCpuPct),
  };
}

const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');

/** What went through Redis and PostgreSQL at each factor. */
export function servicesTable(rs: { factor: number; services?: ServicesWindow }[]): string {
  const lines = [
    '| activity factor | bus messages/s (PUBLISH) | Redis commands/s | into Redis, KiB/s | bytes a bus message | out of Redis, KiB/s | into Redis, its 1.6 s average (instantaneous_input_kbps, KiB/s), start → end | Redis CPU, % of a core | PostgreSQL commits/s | rows written/s | PostgreSQL CPU, % of a core |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const cut: string[] = [];
  for (const { factor, services: w } of rs) {
    if (!w) continue;
    const perMessage = (w.busInKiBPerS * 1024) / Math.max(1e-9, w.busMessagesPerS);
    lines.push(
      `| ${factor} | ${f0(w.busMessagesPerS)} | ${f0(w.redisCommandsPerS)} | ${f0(w.busInKiBPerS)} | ${f0(perMessage)} | ${f0(w.busOutKiBPerS)} | ${f0(w.redisInKbps[0])} → ${f0(w.redisInKbps[1])} | ${f0(w.redisCpuPct)} | ${f0(w.pgCommitsPerS)} | ${f0(w.pgRowsPerS)} | ${f0(w.postgresCpuPct)} |`,
    );
    if (w.redisCutOff > 0)
      cut.push(`factor ${factor}: ${w.redisCutOff} (${w.redisConnections} connections made)`);
  }
  if (cut.length) lines.push('', `Redis cut off subscribers that fell behind: ${cut.join('; ')}`);
  return lines.join('\n');
}
