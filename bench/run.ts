// `npm run bench`: Parley's fan-out against the tutorial's plain `ws` broadcast loop, same
// scenarios, same run. Each server runs as its own process (pinned to core 0 where taskset
// exists), driven by a separate load generator (bench/loadgen.ts, pinned to core 1), on
// 127.0.0.1 only. The cluster scenario runs Parley on PostgreSQL + Redis instead, one node and
// then two (node A on core 0, node B on core 1, the load generator unpinned), and compares them.
// See bench/README.md for what is measured and how.
//
//   node --import tsx bench/run.ts [--quick] [--scenario NAME[,NAME]] [--servers parley,plain]
//        [--windows N] [--window-ms MS] [--server-from dist|src] [--profile] [--no-pin]
//        [--idle-protocol json|text] [--client ws|raw] [--postgres URL] [--redis URL]
//        [--out FILE]

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import type { LatencySummary } from './ipc.js';
import { median, sum } from './stats.js';
import { fmt, note, reason, redactArg } from './format.js';
import { benchDir, root, runDir } from './paths.js';
import { type Options, parseOptions, USAGE } from './options.js';
import { removeStaleRunDirs, snapshotParley } from './snapshot.js';
import { NODE_NAMES, type Scenario, scenarios, type SideSpec, sideSpecs } from './scenarios.js';
import { CLK_TCK } from './proc-stats.js';
import { canPin, FD_LIMIT, killAll, tempDirs } from './processes.js';
import { checkServices, dropPendingSchemas, dropStaleSchemas } from './backends.js';
import type { ScenarioReport, SideResult, WindowResult } from './results.js';
import { failedSide, runSides } from './sides.js';

// ---- options ----------------------------------------------------------------------------------

// ---- scenarios --------------------------------------------------------------------------------

// ---- processes --------------------------------------------------------------------------------

/** The options of the run under way, for the schemas to drop if it is stopped. */
let lastOptions: Options | undefined;

/** Kills the children, drops the cluster schemas still there (at most 5 s), then exits. */
function stopAndExit(code: number): void {
  killAll();
  const timer = setTimeout(() => process.exit(code), 5000);
  void dropPendingSchemas(lastOptions).finally(() => {
    clearTimeout(timer);
    process.exit(code);
  });
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`\nbench: ${sig}, stopping`);
    stopAndExit(130);
  });
}

// ---- /proc accounting -------------------------------------------------------------------------

// ---- PostgreSQL and Redis (the cluster scenario) ----------------------------------------------

// ---- servers under test -----------------------------------------------------------------------

// ---- one scenario against one server ----------------------------------------------------------

// ---- reporting --------------------------------------------------------------------------------

interface Row {
  label: string;
  key: string;
  digits: number;
  get(s: SideResult): number[];
  /** Lower is better (for the ratio's reading). */
  lower: boolean;
}

const measured = (s: SideResult) => s.windows.filter((w) => !w.profiled && !w.replaced);
const perWindow =
  (f: (w: WindowResult) => number) =>
  (s: SideResult): number[] =>
    measured(s).map(f);
const once =
  (f: (s: SideResult) => number) =>
  (s: SideResult): number[] => [f(s)];

