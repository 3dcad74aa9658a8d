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

import { type ChildProcess, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Command, ConnectResult, LatencySummary, RunResult, SettleResult } from './ipc.js';
import { type ProfileSummary, summarizeProfile } from './profile.js';
import { median, sum } from './stats.js';
import { fmt, note, reason, redactArg } from './format.js';
import { benchDir, hook, resultsDir, root, runDir, snapshotDir } from './paths.js';
import { type Options, parseOptions, type ServerKind, USAGE } from './options.js';
import { removeStaleRunDirs, snapshotParley } from './snapshot.js';
import { NODE_NAMES, type Scenario, scenarios, type SideSpec, sideSpecs } from './scenarios.js';
import {
  CLK_TCK,
  type Cpu,
  cpuDelta,
  readCpu,
  readRssKiB,
  readSched,
  readServicesCpu,
  servicesCpuUs,
} from './proc-stats.js';
import {
  canConnect,
  canPin,
  exited,
  FD_LIMIT,
  freePort,
  killAll,
  Rpc,
  sleep,
  spawnChild,
  tempDirs,
} from './processes.js';
import {
  checkServices,
  dropPendingSchemas,
  dropSchema,
  dropStaleSchemas,
  freshBackend,
} from './backends.js';

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

interface ServerUnderTest {
  kind: ServerKind;
  proc: ChildProcess;
  pid: number;
  url: string;
  /** Parley's /metrics. */
  metricsUrl?: string;
  rpc: Rpc;
  command: string;
}

async function startServer(
  kind: ServerKind,
  sc: Scenario,
  opts: Options,
  logFile: string,
  /** The core to pin it to, if any, and more flags (the cluster scenario's store and bus). */
  place: { core: number | undefined; args: string[] },
): Promise<ServerUnderTest> {
  for (let attempt = 1; ; attempt++) {
    const wsPort = await freePort();
    let argv: string[];
    let metricsUrl: string | undefined;
    if (kind === 'parley') {
      const httpPort = await freePort();
      metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
      const data = mkdtempSync(join(runDir, 'data-'));
      const entry =
        opts.serverFrom === 'dist'
          ? [join(snapshotDir, 'dist', 'server', 'main.js')]
          : ['--import', 'tsx', join(snapshotDir, 'src', 'server', 'main.ts')];
      argv = [
        'node',
        '--expose-gc',
        '--import',
        hook,
        ...entry,
        ...['--host', '127.0.0.1', '--http-port', String(httpPort), '--ws-port', String(wsPort)],
        ...['--data-dir', data, '--log-level', 'warn'],
        ...['--rate', '100000', '--rate-burst', '100000', '--connections-per-address', '100000'],
        ...['--sockets-per-address', '100000'],
        ...place.args,
        ...opts.parleyArgs,
      ];
    } else {
      argv = ['node', '--expose-gc', '--import', hook, '--import', 'tsx'];
      argv.push(`bench/${kind}-ws-server.ts`, '--port', String(wsPort));
      if (sc.rooms > 0) argv.push('--rooms');
      if (kind === 'prefab') argv.push('--gather-ms', String(opts.gatherMs));
    }
    const log = openSync(logFile, 'a');
    const proc = spawnChild(argv, place.core, ['ignore', log, log, 'ipc']);
    closeSync(log);
    const rpc = new Rpc(proc, kind);
    const deadline = performance.now() + 30_000;
    let up = false;
    while (!rpc.exited && performance.now() < deadline) {
      if (await canConnect(wsPort)) {
        up = true;
        break;
      }
      await sleep(100);
    }
    if (up && proc.pid !== undefined) {
      const comm = readFileSync(`/proc/${proc.pid}/comm`, 'utf8').trim();
      if (comm !== 'node') throw new Error(`${kind}: pid ${proc.pid} is ${comm}, not node`);
      return {
        kind,
        proc,
        pid: proc.pid,
        url: `ws://127.0.0.1:${wsPort}`,
        ...(metricsUrl ? { metricsUrl } : {}),
        rpc,
        command: argv.map((a) => redactArg(a.startsWith(root) ? relative(root, a) : a)).join(' '),
      };
    }
    proc.kill('SIGKILL');
    await exited(proc);
    if (attempt >= 3) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`${kind} did not start (see ${relative(root, logFile)}):\n${tail}`);
    }
  }
}

