// Fault injection against the delivery contract (design.md, "The delivery contract"): clients
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
import { FaultClient, seededRandom, type FaultClientStats } from './fault-client.js';
import { startTestServer, tempDir, waitFor as waitUntil } from './helpers.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SEED = Number(process.env.PARLEY_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function short(seqs: number[]): string {
  const shown = seqs.slice(0, 12).join(',');
  return seqs.length > 12 ? `${shown},... (${seqs.length})` : shown;
}

/**
 * The oracle. Per client and room: the seqs it has are exactly 1..n, n being the lastSeq of its
 * final join, with none missing or repeated (and the live stream was never out of order: the
 * client records that as a violation). Across clients: every acked (room, cid) is exactly one
 * message of that room, at the seq its ack gave; no seq is acked for two cids; and every message
 * of a room is an acked send (nothing was made up or committed twice).
 */
function checkContract(clients: FaultClient[]): void {
  const problems: string[] = [];
  for (const c of clients) problems.push(...c.violations);

  const lastSeq = new Map<string, number>();
  const cidAt = new Map<string, Map<number, string>>();
  for (const c of clients) {
    if (c.outbox.size > 0) problems.push(`${c.name}: ${c.outbox.size} sends never acked`);
    for (const v of c.views.values()) {
      const n = v.joinedLastSeq;
      if (n === undefined) {
        problems.push(`${c.name} ${v.room}: no final join result`);
        continue;
      }
      const agreed = lastSeq.get(v.room);
      if (agreed === undefined) lastSeq.set(v.room, n);
      else if (agreed !== n) problems.push(`${v.room}: final lastSeq ${n} vs ${agreed} elsewhere`);
      const counts = new Map<number, number>();
      for (const s of v.seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
      const missing: number[] = [];
      for (let s = 1; s <= n; s++) if (!counts.has(s)) missing.push(s);
      const repeated = [...counts].filter(([, k]) => k > 1).map(([s]) => s);
      const outside = [...counts.keys()].filter((s) => s < 1 || s > n);
      const where = `${c.name} ${v.room} (n=${n})`;
      if (missing.length > 0) problems.push(`${where}: missing seqs ${short(missing)}`);
      if (repeated.length > 0) problems.push(`${where}: repeated seqs ${short(repeated)}`);
      if (outside.length > 0) problems.push(`${where}: seqs outside 1..n ${short(outside)}`);

      let seqToCid = cidAt.get(v.room);
      if (!seqToCid) cidAt.set(v.room, (seqToCid = new Map()));
      for (const [seq, m] of v.messages) {
        const other = seqToCid.get(seq);
        if (other === undefined) seqToCid.set(seq, m.cid);
        else if (other !== m.cid) {
          problems.push(`${v.room} seq ${seq} is cid ${m.cid} to ${c.name}, ${other} to another`);
        }
      }
    }
  }

  // cid → the seqs it was seen at, per room.
  const seqsOf = new Map<string, Map<string, number[]>>();
  for (const [room, seqToCid] of cidAt) {
    const m = new Map<string, number[]>();
    for (const [seq, cid] of seqToCid) m.set(cid, [...(m.get(cid) ?? []), seq]);
    seqsOf.set(room, m);
  }

  const ackedCid = new Map<string, string>();
  const ackedPerRoom = new Map<string, number>();
  for (const c of clients) {
    for (const a of c.acked.values()) {
      ackedPerRoom.set(a.room, (ackedPerRoom.get(a.room) ?? 0) + 1);
      const key = `${a.room}#${a.seq}`;
      const other = ackedCid.get(key);
      if (other !== undefined && other !== a.cid) {
        problems.push(`${a.room} seq ${a.seq} acked for two cids: ${other} and ${a.cid}`);
      }
      ackedCid.set(key, a.cid);
      const at = seqsOf.get(a.room)?.get(a.cid) ?? [];
      if (at.length === 0) problems.push(`acked ${a.room}/${a.cid} (seq ${a.seq}) never delivered`);
      else if (at.length > 1) problems.push(`acked ${a.room}/${a.cid} stored at seqs ${short(at)}`);
      else if (at[0] !== a.seq)
        problems.push(`acked ${a.room}/${a.cid} as ${a.seq}, seen at ${at[0]}`);
    }
  }
  for (const [room, n] of lastSeq) {
    const acked = ackedPerRoom.get(room) ?? 0;
    if (acked !== n) problems.push(`${room}: ${n} messages but ${acked} acked sends`);
  }

  assert.equal(
    problems.length,
    0,
    `delivery contract broken (seed ${SEED}):\n${problems.slice(0, 40).join('\n')}` +
      (problems.length > 40 ? `\n... and ${problems.length - 40} more` : ''),
  );
}

/** Where every client stands, for a timeout's message. */
function describeClients(clients: FaultClient[]): string {
  return clients
    .map((c) => {
      const rooms = [...c.views.values()]
        .map(
          (v) => `${v.room} live=${v.liveLast} joined=${v.joinedLastSeq} holes=${v.holes.length}`,
        )
        .join('; ');
      return (
        `  ${c.name}: ready=${c.isReady} epoch=${c.epoch} outbox=${c.outbox.size} ` +
        `violations=${c.violations.length} | ${rooms}`
      );
    })
    .join('\n');
}

/** waitFor from the helpers, with the clients' state (and more) in the timeout's message. */
async function waitFor(
  cond: () => boolean,
  what: string,
  ms: number,
  clients: FaultClient[],
  more: () => string = () => '',
): Promise<void> {
  try {
    await waitUntil(cond, what, ms);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`${message} (seed ${SEED})\n${describeClients(clients)}\n${more()}`, {
      cause: e,
    });
  }
}