const LOAD_ROWS: Row[] = [
  {
    label: 'deliveries/s',
    key: 'deliveriesPerS',
    digits: 0,
    get: perWindow((w) => w.deliveriesPerS),
    lower: false,
  },
  {
    label: 'latency p50 (ms)',
    key: 'p50Ms',
    digits: 2,
    get: perWindow((w) => w.latency.p50Ms),
    lower: true,
  },
  {
    label: 'latency p99 (ms)',
    key: 'p99Ms',
    digits: 2,
    get: perWindow((w) => w.latency.p99Ms),
    lower: true,
  },
  {
    label: 'latency p99.9 (ms)',
    key: 'p999Ms',
    digits: 2,
    get: perWindow((w) => w.latency.p999Ms),
    lower: true,
  },
  {
    label: 'latency max (ms)',
    key: 'maxMs',
    digits: 2,
    get: perWindow((w) => w.latency.maxMs),
    lower: true,
  },
  {
    label: 'server CPU µs/delivery',
    key: 'cpuUsPerDelivery',
    digits: 3,
    get: perWindow((w) => w.cpuUsPerDelivery),
    lower: true,
  },
  {
    label: '  user µs/delivery',
    key: 'userUsPerDelivery',
    digits: 3,
    get: perWindow((w) => w.userUsPerDelivery),
    lower: true,
  },
  {
    label: '  system µs/delivery',
    key: 'sysUsPerDelivery',
    digits: 3,
    get: perWindow((w) => w.sysUsPerDelivery),
    lower: true,
  },
  {
    label: 'server CPU, % of a core',
    key: 'serverCorePct',
    digits: 0,
    get: perWindow((w) => w.serverCorePct),
    lower: true,
  },
  {
    label: 'server waiting for a CPU, %',
    key: 'serverWaitPct',
    digits: 0,
    get: perWindow((w) => w.serverWaitPct),
    lower: true,
  },
  {
    label: 'loss (deliveries)',
    key: 'loss',
    digits: 0,
    get: perWindow((w) => w.loss),
    lower: true,
  },
  {
    label: 'loadgen CPU, % of a core',
    key: 'loadgenCorePct',
    digits: 0,
    get: perWindow((w) => w.loadgenCorePct),
    lower: true,
  },
];

const SETUP_ROWS: Row[] = [
  {
    label: 'handshakes/s',
    key: 'handshakesPerS',
    digits: 0,
    get: once((s) => s.connect.handshakesPerS),
    lower: false,
  },
  {
    label: 'server CPU µs/connection',
    key: 'cpuUsPerConnection',
    digits: 0,
    get: once((s) => s.connect.serverCpuUsPerConnection),
    lower: true,
  },
  {
    label: 'frames while connecting',
    key: 'setupFrames',
    digits: 0,
    get: once((s) => s.connect.frames),
    lower: true,
  },
  {
    label: 'time to settle (s)',
    key: 'settleS',
    digits: 1,
    get: once((s) => (s.connect.readyMs + s.connect.settle.ms) / 1000),
    lower: true,
  },
  {
    label: 'memory/connection, RSS (KiB)',
    key: 'rssPerConnectionKiB',
    digits: 1,
    get: once((s) => s.memory.rssPerConnectionKiB),
    lower: true,
  },
  {
    label: 'memory/connection, heap (KiB)',
    key: 'heapPerConnectionKiB',
    digits: 1,
    get: once((s) => s.memory.heapPerConnectionKiB),
    lower: true,
  },
];

/** Cluster scenario rows: where a delivery crossed nodes, and the busiest node. */
const latencyOf =
  (which: 'sameNode' | 'crossNode', f: (l: LatencySummary) => number) =>
  (w: WindowResult): number =>
    w[which].latency.count > 0 ? f(w[which].latency) : NaN;

const CLUSTER_LATENCY_ROWS: Row[] = (['sameNode', 'crossNode'] as const).flatMap((which) =>
  (
    [
      ['p50', 'P50Ms', (l: LatencySummary) => l.p50Ms],
      ['p99', 'P99Ms', (l: LatencySummary) => l.p99Ms],
      ['p99.9', 'P999Ms', (l: LatencySummary) => l.p999Ms],
    ] as const
  ).map(([label, key, f]) => ({
    label: `  ${which === 'sameNode' ? 'same-node' : 'cross-node'} ${label} (ms)`,
    key: `${which}${key}`,
    digits: 2,
    get: perWindow(latencyOf(which, f)),
    lower: true,
  })),
);

const CLUSTER_SHARE_ROW: Row = {
  label: 'cross-node deliveries, %',
  key: 'crossNodePct',
  digits: 1,
  get: perWindow((w) => (w.crossNode.expected / Math.max(1, w.expected)) * 100),
  lower: false,
};

