// One room of many messages written straight into a SQLite file, and a Parley from `dist/` on
// core 0 that opens it: the ground of the search and mixed scenarios.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { openSqliteStore } from '../src/store/sqlite.js';
import { freePort, sleep } from './processes.js';

export const root = fileURLToPath(new URL('..', import.meta.url));
const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

/** A little language: a few very common words, many rare ones, and some Japanese and Chinese. */
export const COMMON = [
  'the',
  'and',
  'that',
  'have',
  'with',
  'this',
  'from',
  'they',
  'will',
  'would',
];
export const CJK = [
  '東京',
  '会議',
  '明日',
  '資料',
  '北京',
  '开会',
  '问题',
  '今日',
  'テスト',
  'サーバー',
];

/** A small deterministic generator, so that every run works on the same room. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = rng(20);
export const rareWord = (i: number) => `w${(i * 2654435761) % 50_000}x`;

export function text(): string {
  const words: string[] = [];
  const n = 4 + Math.floor(random() * 12);
  for (let i = 0; i < n; i++) {
    const r = random();
    if (r < 0.5) words.push(COMMON[Math.floor(random() * COMMON.length)] ?? 'the');
    else if (r < 0.6) words.push(CJK[Math.floor(random() * CJK.length)] ?? '東京');
    else words.push(rareWord(Math.floor(random() * 50_000)));
  }
  return words.join(' ');
}

/** The kinds of query measured, each a function of the search's number. */
export const QUERIES: Record<string, (i: number) => string> = {
  'rare word': (i) => rareWord(i * 7919),
  'common word': (i) => COMMON[i % COMMON.length] ?? 'the',
  'two words': (i) => `${COMMON[i % COMMON.length] ?? 'the'} ${rareWord(i * 104729)}`,
  'CJK, 2 chars': (i) => CJK[i % 8] ?? '東京',
  'CJK, 3+ chars': (i) => (i % 2 === 0 ? 'サーバー' : 'テスト'),
  'no match': (i) => `zzq${i}qzz`,
};

/** Writes `messages` messages into room `lobby` of a new store at `file`; seconds it took. */
export async function fill(file: string, messages: number): Promise<number> {
  await openSqliteStore(file).close();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const t = performance.now();
  const insert = db.prepare(
    "INSERT INTO messages (room, seq, cid, sender, body, me, ts, sender_id) VALUES ('lobby', ?, ?, ?, ?, 0, ?, NULL)",
  );
  const start = Date.now() - messages * 1000;
  db.transaction(() => {
    db.prepare("INSERT INTO rooms (room) VALUES ('lobby') ON CONFLICT DO NOTHING").run();
    for (let seq = 1; seq <= messages; seq++) {
      insert.run(seq, `b${seq}`, `user${seq % 97}`, text(), start + seq * 1000);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return (performance.now() - t) / 1000;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** A Parley on `dataDir`, pinned to core 0 where it can be, with limits out of the load's way. */
export async function startServer(
  dataDir: string,
  children: Set<ChildProcess>,
): Promise<{ port: number; pid: number }> {
  const httpPort = await freePort();
  const wsPort = await freePort();
  const cmd = [
    process.execPath,
    join(root, 'dist', 'server', 'main.js'),
    ...['--host', '127.0.0.1', '--http-port', String(httpPort), '--ws-port', String(wsPort)],
    ...['--data-dir', dataDir, '--log-level', 'error', '--rate', '100000'],
    ...['--rate-burst', '100000', '--address-rate', '100000', '--address-rate-burst', '100000'],
    ...['--address-searches', '1000000', '--address-names-per-hour', '1000000'],
    ...['--address-joins', '1000000', '--address-bytes-per-hour', '100000000000'],
    ...['--connections-per-address', '1000'],
  ];
  const full = hasTaskset ? ['taskset', '-c', '0', ...cmd] : cmd;
  const server = spawn(full[0] ?? 'node', full.slice(1), {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(server);
  for (let i = 0; i < 200 && (await healthz(httpPort)) !== 200; i++) await sleep(100);
  if (server.pid === undefined) throw new Error('the server did not start');
  return { port: httpPort, pid: server.pid };
}

/** A JSON client: requests matched to their replies by id, and a hook for every other event. */
export class Client {
  private waiting = new Map<string, (e: Record<string, unknown>) => void>();
  private n = 0;
  onEvent: (e: Record<string, unknown>) => void = () => {};
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const e = JSON.parse(String(d)) as Record<string, unknown>;
      const id = typeof e['id'] === 'string' ? e['id'] : undefined;
      const waiter = id === undefined ? undefined : this.waiting.get(id);
      if (waiter) waiter(e);
      else this.onEvent(e);
    });
  }

  static async open(port: number): Promise<Client> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'parley.v1');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Client(ws);
  }

  request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = `s${this.n++}`;
    return new Promise((resolve) => {
      this.waiting.set(id, (e) => {
        this.waiting.delete(id);
        resolve(e);
      });
      this.ws.send(JSON.stringify({ ...req, id }));
    });
  }

  close(): void {
    this.ws.close();
  }
}
