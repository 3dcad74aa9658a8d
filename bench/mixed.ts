// `npm run bench -- --scenario mixed`: sends beside edits, reactions and searches, in a room of a
// million messages. Forty members of that room work at a steady rate of operations, first only
// sending (the baseline), then the mix a team makes (70% sends, 15% edits of one's own last
// message, 15% reactions on a recent one), then that mix while one more person searches
// without pause. Both
// phases run on the same server in this process tree: the figures are each phase's delivery
// latency (operation sent to every member's receipt, ms), the server's CPU per delivery (its
// event loop's, and the whole process's with the search and checkpoint threads), and
// the searches' round trips under the mix beside the same searches on the idle server.
//
//   node --import tsx bench/mixed.ts [--quick] [--messages N] [--rate OPS] [--seconds S] [--out FILE]

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client, QUERIES, fill, percentile, rng, root, startServer } from './million-room.js';
import { cpuDelta, readCpu, readLoopCpu } from './proc-stats.js';
import { sleep } from './processes.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    messages: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    out: { type: 'string', default: join(root, 'bench', 'results', 'mixed.json') },
    scenario: { type: 'string' },
  },
  strict: false,
});
const quick = args.quick === true;
const MESSAGES = Number(args.messages ?? (quick ? 100_000 : 1_000_000));
const RATE = Number(args.rate ?? 200);
const SECONDS = Number(args.seconds ?? (quick ? 5 : 20));
const MEMBERS = 40;
const EMOJI = ['👍', '🎉', '👀', '✅'];
const children = new Set<ChildProcess>();
const random = rng(21);

interface Member {
  client: Client;
  /** The seq of this member's last message, once acked: what its next edit changes. */
  last: number;
}

interface PhaseResult {
  operations: number;
  refused: number;
  deliveries: number;
  p50: number;
  p99: number;
  /** The whole server process's CPU, its threads included (the checkpoints, the searches). */
  cpuUsPerDelivery: number;
  /** The main thread's alone: the event loop, which every delivery waits for. */
  loopUsPerDelivery: number;
  serverCpuPct: number;
  search?: { count: number; p50: number; p99: number };
}

/** When each operation went out, by its cid; every member's receipt is measured against it. */
const sentAt = new Map<string, number>();
let latencies: number[] = [];
let deliveries = 0;

function listen(m: Member): void {
  m.client.onEvent = (e) => {
    if (e['type'] !== 'msg' && e['type'] !== 'edit' && e['type'] !== 'reaction') return;
    const t0 = sentAt.get(String(e['cid']));
    if (t0 === undefined) return;
    deliveries++;
    latencies.push(performance.now() - t0);
  };
}