const CLUSTER_CPU_ROWS: Row[] = [
  {
    label: '  busiest node, % of a core',
    key: 'busiestNodeCorePct',
    digits: 0,
    get: perWindow((w) => Math.max(...w.nodeCorePct)),
    lower: true,
  },
  {
    label: 'PostgreSQL + Redis CPU, % of a core',
    key: 'servicesCorePct',
    digits: 0,
    get: perWindow((w) => w.servicesCorePct ?? NaN),
    lower: true,
  },
];

const CLUSTER_LOSS_ROW: Row = {
  label: '  cross-node loss',
  key: 'crossNodeLoss',
  digits: 0,
  get: perWindow((w) =>
    w.crossNode.expected > 0 ? w.crossNode.expected - w.crossNode.received : NaN,
  ),
  lower: true,
};

/** The load rows of the cluster scenario: the usual ones, with the cluster's after their kin. */
function clusterLoadRows(): Row[] {
  const out: Row[] = [];
  for (const row of LOAD_ROWS) {
    out.push(row);
    if (row.key === 'deliveriesPerS') out.push(CLUSTER_SHARE_ROW);
    if (row.key === 'maxMs') out.push(...CLUSTER_LATENCY_ROWS);
    if (row.key === 'serverCorePct') out.push(...CLUSTER_CPU_ROWS);
    if (row.key === 'loss') out.push(CLUSTER_LOSS_ROW);
  }
  return out;
}

const DISPLAY_ORDER = ['parley', 'plain', 'prefab'];

/** Where the cluster's losses came from: the deliveries lost, by the node the sender was on. */
function lossBySenderNode(s: SideResult): string {
  const ws = measured(s);
  const parts = (ws[0]?.bySenderNode ?? []).map((_, node) => {
    const expected = sum(ws.map((w) => w.bySenderNode[node]?.expected ?? 0));
    const received = sum(ws.map((w) => w.bySenderNode[node]?.received ?? 0));
    const lost = Math.max(0, expected - received);
    return (
      `node ${NODE_NAMES[node] ?? node} ${fmt(lost, 0)} of ${fmt(expected, 0)} ` +
      `(${fmt((lost / Math.max(1, expected)) * 100, 1)}%)`
    );
  });
  return `deliveries lost by the sender's node, over the ${ws.length} windows: ${parts.join('; ')}`;
}

