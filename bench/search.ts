// `npm run bench -- --scenario search`: how long a search takes over a room of a million
// messages. The messages are written straight into a SQLite file (one prepared insert, one
// transaction, the index kept by its triggers as a send keeps it); then a Parley on that file
// answers JSON `search` requests from one client, one at a time, for each kind of query, and the
// client's round-trip times are the figures (p50, p99).
//
//   node --import tsx bench/search.ts [--quick] [--messages N] [--searches N] [--out FILE]

import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client, QUERIES, fill, percentile, root, startServer } from './million-room.js';

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
const children = new Set<ChildProcess>();

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-search-'));
  try {
    const file = join(dataDir, 'parley.db');
    const fillS = await fill(file, MESSAGES);
    const mb = statSync(file).size / 1e6;
    const { port } = await startServer(dataDir, children);
    const client = await Client.open(port);
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