async function searchLoop(c: Client, until: () => boolean): Promise<number[]> {
  const kinds = Object.values(QUERIES);
  const times: number[] = [];
  for (let i = 0; until(); i++) {
    const q = kinds[i % kinds.length] ?? (() => 'the');
    const t = performance.now();
    const r = await c.request({ type: 'search', query: q(i) });
    if (r['of'] !== 'search') throw new Error(`search failed: ${JSON.stringify(r)}`);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

async function phase(
  members: Member[],
  pid: number,
  mix: boolean,
  searcher: Client | undefined,
): Promise<PhaseResult> {
  // Each phase its own client ids: a cid sent again is the same operation, acked and not redone.
  const label = `${mix ? 'mix' : 'sends'}${searcher ? '-search' : ''}`;
  latencies = [];
  deliveries = 0;
  let operations = 0;
  let refused = 0;
  const recent: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const cpu0 = readCpu(pid);
  const loop0 = readLoopCpu(pid);
  const t0 = performance.now();
  const searches = searcher ? searchLoop(searcher, () => performance.now() < end) : undefined;
  const pending: Promise<void>[] = [];
  // Operations at a steady rate, each from a member drawn at random.
  for (let i = 0; performance.now() < end; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const m = members[Math.floor(random() * members.length)];
    if (!m) continue;
    const cid = `${label}-${i}`;
    const r = random();
    let req: Record<string, unknown>;
    if (mix && r < 0.15 && m.last > 0) {
      req = { type: 'edit', room: 'lobby', cid, seq: m.last, text: `edited ${i}` };
    } else if (mix && r < 0.3 && recent.length > 0) {
      const seq = recent[Math.floor(random() * recent.length)] ?? 1;
      const emoji = EMOJI[Math.floor(random() * EMOJI.length)] ?? '👍';
      req = { type: 'react', room: 'lobby', cid, seq, emoji };
    } else {
      req = {
        type: 'send',
        room: 'lobby',
        cid,
        text: `message ${i} of the ${mix ? 'mix' : 'sends'}`,
      };
    }
    sentAt.set(cid, performance.now());
    operations++;
    pending.push(
      m.client.request(req).then((ack) => {
        if (ack['type'] !== 'ack') {
          refused++;
          return;
        }
        if (req['type'] === 'send') {
          m.last = Number(ack['seq']);
          recent.push(m.last);
          if (recent.length > 50) recent.shift();
        }
      }),
    );
  }
  await Promise.all(pending);
  const searchTimes = searches ? await searches : undefined;
  await sleep(500); // the last fan-out
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuDelta(cpu0, readCpu(pid));
  const loop = cpuDelta(loop0, readLoopCpu(pid));
  latencies.sort((a, b) => a - b);
  return {
    operations,
    refused,
    deliveries,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerDelivery: cpu.totalUs / Math.max(1, deliveries),
    loopUsPerDelivery: loop.totalUs / Math.max(1, deliveries),
    serverCpuPct: (cpu.totalUs / 1e6 / elapsed) * 100,
    ...(searchTimes && {
      search: {
        count: searchTimes.length,
        p50: percentile(searchTimes, 50),
        p99: percentile(searchTimes, 99),
      },
    }),
  };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-mixed-'));
  try {
    const fillS = await fill(join(dataDir, 'parley.db'), MESSAGES);
    const { port, pid } = await startServer(dataDir, children);
    const members: Member[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const client = await Client.open(port);
      const token = `mixed-member-${i}-${'t'.repeat(24)}`;
      const hello = await client.request({ type: 'hello', name: `member${i}`, token });
      if (hello['type'] !== 'result') throw new Error(`hello failed: ${JSON.stringify(hello)}`);
      const join = await client.request({ type: 'join', room: 'lobby' });
      if (join['type'] !== 'result') throw new Error(`join failed: ${JSON.stringify(join)}`);
      const m = { client, last: 0 };
      listen(m);
      members.push(m);
    }
    const searcher = await Client.open(port);
    console.log(
      `mixed: ${MEMBERS} members of a room of ${MESSAGES.toLocaleString('en')} messages (written ` +
        `in ${fillS.toFixed(0)} s), ${RATE} operations a second for ${SECONDS} s a phase; ` +
        'latency is operation sent to each member receiving it, in ms',
    );
    await searcher.request({ type: 'search', query: 'the' }); // the page cache, warm
    const idleSearch = await searchLoop(
      searcher,
      (() => {
        const until = performance.now() + Math.min(SECONDS, 10) * 1000;
        return () => performance.now() < until;
      })(),
    );
    const sends = await phase(members, pid, false, undefined);
    const mix = await phase(members, pid, true, undefined);
    const mixed = await phase(members, pid, true, searcher);
    const row = (name: string, r: PhaseResult) =>
      `  ${name.padEnd(26)} ${String(r.operations).padStart(6)} ${String(r.deliveries).padStart(8)} ` +
      `${r.p50.toFixed(1).padStart(7)} ${r.p99.toFixed(1).padStart(7)} ` +
      `${r.loopUsPerDelivery.toFixed(1).padStart(9)} ${r.cpuUsPerDelivery.toFixed(1).padStart(9)} ` +
      `${r.serverCpuPct.toFixed(0).padStart(5)}%`;
    console.log(
      `  ${'phase'.padEnd(26)} ${'ops'.padStart(6)} ${'received'.padStart(8)} ${'p50'.padStart(7)} ` +
        `${'p99'.padStart(7)} ${'loop µs'.padStart(9)} ${'all µs'.padStart(9)} ${'cpu'.padStart(6)}`,
    );
    console.log(row('sends only (baseline)', sends));
    console.log(row('sends, edits, reactions', mix));
    console.log(row('the same, and a searcher', mixed));
    const ratio = (name: string, r: PhaseResult) =>
      console.log(
        `  ${name} / baseline: p50 ${(r.p50 / sends.p50).toFixed(2)}x, p99 ${(r.p99 / sends.p99).toFixed(2)}x, ` +
          `event loop CPU per delivery ${(r.loopUsPerDelivery / sends.loopUsPerDelivery).toFixed(2)}x, ` +
          `the process's ${(r.cpuUsPerDelivery / sends.cpuUsPerDelivery).toFixed(2)}x`,
      );
    ratio('mix', mix);
    ratio('mix and searches', mixed);
    const idle = { p50: percentile(idleSearch, 50), p99: percentile(idleSearch, 99) };
    console.log(
      `  searches on the idle server: ${idleSearch.length}, p50 ${idle.p50.toFixed(1)} ms, p99 ${idle.p99.toFixed(1)} ms`,
    );
    if (mixed.search) {
      console.log(
        `  searches during the mix:     ${mixed.search.count}, p50 ${mixed.search.p50.toFixed(1)} ms, ` +
          `p99 ${mixed.search.p99.toFixed(1)} ms`,
      );
    }
    if (sends.refused + mix.refused + mixed.refused > 0) {
      console.log(`  refused operations: ${sends.refused + mix.refused + mixed.refused}`);
    }
    const expected = (r: PhaseResult) => (r.operations - r.refused) * MEMBERS;
    const lost = [sends, mix, mixed].reduce((n, r) => n + expected(r) - r.deliveries, 0);
    if (lost !== 0) console.log(`  MISSED: ${lost} deliveries never arrived`);
    for (const m of members) m.client.close();
    searcher.close();
    const out = String(args.out);
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(
      out,
      JSON.stringify(
        { messages: MESSAGES, rate: RATE, seconds: SECONDS, sends, mixed, idle },
        null,
        2,
      ),
    );
    if (lost !== 0) process.exitCode = 1;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error('mixed: failed:', e);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