function report(
  sc: Scenario,
  specs: SideSpec[],
  sides: Record<string, SideResult>,
  baseKey: string | undefined,
): ScenarioReport {
  const rows = sc.idle
    ? SETUP_ROWS
    : [...(sc.cluster ? clusterLoadRows() : LOAD_ROWS), ...SETUP_ROWS];
  const medians: ScenarioReport['medians'] = {};
  const shown = specs
    .filter((s) => sides[s.key])
    .sort((a, b) => DISPLAY_ORDER.indexOf(a.key) - DISPLAY_ORDER.indexOf(b.key));
  const errors = new Set(shown.map((s) => sides[s.key]?.error));
  if (!errors.has(undefined)) {
    // Nothing ran: no table of dashes, just why.
    console.log(`\n== ${sc.name}: FAILED ==`);
    for (const e of errors) console.log(`   ${e ?? ''}`);
    return { name: sc.name, title: sc.title, scenario: sc, sides, medians };
  }
  const base = shown.find((s) => s.key === baseKey);
  const others = base ? shown.filter((s) => s !== base) : [];
  const head = [
    '',
    ...shown.map((s) => s.label),
    ...others.map((s) => `${s.label}/${base?.short ?? ''}`),
  ];
  const table: string[][] = [head];
  for (const row of rows) {
    const values = (key: string): number[] => {
      const side = sides[key];
      return side && !side.error ? row.get(side) : [];
    };
    const m: ScenarioReport['medians'][string] = {};
    const cells = [row.label];
    for (const s of shown) {
      m[s.key] = median(values(s.key));
      cells.push(fmt(m[s.key] ?? NaN, row.digits));
    }
    if (base) {
      const baseValues = values(base.key);
      for (const s of others) {
        // The median of the per-window ratios (window i against window i).
        const ratios = values(s.key)
          .map((x, i) => x / (baseValues[i] ?? NaN))
          .filter((x) => Number.isFinite(x));
        const ratio = ratios.length ? median(ratios) : (m[s.key] ?? NaN) / (m[base.key] ?? NaN);
        m[`${s.key}/${base.key}`] = ratio;
        cells.push(Number.isFinite(ratio) ? `${fmt(ratio, 2)}x` : '-');
      }
    }
    medians[row.key] = m;
    table.push(cells);
  }
  const widths = head.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  console.log('');
  console.log(`== ${sc.name}: ${sc.title} ==`);
  const first = shown.map((s) => sides[s.key]).find((x) => x && !x.error);
  if (!sc.idle && first)
    console.log(
      `   (medians of ${measured(first).length} windows; ratio = median of the per-window ratios)`,
    );
  for (const r of table) {
    console.log(
      '   ' +
        r
          .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
          .join('   '),
    );
  }
  if (sc.cluster && first) {
    console.log(
      '   server CPU rows are summed over the nodes (a node can use 100% of a core); PostgreSQL +\n' +
        '   Redis is every such process on the machine, whoever uses it.',
    );
    for (const spec of shown) {
      const s = sides[spec.key];
      if (s && !s.error) console.log(`   pinning, ${spec.label}: ${s.pinning}`);
    }
  }
  for (const spec of shown) {
    const s = sides[spec.key];
    if (!s) continue;
    if (s.error) {
      console.log(`   ${spec.label} failed: ${s.error}`);
      continue;
    }
    if (sc.idle) continue;
    const lg = median(perWindow((w) => w.loadgenCorePct)(s));
    const sv = median(perWindow((w) => Math.max(...w.nodeCorePct))(s));
    const lost = median(perWindow((w) => w.loss)(s));
    const who = s.nodes > 1 ? `the busiest node of ${s.label}` : spec.label;
    if (sv > 90)
      console.log(
        `   note: ${who} used ${fmt(sv, 0)}% of its core: it is saturated, so its latency measures its backlog`,
      );
    if (lg > 90)
      console.log(
        `   note: the load generator used ${fmt(lg, 0)}% of ${s.nodes > 0 ? 'a' : 'its'} core against ${spec.label}: it is a bottleneck too`,
      );
    if (lost > 0) {
      console.log(`   note: ${spec.label} left deliveries undelivered after the drain`);
      if (s.nodes > 1) console.log(`   ${lossBySenderNode(s)}`);
    }
  }
  return { name: sc.name, title: sc.title, scenario: sc, sides, medians };
}

/** The same sides with the windows that ran without stalled clients: the baseline's columns. */
function baselineSides(sides: Record<string, SideResult>): Record<string, SideResult> {
  return Object.fromEntries(
    Object.entries(sides).map(([k, s]) => [
      k,
      s.error
        ? s
        : { ...s, windows: s.baseWindows ?? [], baseWindows: undefined, stall: undefined },
    ]),
  );
}

/**
 * What the stalled clients did to everyone else: per pair of windows, the others' p99 with them
 * against the window beside it without them, and the server's memory over each.
 */
