// Fault injection against the delivery contract (README, "Guarantees"): clients
// whose connections are cut at random, and a server killed with SIGKILL mid-traffic, must still
// leave every client with each room's messages exactly 1..n, and every acked send exactly once.
//
// PARLEY_FAULT_SEED=<n> replays the random choices of a run (timing still varies).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FaultClient, seededRandom } from './fault-client.js';
import { serverCommand } from './server-command.js';
import { LENIENT_ADDRESS_FLAGS, startTestServer, tempDir } from './helpers.js';
import {
  SEED,
  checkContract,
  checkStates,
  step,
  allAcked,
  finalResync,
  pick,
  sleep,
  summarize,
  total,
  waitFor,
} from './fault-oracle.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** How many of the acked requests were changes, and how many changes were refused. */
function changeStats(clients: FaultClient[]): string {
  const acks = clients.flatMap((c) => [...c.acked.values()]);
  const count = (kind: string) => acks.filter((a) => a.kind === kind).length;
  return (
    ` edits=${count('edit')} removals=${count('delete')} reactions=${count('react')}` +
    ` refusedChanges=${total(clients, 'refusedChanges')}`
  );
}

test(
  'delivery contract: connections cut at random, gaps paged (in-process server)',
  { timeout: 60_000 },
  async () => {
    const started = Date.now();
    const random = seededRandom(SEED);
    const server = await startTestServer({
      rateBurst: 100_000,
      ratePerSecond: 100_000,
      historyBound: 50,
    });
    const rooms = ['alpha', 'beta', 'gamma'];
    const clients = Array.from(
      { length: 12 },
      (_, i) =>
        new FaultClient({
          name: `a${i}`,
          rooms: [rooms[i % 3] as string, rooms[(i + 1) % 3] as string],
          port: () => server.httpPort,
          random,
          // Some acks are lost with their connection, so the same cid is sent again.
          ackLossRate: 0.03,
        }),
    );
    try {
      for (const c of clients) c.start();
      await waitFor(
        () => clients.every((c) => c.caughtUp()),
        'every client to join',
        10_000,
        clients,
      );

      // Chaos: every ~50 ms a random client loses its connection; every third time it stays away
      // long enough for more than historyBound messages to pass, so its resume hits the gap path.
      let chaos = true;
      const chaosLoop = (async () => {
        for (let k = 1; chaos; k++) {
          await sleep(30 + random() * 40);
          if (chaos) pick(random, clients).drop(k % 3 === 0 ? 300 + random() * 400 : 0);
        }
      })();
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < 40; i++) {
            await sleep(3 + random() * 27);
            step(random, c, i);
          }
        }),
      );
      chaos = false;
      await chaosLoop;
      await allAcked(clients, 20_000);
      // What the chaos caused, before the final resync adds a reconnect of its own.
      const reconnects = clients.reduce((sum, c) => sum + c.reconnects, 0);
      const gaps = total(clients, 'gaps');
      await finalResync(clients);
      summarize('in-process', clients, started, changeStats(clients));

      checkContract(clients);
      await checkStates(clients, server.httpPort);
      assert.ok(total(clients, 'changeQueries') > 0, 'no client asked for changes after a gap');
      assert.equal(total(clients, 'sent'), 12 * 40);
      assert.ok(reconnects > 0, 'chaos cut no connection');
      assert.ok(gaps > 0, 'no client resumed past historyBound: the gap path was not exercised');
      assert.ok(
        total(clients, 'idempotentResends') > 0,
        'no resend met an earlier commit: the idempotent path was not exercised',
      );
    } finally {
      for (const c of clients) c.stop();
      await server.dispose();
    }
  },
);

/** The server as a child process, restartable on the same data folder. */
class ChildServer {
  /** The page port of the running server (the last one while it is down). */
  port: number | undefined;
  readonly errorLines: string[] = [];
  private readonly tail: string[] = [];
  private proc: ChildProcess | undefined;
  private readonly killOnExit = () => this.proc?.kill('SIGKILL');