async function startLoadgen(core: number | undefined): Promise<Rpc> {
  const proc = spawnChild(['node', '--import', 'tsx', 'bench/loadgen.ts'], core, [
    'ignore',
    'inherit',
    'inherit',
    'ipc',
  ]);
  const rpc = new Rpc(proc, 'loadgen');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('loadgen did not start')), 30_000);
    proc.on('message', (m: { ready?: boolean }) => {
      if (m.ready) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', () => reject(new Error('loadgen exited at start')));
  });
  return rpc;
}

// ---- one scenario against one server ----------------------------------------------------------

interface WindowResult extends RunResult {
  profiled: boolean;
  /** A server, or the load generator, waited for a CPU more than --max-wait-pct of the window. */
  contended: boolean;
  /** Contended and run again: left out of the medians. */
  replaced: boolean;
  wallMs: number;
  /** Server RSS (summed over nodes) at the window's end minus at its start. */
  rssGrowthKiB: number;
  deliveriesPerS: number;
  /** Server CPU time, summed over the nodes in the cluster scenario. */
  serverCpuUs: number;
  serverUserUs: number;
  serverSysUs: number;
  /** Server CPU time per delivery, microseconds (user + system), summed over the nodes. */
  cpuUsPerDelivery: number;
  userUsPerDelivery: number;
  sysUsPerDelivery: number;
  /** Share of one core used over the window (summed over the nodes: up to 100% per node). */
  serverCorePct: number;
  /** Share of the window the server's main thread was runnable but waiting for a CPU (the most of any node). */
  serverWaitPct: number;
  /** Per node (one entry outside the cluster scenario). */
  nodeCorePct: number[];
  nodeWaitPct: number[];
  /** Cluster scenario: every PostgreSQL and Redis process on the machine, share of one core. */
  servicesCorePct?: number;
  loadgenCorePct: number;
  loadgenWaitPct: number;
  /** Load generator CPU per frame it received, microseconds (user, system). */
  loadgenUserUsPerFrame: number;
  loadgenSysUsPerFrame: number;
  loss: number;
}

interface SideResult {
  server: ServerKind;
  /** Column label: the server's name, or `2 nodes` in the cluster scenario. */
  label: string;
  /** Parley nodes on PostgreSQL + Redis (cluster scenario), else 0. */
  nodes: number;
  /** The server's command line (the first node's in the cluster scenario). */
  command: string;
  /** Every node's command line, and the core each process was pinned to. */
  commands: string[];
  pinning: string;
  connect: ConnectResult & {
    handshakesPerS: number;
    serverCpuUsPerConnection: number;
    settle: SettleResult;
    settleServerCpuUs: number;
  };
  memory: {
    rssBeforeKiB: number;
    rssAfterKiB: number;
    heapUsedBefore: number;
    heapUsedAfter: number;
    rssPerConnectionKiB: number;
    heapPerConnectionKiB: number;
  };
  warmup?: RunResult;
  /** In the scenarios with stalled clients, those windows; the others are in `baseWindows`. */
  windows: WindowResult[];
  /** Windows without stalled clients, each run beside the window of `windows` at its index. */
  baseWindows?: WindowResult[];
  /** Scenarios with stalled clients: what the server did with them. */
  stall?: {
    clients: number;
    /** Parley's parley_slow_consumers_total at the end (the plain server has no such policy). */
    closedAsSlow?: number;
  };
  profile?: ProfileSummary & { file: string };
  error?: string;
}

type Memory = { heapUsed: number };

/** A side whose servers and load generator are up and whose clients are connected and warm. */
interface OpenSide {
  side: SideResult;
  /** Runs the next window (a pair with and without stalled clients); false if it must be run again. */
  unit(w: number): Promise<boolean>;
  /** One more window under the V8 profiler, left out of the medians. */
  profile(w: number): Promise<void>;
  /** Records what is left to record and stops every process of the side. */
  close(): Promise<void>;
}