function total(clients: FaultClient[], key: keyof FaultClientStats): number {
  return clients.reduce((sum, c) => sum + c.stats[key], 0);
}

function summarize(label: string, clients: FaultClient[], started: number, extra = ''): void {
  const acked = clients.reduce((sum, c) => sum + c.acked.size, 0);
  const reconnects = clients.reduce((sum, c) => sum + c.reconnects, 0);
  console.log(
    `[${label}] seed=${SEED} clients=${clients.length} sent=${total(clients, 'sent')} ` +
      `acked=${acked} resent=${total(clients, 'resent')} ` +
      `lostAcks=${total(clients, 'lostAcks')} idempotentResends=${total(clients, 'idempotentResends')} ` +
      `duplicateAcks=${total(clients, 'duplicateAcks')} drops=${total(clients, 'drops')} ` +
      `reconnects=${reconnects} failedConnects=${total(clients, 'failedConnects')} ` +
      `gaps=${total(clients, 'gaps')} historyPages=${total(clients, 'historyPages')}` +
      `${extra} in ${Date.now() - started} ms`,
  );
}

/** Every client reconnects and joins with `since`; resolves when each has caught up. */
async function finalResync(clients: FaultClient[], more?: () => string): Promise<void> {
  const epochs = clients.map((c) => c.epoch);
  for (const c of clients) c.drop();
  await waitFor(
    () => clients.every((c, i) => c.caughtUp(epochs[i])),
    'every client to rejoin and catch up',
    20_000,
    clients,
    more,
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
            c.send(pick(random, c.rooms), `message ${i} from ${c.name}`);
          }
        }),
      );
      chaos = false;
      await chaosLoop;
      await waitFor(
        () => clients.every((c) => c.outbox.size === 0),
        'every send acked',
        20_000,
        clients,
      );
      // What the chaos caused, before the final resync adds a reconnect of its own.
      const reconnects = clients.reduce((sum, c) => sum + c.reconnects, 0);
      const gaps = total(clients, 'gaps');
      await finalResync(clients);
      summarize('in-process', clients, started);

      checkContract(clients);
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
        '--import',
        'tsx',
        'src/server/main.ts',
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
            if (sending) c.send(pick(random, rooms), `message ${i} from ${c.name}`);
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

      await waitFor(
        () => clients.every((c) => c.outbox.size === 0),
        'every send acked',
        20_000,
        clients,
        () => server.tailText(),
      );
      await finalResync(clients, () => server.tailText());
      summarize(
        'kill -9',
        clients,
        started,
        ` restarts=2 unackedAtKill=[${unackedAtKill.join(',')}]`,
      );

      checkContract(clients);
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