function printStall(sc: Scenario, sides: Record<string, SideResult>): void {
  const mib = (kib: number) => `${kib >= 0 ? '+' : ''}${fmt(kib / 1024, 1)} MiB`;
  console.log(
    `   ${sc.stalled} clients stop reading at the start of each window; against the window beside it without them (${sc.baseline ?? '-'}):`,
  );
  for (const key of DISPLAY_ORDER) {
    const s = sides[key];
    if (!s?.stall) continue;
    const withThem = measured(s);
    const without = measured({ ...s, windows: s.baseWindows ?? [] });
    const ratios = withThem.map((w, i) => w.latency.p99Ms / (without[i]?.latency.p99Ms ?? NaN));
    const growth = (ws: WindowResult[]) => mib(median(ws.map((w) => w.rssGrowthKiB)));
    const closed =
      s.stall.closedAsSlow === undefined
        ? 'no policy for slow consumers (the load generator closed them at the end of each window)'
        : `${s.stall.closedAsSlow} of ${s.stall.clients} closed as slow consumers (1013)`;
    console.log(
      `   ${s.label}: others' p99 ${fmt(median(withThem.map((w) => w.latency.p99Ms)), 2)} ms with them, ` +
        `${fmt(median(without.map((w) => w.latency.p99Ms)), 2)} ms without: ${fmt(median(ratios), 2)}x ` +
        `(per pair ${ratios.map((r) => `${fmt(r, 2)}x`).join(', ')}); server RSS ${growth(withThem)} ` +
        `over a window with them, ${growth(without)} without; ${closed}`,
    );
  }
}

function printProfile(s: SideResult): void {
  if (!s.profile) return;
  const pr = s.profile;
  console.log(
    `\n   ${s.label}${s.nodes > 1 ? ' (node A)' : ''}: CPU profile of one window (${pr.file}), ${fmt(pr.totalMs, 0)} ms sampled`,
  );
  console.log('     by area (self time):');
  for (const [k, v] of pr.categories.slice(0, 12))
    console.log(`       ${fmt((v / pr.busyMs) * 100, 1).padStart(5)}%  ${k}`);
  console.log('     hottest functions (self time, % of busy):');
  for (const f of pr.self.slice(0, 18))
    console.log(`       ${fmt((f.ms / pr.busyMs) * 100, 1).padStart(5)}%  ${f.name}`);
  console.log('     inclusive (% of busy):');
  for (const f of pr.inclusive.slice(0, 18))
    console.log(`       ${fmt((f.ms / pr.busyMs) * 100, 1).padStart(5)}%  ${f.name}`);
}

