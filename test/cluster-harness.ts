// Pieces for cluster tests: a Redis server of the test's own (so it can be killed and restarted),
// a TCP proxy that can cut PostgreSQL off, and node processes that can be killed with SIGKILL.

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { LENIENT_ADDRESS_FLAGS } from './helpers.js';
import { serverCommand } from './server-command.js';
import { POSTGRES_URL, requirePostgres, uniqueSuffix } from './services.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server process on its own port that a test may stop and start again. */
export class OwnRedis {
  private proc: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.up();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    this.proc.once('error', () => undefined);
    const probe = new Redis(this.port, '127.0.0.1', {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    probe.on('error', () => undefined);
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch (e) {
        if (Date.now() > end) {
          throw new Error(
            `redis-server did not start on port ${this.port}: is redis-server installed? (${String(e)})`,
            { cause: e },
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** SIGKILL: connections drop at once, as when Redis crashes. */
  async down(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGKILL');
    });
  }
}

/** A TCP proxy in front of PostgreSQL that a test can cut and restore. */
export class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(targetUrl = POSTGRES_URL): Promise<CuttableProxy> {
    const u = new URL(targetUrl);
    const p = new CuttableProxy(await freePort(), {
      host: u.hostname,
      port: Number(u.port || 5432),
    });
    await p.restore();
    return p;
  }

  restore(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
  }

  /** Every open connection is dropped and new ones are refused. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}

/** A fresh PostgreSQL schema name (dropped by dropSchema) on the test database. */
export async function freshSchema(): Promise<{
  schema: string;
  url: (via?: number) => string;
  drop(): Promise<void>;
}> {
  const pool = await requirePostgres(1);
  await pool.end();
  const schema = `parley_cluster_${uniqueSuffix()}`;
  const base = new URL(POSTGRES_URL);
  return {
    schema,
    url(via) {
      const u = new URL(base);
      if (via !== undefined) {
        u.hostname = '127.0.0.1';
        u.port = String(via);
      }
      u.searchParams.set('schema', schema);
      return u.toString();
    },
    async drop() {
      const p = await requirePostgres(1);
      try {
        await p.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await p.end();
      }
    },
  };
}

export interface NodeProcess {
  port: number;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `src/server/main` as its own process and reads its page port from the log. */
export async function spawnNode(args: string[]): Promise<NodeProcess> {
  const child = spawn(
    process.execPath,
    [
      ...serverCommand(),
      '--host',
      '127.0.0.1',
      '--http-port',
      '0',
      '--ws-port',
      '0',
      ...LENIENT_ADDRESS_FLAGS,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => reject(new Error('node did not start within 20 s')), 20_000);
    rl.on('line', (l) => {
      try {
        const e = JSON.parse(l) as { event?: string; page?: string };
        if (e.event === 'started' && e.page) {
          clearTimeout(timer);
          resolve(Number(new URL(e.page).port));
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before starting`));
    });
  });
  child.stdout?.resume();
  return {
    port,
    child,
    kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((r) => {
        child.once('exit', () => r());
        child.kill(signal);
      });
    },
  };
}
