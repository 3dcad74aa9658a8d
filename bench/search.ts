// `npm run bench -- --scenario search`: how long a search takes over a room of a million
// messages. The messages are written straight into a SQLite file (one prepared insert, one
// transaction, the index kept by its triggers as a send keeps it); then a Parley on that file
// answers JSON `search` requests from one client, one at a time, for each kind of query, and the
// client's round-trip times are the figures (p50, p99).
//
//   node --import tsx bench/search.ts [--quick] [--messages N] [--searches N] [--out FILE]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { openSqliteStore } from '../src/store/sqlite.js';
import { freePort, sleep } from './processes.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    messages: { type: 'string' },
    searches: { type: 'string' },
    out: { type: 'string', default: join(root, 'bench', 'results', 'search.json') },
    scenario: { type: 'string' },
  },
  strict: false,
});
const quick = args.quick === true;
const MESSAGES = Number(args.messages ?? (quick ? 100_000 : 1_000_000));
const SEARCHES = Number(args.searches ?? (quick ? 40 : 200));
const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
const children = new Set<ChildProcess>();

/** A little language: a few very common words, many rare ones, and some Japanese and Chinese. */
const COMMON = ['the', 'and', 'that', 'have', 'with', 'this', 'from', 'they', 'will', 'would'];
const CJK = ['東京', '会議', '明日', '資料', '北京', '开会', '问题', '今日', 'テスト', 'サーバー'];

/** A small deterministic generator, so that every run searches the same room. */
function rng(seed: number): () => number {
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
const rareWord = (i: number) => `w${(i * 2654435761) % 50_000}x`;

function text(): string {
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
const QUERIES: Record<string, (i: number) => string> = {
  'rare word': (i) => rareWord(i * 7919),
  'common word': (i) => COMMON[i % COMMON.length] ?? 'the',
  'two words': (i) => `${COMMON[i % COMMON.length] ?? 'the'} ${rareWord(i * 104729)}`,
  'CJK, 2 chars': (i) => CJK[i % 8] ?? '東京',
  'CJK, 3+ chars': (i) => (i % 2 === 0 ? 'サーバー' : 'テスト'),
  'no match': (i) => `zzq${i}qzz`,
};

async function fill(file: string): Promise<number> {
  await openSqliteStore(file).close();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const t = performance.now();
  const insert = db.prepare(
    "INSERT INTO messages (room, seq, cid, sender, body, me, ts, sender_id) VALUES ('lobby', ?, ?, ?, ?, 0, ?, NULL)",
  );
  const start = Date.now() - MESSAGES * 1000;
  db.transaction(() => {
    db.prepare("INSERT INTO rooms (room) VALUES ('lobby') ON CONFLICT DO NOTHING").run();
    for (let seq = 1; seq <= MESSAGES; seq++) {
      insert.run(seq, `b${seq}`, `user${seq % 97}`, text(), start + seq * 1000);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return (performance.now() - t) / 1000;
}

function percentile(sorted: number[], p: number): number {
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

class Client {
  private waiting = new Map<string, (e: Record<string, unknown>) => void>();
  private n = 0;
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const e = JSON.parse(String(d)) as Record<string, unknown>;
      const id = typeof e['id'] === 'string' ? e['id'] : undefined;
      if (id) this.waiting.get(id)?.(e);
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

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-search-'));
  try {
    const file = join(dataDir, 'parley.db');
    const fillS = await fill(file);
    const mb = statSync(file).size / 1e6;
    const httpPort = await freePort();
    const wsPort = await freePort();
    const cmd = [
      process.execPath,
      join(root, 'dist', 'server', 'main.js'),
      ...['--host', '127.0.0.1', '--http-port', String(httpPort), '--ws-port', String(wsPort)],
      ...['--data-dir', dataDir, '--log-level', 'error', '--rate', '100000'],
      ...['--rate-burst', '100000', '--address-rate', '100000', '--address-rate-burst', '100000'],
      ...['--address-searches', '1000000'],
    ];
    const full = hasTaskset ? ['taskset', '-c', '0', ...cmd] : cmd;
    const server = spawn(full[0] ?? 'node', full.slice(1), {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.add(server);
    for (let i = 0; i < 200 && (await healthz(httpPort)) !== 200; i++) await sleep(100);
    const client = await Client.open(httpPort);
    console.log(
      `search: one room of ${MESSAGES.toLocaleString('en')} messages (${mb.toFixed(0)} MB, written ` +
        `with the index in ${fillS.toFixed(0)} s); ${SEARCHES} searches of each kind, one at a ` +
        'time, 20 results a page, from one JSON client; times are round trips in ms',
    );
    const report: Record<string, { p50: number; p99: number; results: number }> = {};
    const all: number[] = [];
    // Warm the page cache once, as a server that has run a while has it.
    await client.request({ type: 'search', query: 'the' });
    console.log(`  ${'query'.padEnd(16)} ${'p50'.padStart(8)} ${'p99'.padStart(8)}  results`);
    for (const [kind, q] of Object.entries(QUERIES)) {
      const times: number[] = [];
      let results = 0;
      for (let i = 0; i < SEARCHES; i++) {
        const t = performance.now();
        const r = await client.request({ type: 'search', query: q(i) });
        times.push(performance.now() - t);
        if (r['of'] !== 'search') throw new Error(`search failed: ${JSON.stringify(r)}`);
        results += (r['results'] as unknown[]).length;
      }
      times.sort((a, b) => a - b);
      all.push(...times);
      report[kind] = {
        p50: percentile(times, 50),
        p99: percentile(times, 99),
        results: results / SEARCHES,
      };
      const row = report[kind];
      console.log(
        `  ${kind.padEnd(16)} ${row.p50.toFixed(1).padStart(8)} ${row.p99.toFixed(1).padStart(8)}  ${row.results.toFixed(1)}`,
      );
    }
    all.sort((a, b) => a - b);
    console.log(
      `  ${'all'.padEnd(16)} ${percentile(all, 50).toFixed(1).padStart(8)} ${percentile(all, 99).toFixed(1).padStart(8)}`,
    );
    client.close();
    const out = String(args.out);
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(
      out,
      JSON.stringify(
        {
          messages: MESSAGES,
          searches: SEARCHES,
          fillSeconds: fillS,
          megabytes: mb,
          kinds: report,
          all: { p50: percentile(all, 50), p99: percentile(all, 99) },
        },
        null,
        2,
      ),
    );
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error('search: failed:', e);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
