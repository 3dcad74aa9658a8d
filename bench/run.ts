// `npm run bench`: Parley's fan-out against the tutorial's plain `ws` broadcast loop, same
// scenarios, same run. Each server runs as its own process (pinned to core 0 where taskset
// exists), driven by a separate load generator (bench/loadgen.ts, pinned to core 1), on
// 127.0.0.1 only. The cluster scenario runs Parley on PostgreSQL + Redis instead, one node and
// then two (node A on core 0, node B on core 1, the load generator unpinned), and compares them.
// See bench/README.md for what is measured and how.
//
// This file puts the run together: the options (bench/options.ts), the scenarios and their sides
// (bench/scenarios.ts), running them (bench/sides.ts), the tables (bench/report.ts), the JSON
// results, and the scenarios that are programs of their own (bench/attack.ts, bench/logins.ts,
// bench/search.ts, bench/mixed.ts).
//
//   node --import tsx bench/run.ts [--quick] [--scenario NAME[,NAME]] [--servers parley,plain]
//        [--windows N] [--window-ms MS] [--server-from dist|src] [--profile] [--no-pin]
//        [--idle-protocol json|text] [--client ws|raw] [--postgres URL] [--redis URL]
//        [--out FILE]

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { note, reason, redactArg } from './format.js';
import { benchDir, root, runDir } from './paths.js';
import { type Options, parseOptions, USAGE } from './options.js';
import { removeStaleRunDirs, snapshotParley } from './snapshot.js';
import { scenarios, sideSpecs } from './scenarios.js';
import { CLK_TCK } from './proc-stats.js';
import { canPin, FD_LIMIT, killAll, tempDirs } from './processes.js';
import { checkServices, dropPendingSchemas, dropStaleSchemas } from './backends.js';
import type { ScenarioReport } from './results.js';
import { failedSide, runSides } from './sides.js';
import { baselineSides, printProfile, printStall, report } from './report.js';

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

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    process.exit(2);
  }
  const all = scenarios(opts.quick);
  // The attack and logins scenarios are programs of their own: one server, bystanders, a load.
  const programs = PROGRAMS.filter(
    (p) => (opts.scenarios.length === 0 && !p.named) || opts.scenarios.includes(p.name),
  );
  const wanted = opts.scenarios.filter((s) => !PROGRAMS.some((p) => p.name === s));
  const chosen =
    opts.scenarios.length === 0
      ? all
      : all.filter((s) => wanted.some((want) => s.name.startsWith(want)));
  if (chosen.length === 0 && programs.length > 0) {
    process.exitCode = runPrograms(programs, opts);
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
  if (programs.length > 0 && runPrograms(programs, opts) !== 0) process.exitCode = 1;
}

/** The scenarios that are programs of their own; each places its server itself. */
const PROGRAMS: { name: string; title: string; file?: string; args?: string[]; named?: boolean }[] =
  [
    { name: 'attack', title: 'one hostile address against default limits, bystanders beside it' },
    { name: 'logins', title: '50 password logins a second, bystanders beside them' },
    { name: 'search', title: 'search latency over a room of a million messages' },
    { name: 'mixed', title: 'sends beside edits, reactions and searches, in that room' },
    {
      name: 'instance',
      title: '19,000 people at activity factors 1 to 10 (5: the traffic of 100,000), then a crash',
    },
    {
      name: 'crash',
      title: 'kill -9 with 19,000 connected: how long until everyone is back and caught up',
      file: 'instance',
      args: ['--crash-only'],
      // The instance scenario ends with the same crash: this one runs only when asked for.
      named: true,
    },
    {
      name: 'instance-cluster',
      title:
        '38,000 people on two nodes (PostgreSQL + Redis of its own), factors 1 to 10; the bus and the store',
      file: 'instance',
      args: ['--nodes', '2'],
      named: true,
    },
  ];

/** Runs bench/<name>.ts for each on core 1, one after the other; 1 if any failed. */
function runPrograms(programs: typeof PROGRAMS, opts: Options): number {
  let status = 0;
  for (const { name, title, file, args } of programs) {
    console.log(`\n-- ${name}: ${title}`);
    const cmd = [process.execPath, '--import', 'tsx', join(benchDir, `${file ?? name}.ts`)];
    cmd.push(...(args ?? []));
    if (opts.quick) cmd.push('--quick');
    const argv = canPin && opts.pin ? ['taskset', '-c', '1', ...cmd] : cmd;
    const r = spawnSync(argv[0] ?? process.execPath, argv.slice(1), {
      cwd: root,
      stdio: 'inherit',
    });
    if (r.status !== 0) status = 1;
  }
  return status;
}

main().catch((e: unknown) => {
  console.error('bench: failed:', e);
  stopAndExit(1);
});