// ---- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    process.exit(2);
  }
  const all = scenarios(opts.quick);
  // The attack scenario is its own program (bench/attack.ts): one server, bystanders, attackers.
  const attack = opts.scenarios.length === 0 || opts.scenarios.includes('attack');
  const wanted = opts.scenarios.filter((s) => s !== 'attack');
  const chosen =
    opts.scenarios.length === 0
      ? all
      : all.filter((s) => wanted.some((want) => s.name.startsWith(want)));
  if (chosen.length === 0 && attack) {
    process.exitCode = runAttack(opts);
    return;
  }
  if (chosen.length === 0) {
    console.error(`bench: no scenario matches ${opts.scenarios.join(', ')}`);
    process.exit(2);
  }
  lastOptions = opts;
  const withCluster = chosen.some((s) => s.cluster) && opts.servers.includes('parley');
  for (const sc of chosen) {
    if (sc.clients + 200 > FD_LIMIT) {
      console.error(
        `bench: ${sc.name} needs ${sc.clients} connections but the file limit is ${FD_LIMIT}; lowering`,
      );
      sc.clients = FD_LIMIT - 200;
    }
  }
  const deadline = setTimeout(() => {
    console.error(`bench: still running after ${opts.deadlineS} s; stopping`);
    stopAndExit(1);
  }, opts.deadlineS * 1000);
  deadline.unref();

  const git = (args: string[]) =>
    spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '';
  const started = new Date();
  removeStaleRunDirs();
  mkdirSync(runDir, { recursive: true });
  tempDirs.push(runDir);
  const loadBefore = loadavg();
  const snapshot = opts.servers.includes('parley') ? snapshotParley(opts.serverFrom) : undefined;
  // Said at once rather than after the other scenarios; checked again when its turn comes.
  if (withCluster)
    await checkServices(opts).catch((e: unknown) => {
      console.error(`bench: cluster-2 will fail: ${reason(e)}`);
    });
  console.log(
    `bench: ${opts.quick ? 'quick' : 'full'} run; Parley from a copy of ${opts.serverFrom === 'dist' ? 'dist/ (built)' : 'src/ (through tsx)'}` +
      `${snapshot ? ` (${snapshot})` : ''}; ` +
      `${opts.windows} window(s) of ${opts.windowMs / 1000} s after ${opts.warmupMs / 1000} s of warm-up`,
  );
  console.log(
    `bench: ${cpus().length} cores, ${canPin && opts.pin ? `server on core 0, load generator on core 1${withCluster ? ' (cluster-2: node A on core 0, node B on core 1, load generator unpinned)' : ''}` : 'not pinned'}; ` +
      `load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}; file limit ${FD_LIMIT}`,
  );

  const reports: ScenarioReport[] = [];
  let failures = 0;
  for (const sc of chosen) {
    // A baseline is measured in turn with the scenario that names it, in the same processes.
    if (chosen.some((o) => o.baseline === sc.name)) continue;
    const { specs, base } = sideSpecs(sc, opts);
    if (specs.length === 0) {
      console.log(`\n-- ${sc.name}: skipped (it runs Parley only, and --servers leaves it out)`);
      continue;
    }
    console.log(`\n-- ${sc.name}: ${sc.title}`);
    // The cluster scenario needs PostgreSQL and Redis: without them it fails, it is not skipped.
    let unavailable: string | undefined;
    if (sc.cluster) {
      try {
        await checkServices(opts);
        const stale = await dropStaleSchemas(opts);
        if (stale.length) note(`dropped ${stale.length} schema(s) left by killed runs`);
      } catch (e) {
        unavailable = reason(e);
      }
    }
    if (unavailable) note(`failed: ${unavailable}`);
    const sides = unavailable
      ? Object.fromEntries(specs.map((spec) => [spec.key, failedSide(spec, unavailable)]))
      : await runSides(sc, specs, opts);
    failures += Object.values(sides).filter((s) => s.error !== undefined).length;
    const baseline = all.find((o) => o.name === sc.baseline);
    if (baseline) reports.push(report(baseline, specs, baselineSides(sides), base));
    reports.push(report(sc, specs, sides, base));
    if (sc.stalled > 0) printStall(sc, sides);
    for (const s of Object.values(sides)) printProfile(s);
  }

  const out = {
    command: `node --import tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    started: started.toISOString(),
    finished: new Date().toISOString(),
    node: process.version,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      memoryGiB: totalmem() / 2 ** 30,
      loadavgBefore: loadBefore,
      loadavgAfter: loadavg(),
      pinned: canPin && opts.pin,
      clockTicksPerS: CLK_TCK,
      fileLimit: FD_LIMIT,
    },
    git: {
      head: git(['rev-parse', 'HEAD']),
      dirty: git(['status', '--porcelain', 'src']).length > 0,
    },
    parley: { from: opts.serverFrom, snapshot },
    options: { ...opts, postgres: redactArg(opts.postgres), redis: redactArg(opts.redis) },
    scenarios: reports,
  };
  mkdirSync(join(opts.out, '..'), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nbench: results in ${relative(root, opts.out)}`);
  if (failures) {
    console.error(`bench: ${failures} side(s) failed (see above)`);
    process.exitCode = 1;
  }
  clearTimeout(deadline);
  killAll();
  if (attack && runAttack(opts) !== 0) process.exitCode = 1;
}

/** Runs bench/attack.ts on core 1 (it puts the server on core 0); its exit status. */
function runAttack(opts: Options): number {
  console.log('\n-- attack: one hostile address against default limits, bystanders beside it');
  const cmd = [process.execPath, '--import', 'tsx', join(benchDir, 'attack.ts')];
  if (opts.quick) cmd.push('--quick');
  const argv = canPin && opts.pin ? ['taskset', '-c', '1', ...cmd] : cmd;
  const r = spawnSync(argv[0] ?? process.execPath, argv.slice(1), { cwd: root, stdio: 'inherit' });
  return r.status ?? 1;
}

main().catch((e: unknown) => {
  console.error('bench: failed:', e);
  stopAndExit(1);
});