async function openSide(spec: SideSpec, sc: Scenario, opts: Options): Promise<OpenSide> {
  mkdirSync(resultsDir, { recursive: true });
  const pin = opts.pin && canPin;
  const cluster = spec.nodes > 0;
  const count = Math.max(1, spec.nodes);
  // Outside the cluster scenario: the server on core 0, the load generator on core 1. In it:
  // node i on core i (one node per core), the load generator unpinned, as are PostgreSQL and
  // Redis, in both columns alike.
  const coreOf = (i: number) => (pin ? i % cpus().length : undefined);
  const loadgenCore = pin && !cluster ? 1 : undefined;
  const backend = cluster ? freshBackend(opts, spec.key) : undefined;
  const servers: ServerUnderTest[] = [];
  let lg: Rpc | undefined;
  const stop = async () => {
    // The servers go first, so that no one pays for a thousand goodbyes.
    for (const s of servers) s.proc.kill('SIGKILL');
    await Promise.all(servers.map((s) => exited(s.proc)));
    if (lg) {
      await lg.call({ cmd: 'close' }, 15_000).catch(() => undefined);
      lg.proc.kill('SIGKILL');
      await exited(lg.proc);
    }
    if (backend)
      await dropSchema(opts, backend.schema).catch((e: unknown) =>
        note(`could not drop schema ${backend.schema}: ${reason(e)}`),
      );
  };
  try {
    for (let i = 0; i < count; i++) {
      const base = cluster
        ? `${sc.name}-${spec.key}-${NODE_NAMES[i] ?? i}`
        : `${sc.name}-${spec.kind}`;
      const logFile = join(resultsDir, `${base}.log`);
      writeFileSync(logFile, '');
      const args = backend ? ['--store', backend.storeUrl, '--bus', backend.busUrl] : [];
      servers.push(await startServer(spec.kind, sc, opts, logFile, { core: coreOf(i), args }));
    }
    lg = await startLoadgen(loadgenCore);
    const loadPid = lg.proc.pid ?? 0;
    const pids = servers.map((s) => s.pid);
    const cpuNow = (): Cpu => {
      const all = pids.map(readCpu);
      return { userUs: sum(all.map((c) => c.userUs)), sysUs: sum(all.map((c) => c.sysUs)) };
    };
    const settleGc = async () => {
      const ms = await Promise.all(servers.map((s) => s.rpc.call<Memory>({ cmd: 'gc' }, 60_000)));
      await sleep(300);
      return { rss: sum(pids.map(readRssKiB)), heap: sum(ms.map((m) => m.heapUsed)) };
    };
    const before = await settleGc();

    const protocol =
      spec.kind === 'parley' && sc.idle && opts.idleProtocol === 'json' ? 'parley.v1' : undefined;
    const connectCommand = (n: number): Command => ({
      cmd: 'connect',
      urls: servers.map((s) => s.url),
      n,
      concurrency: 100,
      rooms: sc.rooms,
      ...(protocol ? { protocol } : {}),
      readyTimeoutMs: 120_000,
      client: opts.client,
    });
    const c0 = cpuNow();
    const conn = await lg.call<ConnectResult>(connectCommand(sc.clients), 600_000);
    const c1 = cpuNow();
    const settle = await lg.call<SettleResult>(
      { cmd: 'settle', quietMs: 1500, maxMs: 300_000 } satisfies Command,
      310_000,
    );
    const c2 = cpuNow();
    const after = await settleGc();
    const n = Math.max(1, conn.opened);
    const where = (i: number) => {
      const core = coreOf(i);
      return core === undefined ? 'unpinned' : `core ${core}`;
    };
    const side: SideResult = {
      server: spec.kind,
      label: spec.label,
      nodes: spec.nodes,
      command: servers[0]?.command ?? '',
      commands: servers.map((s) => s.command),
      pinning:
        servers
          .map((_, i) => `${cluster ? `node ${NODE_NAMES[i] ?? i}` : 'server'} ${where(i)}`)
          .join(', ') +
        `, load generator ${loadgenCore === undefined ? 'unpinned' : `core ${loadgenCore}`}`,
      connect: {
        ...conn,
        handshakesPerS: conn.opened / (conn.handshakeMs / 1000),
        serverCpuUsPerConnection: cpuDelta(c0, c1).totalUs / n,
        settle,
        settleServerCpuUs: cpuDelta(c1, c2).totalUs,
      },
      memory: {
        rssBeforeKiB: before.rss,
        rssAfterKiB: after.rss,
        heapUsedBefore: before.heap,
        heapUsedAfter: after.heap,
        rssPerConnectionKiB: (after.rss - before.rss) / n,
        heapPerConnectionKiB: (after.heap - before.heap) / 1024 / n,
      },
      windows: [],
    };
    note(
      `${spec.key}: ${conn.opened}/${sc.clients} connected in ${fmt(conn.handshakeMs / 1000, 1)} s` +
        `, ready ${conn.ready} in ${fmt(conn.readyMs / 1000, 1)} s, settled after ${fmt(settle.ms / 1000, 1)} s` +
        ` (${conn.frames} frames while connecting)` +
        (conn.failed ? `, ${conn.failed} failed: ${conn.errors.join('; ')}` : ''),
    );
    if (cluster) note(`${spec.key}: ${side.pinning}`);
    if (sc.idle) {
      const done = () => Promise.reject(new Error('an idle scenario has no windows'));
      return { side, unit: done, profile: done, close: stop };
    }

    const runCmd = (phase: number, durationMs: number): Command => ({
      cmd: 'run',
      phase,
      rate: sc.rate,
      sendersPerRoom: sc.sendersPerRoom,
      durationMs,
      drainMs: 60_000,
      quietMs: 3000,
      messageBytes: sc.messageBytes,
    });
    side.warmup = await lg.call<RunResult>(runCmd(0, opts.warmupMs), opts.warmupMs + 90_000);
    if (cluster)
      note(
        `${spec.key}: senders per node ${side.warmup.sendersPerNode.join(' / ')}` +
          (spec.nodes > 1
            ? `; warm-up: ${fmt((side.warmup.crossNode.expected / Math.max(1, side.warmup.expected)) * 100, 0)}% of the deliveries cross nodes`
            : ''),
      );
    const load = lg;
    let phase = 0;
    let stalledWindows = 0;
    const profiledServer = servers[0];
    // One window. With `stalled`, that many more clients connect first and stop reading as it
    // starts; at its end they are closed from the client side.
    const measure = async (stalled: number, profiled: boolean): Promise<WindowResult> => {
      phase = (phase % 9) + 1;
      // Each window starts on a quiet server: whatever backlog the last one left is gone.
      await load.call<SettleResult>({ cmd: 'settle', quietMs: 1000, maxMs: 60_000 }, 70_000);
      if (stalled > 0) {
        const more = await load.call<ConnectResult>(connectCommand(stalled), 180_000);
        if (more.ready < stalled)
          throw new Error(`only ${more.ready} of ${stalled} clients to stall became ready`);
        await load.call({ cmd: 'stall', n: stalled } satisfies Command, 10_000);
        stalledWindows++;
      }
      if (profiled) await profiledServer?.rpc.call({ cmd: 'prof-start' }, 10_000);
      const rss0 = sum(pids.map(readRssKiB));
      const s0 = pids.map(readCpu);
      const l0 = readCpu(loadPid);
      const q0 = pids.map(readSched);
      const g0 = readSched(loadPid);
      const v0 = cluster ? readServicesCpu() : undefined;
      const t0 = performance.now();
      const r = await load.call<RunResult>(runCmd(phase, opts.windowMs), opts.windowMs + 90_000);
      const t1 = performance.now();
      const s1 = pids.map(readCpu);
      const l1 = readCpu(loadPid);
      const q1 = pids.map(readSched);
      const g1 = readSched(loadPid);
      const v1 = cluster ? readServicesCpu() : undefined;
      const rss1 = sum(pids.map(readRssKiB));
      if (stalled > 0) await load.call({ cmd: 'release' } satisfies Command, 15_000);
      if (profiled && profiledServer) {
        const dir = join(resultsDir, 'prof');
        mkdirSync(dir, { recursive: true });
        const file = join(dir, `${sc.name}-${spec.key}.cpuprofile`);
        await profiledServer.rpc.call({ cmd: 'prof-stop', file }, 60_000);
        side.profile = { file: relative(root, file), ...summarizeProfile(file) };
      }
      const wall = t1 - t0;
      const nodeCpu = s1.map((end, i) => cpuDelta(s0[i] ?? end, end));
      const sd = {
        userUs: sum(nodeCpu.map((c) => c.userUs)),
        sysUs: sum(nodeCpu.map((c) => c.sysUs)),
        totalUs: sum(nodeCpu.map((c) => c.totalUs)),
      };
      const nodeWaitPct = pids.map(
        (_, i) => (((q1[i]?.waitNs ?? 0) - (q0[i]?.waitNs ?? 0)) / 1e6 / wall) * 100,
      );
      const ld = cpuDelta(l0, l1);
      const loadgenWaitPct = ((g1.waitNs - g0.waitNs) / 1e6 / wall) * 100;
      const d = Math.max(1, r.received);
      return {
        ...r,
        profiled,
        contended: Math.max(loadgenWaitPct, ...nodeWaitPct) > opts.maxWaitPct,
        replaced: false,
        wallMs: wall,
        rssGrowthKiB: rss1 - rss0,
        deliveriesPerS: r.received / (r.spanMs / 1000),
        serverCpuUs: sd.totalUs,
        serverUserUs: sd.userUs,
        serverSysUs: sd.sysUs,
        cpuUsPerDelivery: sd.totalUs / d,
        userUsPerDelivery: sd.userUs / d,
        sysUsPerDelivery: sd.sysUs / d,
        serverCorePct: (sd.totalUs / 1000 / wall) * 100,
        serverWaitPct: Math.max(...nodeWaitPct),
        nodeCorePct: nodeCpu.map((c) => (c.totalUs / 1000 / wall) * 100),
        nodeWaitPct,
        ...(v0 && v1 ? { servicesCorePct: (servicesCpuUs(v0, v1) / 1000 / wall) * 100 } : {}),
        loadgenCorePct: (ld.totalUs / 1000 / wall) * 100,
        loadgenWaitPct,
        loadgenUserUsPerFrame: ld.userUs / d,
        loadgenSysUsPerFrame: ld.sysUs / d,
        loss: r.expected - r.received,
      };
    };
    const pcts = (xs: number[]) => xs.map((x) => fmt(x, 0)).join('+');
    const describe = (w: number, win: WindowResult, what: string) =>
      note(
        `${spec.key} window ${w}${what}${win.profiled ? ' (profiled)' : ''}${win.replaced ? ' (contended: run again)' : ''}: ` +
          `${fmt(win.deliveriesPerS, 0)} deliveries/s, ` +
          `${fmt(win.cpuUsPerDelivery, 2)} µs CPU/delivery, p99 ${fmt(win.latency.p99Ms, 2)} ms` +
          (spec.nodes > 1
            ? ` (same node ${fmt(win.sameNode.latency.p99Ms, 2)}, cross-node ${fmt(win.crossNode.latency.p99Ms, 2)})`
            : '') +
          `, loss ${win.loss}, server ${pcts(win.nodeCorePct)}% / loadgen ${fmt(win.loadgenCorePct, 0)}% of a core` +
          (win.servicesCorePct !== undefined
            ? ` / PostgreSQL + Redis ${fmt(win.servicesCorePct, 0)}%`
            : '') +
          `; waited for a CPU ${pcts(win.nodeWaitPct)}% / ${fmt(win.loadgenWaitPct, 0)}%`,
      );
    let retries = 0;
    // A unit is a window, or in the scenarios with stalled clients a pair of windows, one
    // without them and one with them, judged as one. The pair's order alternates (without/with,
    // then with/without, ...) so that a machine growing busier or quieter weighs on both alike.
    // A unit spoiled by other processes (a server or the load generator waited for a CPU more
    // than --max-wait-pct of a window) is run again, at most --retries times: it says so by
    // returning false.
    const unit = async (w: number): Promise<boolean> => {
      const withFirst = sc.stalled > 0 && w % 2 === 0;
      const first = await measure(withFirst ? sc.stalled : 0, false);
      const second = sc.stalled > 0 ? await measure(withFirst ? 0 : sc.stalled, false) : undefined;
      const pair = second ? [first, second] : [first];
      const replaced = pair.some((x) => x.contended) && retries < opts.retries;
      if (replaced) retries++;
      for (const x of pair) x.replaced = replaced;
      const [without, stalledOne] = withFirst ? [second, first] : [first, second];
      if (without) {
        if (stalledOne) (side.baseWindows ??= []).push(without);
        else side.windows.push(without);
        describe(w, without, stalledOne ? ' without stalled clients' : '');
      }
      if (stalledOne) {
        side.windows.push(stalledOne);
        describe(w, stalledOne, ` with ${sc.stalled} stalled clients`);
      }
      return !replaced;
    };
    const profile = async (w: number): Promise<void> => {
      const win = await measure(sc.stalled, true);
      side.windows.push(win);
      describe(w, win, '');
    };
    const close = async (): Promise<void> => {
      try {
        if (sc.stalled > 0) {
          const metricsUrl = servers[0]?.metricsUrl;
          const closedAsSlow = metricsUrl ? await slowConsumers(metricsUrl) : undefined;
          side.stall = {
            clients: sc.stalled * stalledWindows,
            ...(closedAsSlow === undefined ? {} : { closedAsSlow }),
          };
        }
      } finally {
        await stop();
      }
    };
    return { side, unit, profile, close };
  } catch (e) {
    await stop();
    throw e;
  }
}