  constructor(private readonly dataDir: string) {
    process.on('exit', this.killOnExit);
  }

  /** The last lines the server wrote. */
  tailText(): string {
    return `server log tail:\n${this.tail.join('\n')}`;
  }

  private keep(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 50) this.tail.shift();
  }

  start(): Promise<number> {
    const proc = spawn(
      process.execPath,
      [
        ...serverCommand(),
        '--host',
        '127.0.0.1',
        '--http-port',
        '0',
        '--ws-port',
        '0',
        '--data-dir',
        this.dataDir,
        '--rate',
        '100000',
        '--rate-burst',
        '100000',
        ...LENIENT_ADDRESS_FLAGS,
        '--history-bound',
        '50',
        '--log-level',
        'info',
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the server did not start in 20 s:\n${this.tail.join('\n')}`));
      }, 20_000);
      // stdout is read to the end, so the child never blocks on a full pipe.
      createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        this.keep(line);
        let entry: { level?: string; event?: string; page?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          return;
        }
        if (entry.level === 'error') this.errorLines.push(line);
        if (entry.event === 'started' && typeof entry.page === 'string') {
          clearTimeout(timer);
          this.port = Number(new URL(entry.page).port);
          resolve(this.port);
        }
      });
      proc.stderr?.on('data', (d: Buffer) => this.keep(`stderr: ${d.toString().trimEnd()}`));
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the server exited (${code ?? signal}):\n${this.tail.join('\n')}`));
      });
    });
  }

  /** kill -9, and wait until it is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    process.off('exit', this.killOnExit);
  }
}

test(
  'delivery contract: server killed with SIGKILL mid-traffic, restarted on the same data',
  { timeout: 60_000 },
  async () => {
    const started = Date.now();
    const random = seededRandom(SEED + 1);
    const dir = tempDir('parley-kill9-');
    const server = new ChildServer(dir);
    const rooms = ['north', 'south'];
    const clients = Array.from(
      { length: 8 },
      (_, i) => new FaultClient({ name: `b${i}`, rooms, port: () => server.port, random }),
    );
    let sending = true;
    let traffic: Promise<unknown> = Promise.resolve();
    try {
      await server.start();
      for (const c of clients) c.start();
      await waitFor(
        () => clients.every((c) => c.caughtUp()),
        'every client to join',
        10_000,
        clients,
        () => server.tailText(),
      );

      traffic = Promise.all(
        clients.map(async (c) => {
          for (let i = 0; sending; i++) {
            await sleep(3 + random() * 20);
            if (sending) step(random, c, i);
          }
        }),
      );
      const unackedAtKill: number[] = [];
      for (let k = 0; k < 2; k++) {
        await sleep(400 + random() * 800);
        unackedAtKill.push(clients.reduce((sum, c) => sum + c.outbox.size, 0));
        await server.kill();
        await sleep(random() * 200);
        const epochs = clients.map((c) => c.epoch);
        await server.start();
        // Every client is back (so the next kill cuts live connections again) before the clock
        // for the next kill starts.
        await waitFor(
          () => clients.every((c, i) => c.epoch > (epochs[i] ?? 0)),
          'every client to reconnect after the restart',
          10_000,
          clients,
          () => server.tailText(),
        );
      }
      await sleep(500 + random() * 500);
      sending = false;
      await traffic;

      await allAcked(clients, 20_000, () => server.tailText());
      await finalResync(clients, () => server.tailText());
      summarize(
        'kill -9',
        clients,
        started,
        ` restarts=2 unackedAtKill=[${unackedAtKill.join(',')}]${changeStats(clients)}`,
      );

      checkContract(clients);
      await checkStates(clients, server.port ?? 0);
      for (const c of clients) {
        // Each kill cuts every connection; the final resync is one more reconnect.
        assert.ok(c.reconnects >= 3, `${c.name} reconnected only ${c.reconnects} times`);
      }
      assert.deepEqual(server.errorLines, [], 'the server logged errors');
    } finally {
      sending = false;
      await traffic;
      for (const c of clients) c.stop();
      await server.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