function failedSide(spec: SideSpec, error: string): SideResult {
  return { server: spec.kind, label: spec.label, nodes: spec.nodes, error } as SideResult;
}

/**
 * Runs a scenario's sides. In the load scenarios they are all up at once and take turns, one
 * window each (A B, then B A, ...), so that what the rest of the machine does falls on every
 * side alike and window i of each ran next to the others' window i. An idle side costs the
 * others nothing: its clients send nothing and its server waits. The idle scenario (memory and
 * handshakes) and the cluster scenario (which pins its nodes to both cores) run one side after
 * the other.
 */
async function runSides(
  sc: Scenario,
  specs: SideSpec[],
  opts: Options,
): Promise<Record<string, SideResult>> {
  const sides: Record<string, SideResult> = {};
  const groups = sc.idle || sc.cluster ? specs.map((s) => [s]) : [specs];
  for (const group of groups) {
    const open: { spec: SideSpec; run: OpenSide; counted: number }[] = [];
    const fail = (spec: SideSpec, e: unknown) => {
      const error = reason(e);
      note(`${spec.key} failed: ${error}`);
      sides[spec.key] = failedSide(spec, error);
    };
    try {
      for (const spec of group) {
        try {
          const run = await openSide(spec, sc, opts);
          open.push({ spec, run, counted: 0 });
          sides[spec.key] = run.side;
        } catch (e) {
          fail(spec, e);
        }
      }
      // A side that fails is closed and left out; the others go on.
      const attempt = async (o: (typeof open)[number], step: () => Promise<void>) => {
        try {
          await step();
        } catch (e) {
          fail(o.spec, e);
          open.splice(open.indexOf(o), 1);
          await o.run.close().catch(() => undefined);
        }
      };
      const windows = Math.max(opts.windows, sc.minWindows ?? 0);
      for (let w = 1; !sc.idle && open.some((o) => o.counted < windows); w++) {
        for (const o of w % 2 ? [...open] : [...open].reverse()) {
          if (o.counted < windows)
            await attempt(o, async () => {
              if (await o.run.unit(w)) o.counted++;
            });
        }
      }
      if (opts.profile && !sc.idle)
        for (const o of [...open]) await attempt(o, () => o.run.profile(windows + 1));
    } finally {
      for (const o of open) await o.run.close().catch((e: unknown) => fail(o.spec, e));
    }
  }
  return sides;
}

/** Parley's count of connections closed as slow consumers. */
async function slowConsumers(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const m = /^parley_slow_consumers_total (\d+)/m.exec(text);
  if (!m) throw new Error(`no parley_slow_consumers_total in ${metricsUrl}`);
  return Number(m[1]);
}

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

interface ScenarioReport {
  name: string;
  title: string;
  scenario: Scenario;
  /** By side key: parley, plain, prefab; 1-node, 2-nodes in the cluster scenario. */
  sides: Record<string, SideResult>;
  /**
   * Per metric: each side's median, and each other side's ratio to the base side
   * (`parley/plain`; `2-nodes/1-node` in the cluster scenario).
   */
  medians: Record<string, Record<string, number>>;
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
