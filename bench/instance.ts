// `npm run bench -- --scenario instance`: what one node serves. People connected, each in 3 to
// 8 rooms of a long tail of sizes (a few of thousands, most of 5 to 50) and in direct
// conversations, a name each, presence on; each sends a message every two minutes on average
// (a typing notice before it), reacts and edits now and then, and 0.5% of them a minute drop
// their connection and come back with `since`. An activity factor multiplies the rates: 19,000
// connections at factor 5 are the traffic of about 100,000 people. Then the way back from a
// crash (`--scenario crash` runs only that): with everyone connected, the server is killed
// with SIGKILL and started again, and everyone comes back.
//
//   node --import tsx bench/instance.ts [--quick] [--people N] [--factors 1,2,5,10]
//        [--window-ms MS] [--warmup-ms MS] [--repeats N] [--crash-factor F] [--no-crash]
//        [--crash-only] [--server-args "..."] [--out FILE] [--plot FILE] [--profile DIR]
//        [--server parley|floor|floor-gather] [--max-wait-pct P] [--retries N]
//        [--nodes N] [--cluster]
//
// Parley (from dist/, SQLite in WAL mode in a fresh folder) runs on core 0; the load generators
// (bench/instance-gen.ts, 9,500 people each at most: a process holds at most 20,000 files) on
// core 1; this program, which only starts and asks, is on core 1 too (bench/run.ts puts it
// there). People come from 127.1.x.y, 40 to an address.
//
// `--nodes N` (or `--cluster` with one) runs N Parley processes as a cluster, all on core 0, on
// a PostgreSQL database and a Redis of the bench's own (bench/instance-cluster.ts); person i
// connects to node i mod N, so every room spans the nodes and its deliveries cross the bus.
// 19,000 people a node by default. The crash is left out.

import { type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { readCpu, readRssKiB, readSched } from './proc-stats.js';
import {
  canConnect,
  canPin,
  FD_LIMIT,
  freePort,
  killAll,
  Rpc,
  sleep,
  spawnChild,
} from './processes.js';
import { hook, root } from './paths.js';
import { buildPlan, describePlan, PEOPLE_PER_ADDRESS } from './instance-plan.js';
import { Histogram } from './instance-hist.js';
import { median } from './stats.js';
import type { GenCommand, GenStats, GenStatus, Target, VerifyResult } from './instance-gen.js';
import {
  ClusterServices,
  machineCpuUs,
  medianWindow,
  servicesTable,
  servicesWindow,
  type ServicesWindow,
} from './instance-cluster.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    people: { type: 'string' },
    factors: { type: 'string' },
    'window-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    repeats: { type: 'string' },
    'crash-factor': { type: 'string' },
    'no-crash': { type: 'boolean', default: false },
    'crash-only': { type: 'boolean', default: false },
    'server-args': { type: 'string', default: '' },
    out: { type: 'string' },
    plot: { type: 'string' },
    profile: { type: 'string' },
    server: { type: 'string', default: 'parley' },
    'max-wait-pct': { type: 'string' },
    retries: { type: 'string' },
    scenario: { type: 'string' },
    nodes: { type: 'string' },
    cluster: { type: 'boolean', default: false },
  },
  strict: false,
});
const nodeCount = Number(args.nodes ?? 1);
if (!Number.isInteger(nodeCount) || nodeCount < 1) throw new Error('--nodes is 1 or more');
/** On PostgreSQL and Redis: several nodes, or one with --cluster. */
const cluster = nodeCount > 1 || args.cluster === true;
const quick = args.quick === true;
const crashOnly = args['crash-only'] === true || args.scenario === 'crash';
const people = Number(args.people ?? (quick ? 400 : 19_000 * nodeCount));
const factors = String(args.factors ?? (quick ? '1,10' : '1,2,5,10'))
  .split(',')
  .map(Number);
const windowMs = Number(args['window-ms'] ?? (quick ? 3000 : 30_000));
const warmupMs = Number(args['warmup-ms'] ?? (quick ? 1000 : 5000));
const repeats = Number(args.repeats ?? 1);
const crashFactor = Number(args['crash-factor'] ?? 1);
/** A generator holds at most 9,500 people (half of what one process may hold of sockets). */
const GENERATORS = Math.max(2, Math.ceil(people / 9500));
const stem = cluster ? `instance-cluster-${nodeCount}` : 'instance';
const out = String(
  args.out ?? join(root, 'bench', 'results', `${stem}${quick ? '-quick' : ''}.json`),
);
const plotFile = String(
  args.plot ??
    join(
      root,
      'docs',
      `capacity${cluster ? `-cluster-${nodeCount}` : ''}${quick ? '-quick' : ''}.svg`,
    ),
);
/** Each point's window under the V8 profiler, its .cpuprofile written here. */
const profileDir = typeof args.profile === 'string' ? args.profile : undefined;
/** What a point must meet. */
const TARGET = { p99Ms: 100, cpuPct: 70 };
const CRASH_TARGET = { backS: 20, p99Ms: 1000 };
/** How long connecting everyone, and then their joins, may take: 38,000 on two nodes joined in 9 min. */
const SETUP_MS = 1_800_000;
/** How long the backlog of an overloaded point may take to drain before its check. */
const SETTLE_MS = 120_000;
/** A window whose server waited for a CPU longer than this share is run again, so many times. */
const maxWaitPct = Number(args['max-wait-pct'] ?? 20);
const retries = Number(args.retries ?? 2);

/** Milliseconds on the machine's monotonic clock, as the generators read it. */
function monoMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

/** Busy and total jiffies of one core, from /proc/stat (every process on it, not only ours). */
function coreTicks(core: number): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  const f = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

// ---- the servers ----------------------------------------------------------------------------

interface Server {
  proc: ChildProcess;
  pid: number;
  /** The bench's hook in the server (bench/server-hook.mjs): the CPU profiler. */
  rpc: Rpc;
}

/** A node's ports and folder (its log; SQLite's database when there is one node). */
interface Node {
  index: number;
  wsPort: number;
  httpPort: number;
  dir: string;
}

const dataDir = mkdtempSync(join(tmpdir(), 'parley-instance-'));
const nodes: Node[] = [];
/** The cluster's PostgreSQL database and Redis. */
let services: ClusterServices | undefined;
/** Node names in the report: A, B, ... */
const nodeName = (k: number) => String.fromCharCode(65 + k);
/** People on node k: person i is on node i mod the nodes. */
const peopleOn = (k: number) => Math.floor((people - k - 1) / nodeCount) + 1;

/** parley, or the floor (bench/instance-floor-server.ts): a write per delivery, or gathered. */
const serverKind = String(args.server);
if (!['parley', 'floor', 'floor-gather'].includes(serverKind))
  throw new Error(`--server is parley, floor or floor-gather, not ${serverKind}`);
if (cluster && serverKind !== 'parley') throw new Error('--nodes runs parley only');

function serverArgv(node: Node): string[] {
  if (serverKind !== 'parley')
    return [
      'node',
      '--import',
      hook,
      '--import',
      'tsx',
      join(root, 'bench', 'instance-floor-server.ts'),
      '--port',
      String(node.wsPort),
      ...(serverKind === 'floor-gather' ? ['--gather'] : []),
    ];
  const x = (n: number) => String(n * PEOPLE_PER_ADDRESS);
  return [
    'node',
    '--import',
    hook,
    join(root, 'dist', 'server', 'main.js'),
    ...['--host', '127.0.0.1', '--http-port', String(node.httpPort)],
    ...['--ws-port', String(node.wsPort)],
    ...['--data-dir', node.dir, '--log-level', 'warn', '--guests', 'open'],
    ...(services ? ['--store', services.storeUrl, '--bus', services.busUrl] : []),
    // 40 people share each address: the limits that count what people do are 40 people's
    // (the defaults times 40). Connections and sockets per address keep their defaults.
    ...['--address-rate', x(30), '--address-rate-burst', x(60), '--address-joins', x(60)],
    ...['--address-names-per-hour', x(30), '--address-rooms-per-hour', x(10)],
    ...['--address-handshakes', x(60), '--address-bytes-per-hour', x(2 * 1024 * 1024)],
    // The rooms of the whole instance are made at once when it is set up.
    ...['--rooms-per-hour', '1000000'],
    ...String(args['server-args'])
      .split(' ')
      .filter((a) => a.length > 0),
  ];
}

async function startServer(node: Node): Promise<Server> {
  const log = join(node.dir, 'server.log');
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(log, 'a');
  const proc = spawnChild(serverArgv(node), canPin ? 0 : undefined, ['ignore', fd, fd, 'ipc']);
  closeSync(fd);
  const rpc = new Rpc(proc, nodeCount > 1 ? `node ${nodeName(node.index)}` : 'server');
  // A cluster node migrates (or waits for another's migration) before it listens.
  for (let i = 0; i < 1500; i++) {
    if (proc.exitCode !== null) break;
    if (await canConnect(node.wsPort)) return { proc, pid: proc.pid ?? 0, rpc };
    await sleep(20);
  }
  throw new Error(`the server did not start: ${readFileSync(log, 'utf8').slice(-2000)}`);
}

// ---- the generators -------------------------------------------------------------------------

async function startGenerator(k: number): Promise<Rpc> {
  const proc = spawnChild(
    ['node', '--import', 'tsx', join(root, 'bench', 'instance-gen.ts')],
    canPin ? 1 : undefined,
    ['ignore', 'inherit', 'inherit', 'ipc'],
  );
  const rpc = new Rpc(proc, `generator ${k}`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('a generator did not start')), 30_000);
    proc.on('message', (m: { ready?: boolean }) => {
      if (m.ready) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', () => reject(new Error('a generator exited at start')));
  });
  return rpc;
}

let gens: Rpc[] = [];
const all = <T>(cmd: GenCommand, ms = 60_000) =>
  Promise.all(gens.map((g) => g.call<T>(cmd as never, ms)));

/** Until nothing waits for an ack, everyone is back, and no frame came for `quietMs`. */
async function settle(quietMs: number, maxMs: number): Promise<boolean> {
  const end = performance.now() + maxMs;
  for (;;) {
    const st = await all<GenStatus>({ cmd: 'status' });
    const done = st.every((s) => s.unacked === 0 && s.live === s.people && s.quietMs >= quietMs);
    if (done) return true;
    if (performance.now() > end) return false;
    await sleep(200);
  }
}

/** Every member against the last seq of each conversation, from every generator's acks. */
async function verify(): Promise<VerifyResult> {
  const final = new Map<number, number>();
  for (const list of await all<[number, number][]>({ cmd: 'acks' }))
    for (const [k, s] of list) final.set(k, Math.max(final.get(k) ?? 0, s));
  const rs = await all<VerifyResult>({ cmd: 'verify', final: [...final] });
  const sum = (f: (r: VerifyResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  return {
    checked: sum((r) => r.checked),
    missing: sum((r) => r.missing),
    beyond: sum((r) => r.beyond),
    repeated: sum((r) => r.repeated),
    jumped: sum((r) => r.jumped),
    gaps: sum((r) => r.gaps),
    notLive: sum((r) => r.notLive),
  };
}

function merge(stats: GenStats[]): {
  hist: Histogram;
  frames: Record<string, number>;
  framesByNode: number[];
  sent: Record<string, number>;
  errors: Record<string, number>;
  bytes: number;
  shed: number;
  failed: number;
  failedBy: Record<string, number>;
  reconnects: number;
  replayed: number;
} {
  const hist = new Histogram();
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  const frames: Record<string, number> = {};
  const framesByNode: number[] = [];
  const sent: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const failedBy: Record<string, number> = {};
  let bytes = 0;
  let shed = 0;
  let failed = 0;
  let reconnects = 0;
  let replayed = 0;
  for (const s of stats) {
    hist.merge(Histogram.fromSparse(s.latency).counts);
    add(frames, s.frames);
    s.framesByNode.forEach((n, k) => (framesByNode[k] = (framesByNode[k] ?? 0) + n));
    add(sent, s.sent);
    add(errors, s.errors);
    bytes += s.bytes;
    shed += s.shed;
    failed += s.failed;
    add(failedBy, s.failedBy);
    reconnects += s.reconnects;
    replayed += s.replayed;
  }
  return {
    ...{ hist, frames, framesByNode, sent, errors, bytes },
    ...{ shed, failed, failedBy, reconnects, replayed },
  };
}

// ---- measuring ------------------------------------------------------------------------------

/** One node's share of a window. */
interface NodePoint {
  node: string;
  people: number;
  deliveriesPerS: number;
  /** Its CPU over the deliveries its own people received. */
  cpuUsPerDelivery: number;
  cpuPct: number;
  userPct: number;
  /** Its main thread's wait for a CPU: on a shared core 0, the other nodes' turns too. */
  waitPct: number;
  rssMiB: number;
  /** Its RSS above what it had before anyone connected, over its people. */
  rssKiBPerConnection: number;
}

interface Point {
  factor: number;
  run: number;
  seconds: number;
  messagesPerS: number;
  deliveriesPerS: number;
  messageDeliveriesPerS: number;
  /** Sends acknowledged (committed) to their senders. */
  acksPerS: number;
  /** Of every node together (the nodes' CPU over every delivery). */
  cpuUsPerDelivery: number;
  serverCpuPct: number;
  serverUserPct: number;
  /** The longest any node waited. */
  serverWaitPct: number;
  core0BusyPct: number;
  generatorsCpuPct: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Every node's together. */
  rssMiB: number;
  nodes: NodePoint[];
  /** On a cluster: Redis and PostgreSQL over the window. */
  services?: ServicesWindow;
  /** On a cluster: CPU of processes not the bench's, % of one core (the machine is shared). */
  othersCpuPct?: number;
  lost: number;
  repeated: number;
  frames: Record<string, number>;
  sent: Record<string, number>;
  errors: Record<string, number>;
  verify: VerifyResult;
  /** Every send acked and every delivery in before the check (else its loss is not known). */
  drained: boolean;
  /** Run again: others had the machine more than --max-wait-pct of the window. */
  replaced: boolean;
  met: boolean;
}

let servers: Server[] = [];
/** Idle RSS of each node, before anyone connected (KiB). */
let rssIdleKiB: number[] = [];
const genCpu = () => gens.reduce((a, g) => a + cpuUs(g.proc.pid ?? 0), 0);
function cpuUs(pid: number): number {
  try {
    const c = readCpu(pid);
    return c.userUs + c.sysUs;
  } catch {
    return 0;
  }
}

/** CPU of the bench's own processes: nodes, generators, Redis, this one (µs). */
function oursCpuUs(): number {
  const own = process.cpuUsage();
  return (
    servers.reduce((a, s) => a + cpuUs(s.pid), 0) +
    genCpu() +
    (services ? cpuUs(services.redisPid) : 0) +
    own.user +
    own.system
  );
}

/** What keeps a window from counting: others had the server's core, or the machine. */
function contention(p: Point): string | undefined {
  if (p.othersCpuPct !== undefined)
    return p.othersCpuPct > maxWaitPct
      ? `other processes used ${f0(p.othersCpuPct)}% of a core`
      : undefined;
  return p.serverWaitPct > maxWaitPct
    ? `the server waited ${f0(p.serverWaitPct)}% of the window for a CPU`
    : undefined;
}

async function measure(factor: number, run: number, before: VerifyResult): Promise<Point> {
  await all({ cmd: 'load', factor });
  await sleep(warmupMs);
  await all({ cmd: 'window' });
  if (profileDir)
    await Promise.all(servers.map((sv) => sv.rpc.call({ cmd: 'prof-start' }, 10_000)));
  const v0 = await services?.read();
  const c0 = servers.map((sv) => readCpu(sv.pid));
  const s0 = servers.map((sv) => readSched(sv.pid));
  const k0 = coreTicks(0);
  const g0 = genCpu();
  const m0 = machineCpuUs();
  const o0 = oursCpuUs();
  const t0 = performance.now();
  await sleep(windowMs);
  const stats = await all<GenStats>({ cmd: 'stats' });
  const c1 = servers.map((sv) => readCpu(sv.pid));
  const s1 = servers.map((sv) => readSched(sv.pid));
  const k1 = coreTicks(0);
  const g1 = genCpu();
  const m1 = machineCpuUs();
  const o1 = oursCpuUs();
  const v1 = await services?.read();
  const elapsedMs = performance.now() - t0;
  const rssKiB = servers.map((sv) => readRssKiB(sv.pid));
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    for (const [k, sv] of servers.entries()) {
      const tag = nodeCount > 1 ? `-node-${nodeName(k)}` : '';
      const file = join(profileDir, `instance-factor-${factor}-run-${run}${tag}.cpuprofile`);
      await sv.rpc.call({ cmd: 'prof-stop', file }, 60_000);
      console.log(`  profile: ${relative(root, file)}`);
    }
  }
  await all({ cmd: 'load', factor: 0 });
  const drained = await settle(1000, SETTLE_MS);
  const v = await verify();
  const m = merge(stats);
  const deliveries = Object.entries(m.frames)
    .filter(([k]) => k !== 'close')
    .reduce((a, [, n]) => a + n, 0);
  const s = elapsedMs / 1000;
  const pct = (us: number) => (us / 1000 / elapsedMs) * 100;
  const nodeUs = servers.map((_, k) => {
    const a = c0[k] ?? { userUs: 0, sysUs: 0 };
    const b = c1[k] ?? { userUs: 0, sysUs: 0 };
    return { us: b.userUs + b.sysUs - a.userUs - a.sysUs, userUs: b.userUs - a.userUs };
  });
  const nodePoints = nodeUs.map(({ us, userUs }, k): NodePoint => {
    const d = m.framesByNode[k] ?? 0;
    return {
      node: nodeName(k),
      people: peopleOn(k),
      deliveriesPerS: d / s,
      cpuUsPerDelivery: us / Math.max(1, d),
      cpuPct: pct(us),
      userPct: pct(userUs),
      waitPct: (((s1[k]?.waitNs ?? 0) - (s0[k]?.waitNs ?? 0)) / 1e6 / elapsedMs) * 100,
      rssMiB: (rssKiB[k] ?? 0) / 1024,
      rssKiBPerConnection: ((rssKiB[k] ?? 0) - (rssIdleKiB[k] ?? 0)) / peopleOn(k),
    };
  });
  const sum = (f: (n: NodePoint) => number) => nodePoints.reduce((acc, n) => acc + f(n), 0);
  const cpuUsTotal = nodeUs.reduce((acc, n) => acc + n.us, 0);
  const lost = v.missing + v.jumped - before.jumped;
  const repeated = v.repeated - before.repeated;
  const p: Point = {
    factor,
    run,
    seconds: s,
    messagesPerS: (m.sent.msg ?? 0) / s,
    deliveriesPerS: deliveries / s,
    messageDeliveriesPerS: (m.frames.msg ?? 0) / s,
    acksPerS: (m.frames.ack ?? 0) / s,
    cpuUsPerDelivery: cpuUsTotal / Math.max(1, deliveries),
    serverCpuPct: sum((n) => n.cpuPct),
    serverUserPct: sum((n) => n.userPct),
    serverWaitPct: Math.max(...nodePoints.map((n) => n.waitPct)),
    core0BusyPct: ((k1.busy - k0.busy) / Math.max(1, k1.total - k0.total)) * 100,
    generatorsCpuPct: pct(g1 - g0),
    p50Ms: m.hist.quantileMs(0.5),
    p99Ms: m.hist.quantileMs(0.99),
    p999Ms: m.hist.quantileMs(0.999),
    maxMs: m.hist.quantileMs(1),
    rssMiB: sum((n) => n.rssMiB),
    nodes: nodePoints,
    lost,
    repeated,
    frames: m.frames,
    sent: m.sent,
    errors: m.errors,
    verify: v,
    drained,
    replaced: false,
    met: false,
  };
  if (v0 && v1) {
    p.services = servicesWindow(v0, v1);
    // PostgreSQL is counted whoever uses it; anything else not ours is someone else's.
    const pgUs = (p.services.postgresCpuPct / 100) * elapsedMs * 1000;
    p.othersCpuPct = Math.max(0, pct(m1 - m0 - (o1 - o0) - pgUs));
  }
  p.met =
    drained &&
    p.p99Ms <= TARGET.p99Ms &&
    p.lost === 0 &&
    p.repeated === 0 &&
    nodePoints.every((n) => n.cpuPct <= TARGET.cpuPct);
  return p;
}

interface Crash {
  factor: number;
  /** From the kill to the server listening again, and to everyone back and caught up. */
  listeningS: number;
  allBackS: number | undefined;
  backFromListeningS: number | undefined;
  /** From the kill to half, and nine in ten, of the people back and caught up. */
  halfBackS: number | undefined;
  ninetyBackS: number | undefined;
  stormP50Ms: number;
  stormP99Ms: number;
  stormMaxMs: number;
  liveDeliveries: number;
  replayed: number;
  shed: number;
  failed: number;
  failedBy: Record<string, number>;
  reconnects: number;
  serverCpuPct: number;
  rssMiB: number;
  lost: number;
  repeated: number;
  errors: Record<string, number>;
  verify: VerifyResult;
  met: boolean;
}

/** One node only: it is killed and started again. */
async function crash(factor: number, before: VerifyResult): Promise<Crash> {
  const node = nodes[0];
  const killed = servers[0];
  if (!node || !killed || servers.length !== 1) throw new Error('the crash runs on one node');
  await all({ cmd: 'load', factor });
  await sleep(warmupMs);
  await all({ cmd: 'window' });
  await all({ cmd: 'watch' });
  const killedAt = monoMs();
  killed.proc.kill('SIGKILL');
  await new Promise((r) => killed.proc.once('exit', r));
  const server = await startServer(node);
  servers = [server];
  const listeningAt = monoMs();
  if (profileDir) await server.rpc.call({ cmd: 'prof-start' }, 10_000);
  const c0 = readCpu(server.pid);
  const t0 = performance.now();
  let back: number | undefined;
  for (let i = 0; i < 600 && back === undefined; i++) {
    await sleep(100);
    const st = await all<GenStatus>({ cmd: 'status' });
    if (st.every((x) => x.allBackAt !== undefined))
      back = Math.max(...st.map((x) => x.allBackAt ?? 0));
  }
  // The last to come back is one person's luck with its backoff; the quantiles are the server's.
  const times = (await all<number[]>({ cmd: 'backTimes' })).flat().sort((a, b) => a - b);
  const backBy = (q: number) => {
    const t = times[Math.ceil(q * people) - 1];
    return t === undefined ? undefined : (t - killedAt) / 1000;
  };
  // Live traffic goes on a few seconds after everyone is back: the storm's tail is measured.
  await sleep(quick ? 1000 : 5000);
  const stats = await all<GenStats>({ cmd: 'stats' });
  const c1 = readCpu(server.pid);
  const elapsedMs = performance.now() - t0;
  const rssMiB = readRssKiB(server.pid) / 1024;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    const file = join(profileDir, `instance-crash-factor-${factor}.cpuprofile`);
    await server.rpc.call({ cmd: 'prof-stop', file }, 60_000);
    console.log(`  profile: ${relative(root, file)}`);
  }
  await all({ cmd: 'load', factor: 0 });
  const drained = await settle(1000, SETTLE_MS);
  const v = await verify();
  const m = merge(stats);
  const lost = v.missing + v.jumped - before.jumped;
  const repeated = v.repeated - before.repeated;
  const c: Crash = {
    factor,
    listeningS: (listeningAt - killedAt) / 1000,
    allBackS: back === undefined ? undefined : (back - killedAt) / 1000,
    backFromListeningS: back === undefined ? undefined : (back - listeningAt) / 1000,
    halfBackS: backBy(0.5),
    ninetyBackS: backBy(0.9),
    stormP50Ms: m.hist.quantileMs(0.5),
    stormP99Ms: m.hist.quantileMs(0.99),
    stormMaxMs: m.hist.quantileMs(1),
    liveDeliveries: m.hist.n,
    replayed: m.replayed,
    shed: m.shed,
    failed: m.failed,
    failedBy: m.failedBy,
    reconnects: m.reconnects,
    serverCpuPct: ((c1.userUs + c1.sysUs - c0.userUs - c0.sysUs) / 1000 / elapsedMs) * 100,
    rssMiB,
    lost,
    repeated,
    errors: m.errors,
    verify: v,
    met: false,
  };
  c.met =
    drained &&
    c.allBackS !== undefined &&
    c.allBackS <= CRASH_TARGET.backS &&
    c.stormP99Ms <= CRASH_TARGET.p99Ms &&
    lost === 0 &&
    repeated === 0;
  return c;
}

// ---- the report -----------------------------------------------------------------------------

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');

interface NodeRow {
  node: string;
  people: number;
  deliveriesPerS: number;
  cpuUsPerDelivery: number;
  cpuPct: number;
  rssMiB: number;
  rssKiBPerConnection: number;
}

interface Row {
  factor: number;
  runs: number;
  messagesPerS: number;
  deliveriesPerS: number;
  messageDeliveriesPerS: number;
  acksPerS: number;
  cpuUsPerDelivery: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuPct: number;
  core0BusyPct: number;
  rssMiB: number;
  nodes: NodeRow[];
  services?: ServicesWindow;
  lost: number;
  repeated: number;
  drained: boolean;
  met: boolean;
}

function rows(points: Point[]): Row[] {
  return factors.map((factor) => {
    const ps = points.filter((p) => p.factor === factor && !p.replaced);
    const med = (f: (p: Point) => number) => median(ps.map(f));
    const nodeRows = servers.map((_, k): NodeRow => {
      const of = (f: (n: NodePoint) => number) =>
        median(ps.map((p) => p.nodes[k]).flatMap((n) => (n ? [f(n)] : [])));
      return {
        node: nodeName(k),
        people: peopleOn(k),
        deliveriesPerS: of((n) => n.deliveriesPerS),
        cpuUsPerDelivery: of((n) => n.cpuUsPerDelivery),
        cpuPct: of((n) => n.cpuPct),
        rssMiB: of((n) => n.rssMiB),
        rssKiBPerConnection: of((n) => n.rssKiBPerConnection),
      };
    });
    const windows = ps.flatMap((p) => (p.services ? [p.services] : []));
    const r: Row = {
      factor,
      runs: ps.length,
      messagesPerS: med((p) => p.messagesPerS),
      deliveriesPerS: med((p) => p.deliveriesPerS),
      messageDeliveriesPerS: med((p) => p.messageDeliveriesPerS),
      acksPerS: med((p) => p.acksPerS),
      cpuUsPerDelivery: med((p) => p.cpuUsPerDelivery),
      p50Ms: med((p) => p.p50Ms),
      p99Ms: med((p) => p.p99Ms),
      serverCpuPct: med((p) => p.serverCpuPct),
      core0BusyPct: med((p) => p.core0BusyPct),
      rssMiB: med((p) => p.rssMiB),
      nodes: nodeRows,
      ...(windows.length ? { services: medianWindow(windows) } : {}),
      lost: ps.reduce((a, p) => a + p.lost, 0),
      repeated: ps.reduce((a, p) => a + p.repeated, 0),
      drained: ps.every((p) => p.drained),
      met: false,
    };
    r.met =
      r.p99Ms <= TARGET.p99Ms &&
      r.lost === 0 &&
      r.repeated === 0 &&
      nodeRows.every((n) => n.cpuPct <= TARGET.cpuPct);
    return r;
  });
}

const lostCell = (r: Row) => `${r.drained ? r.lost : `${r.lost}?`} / ${r.repeated}`;

function table(rs: Row[]): string {
  if (cluster) return clusterTable(rs);
  const lines = [
    '| activity factor | the traffic of (people) | messages/s | deliveries/s | server CPU µs/delivery | p50 / p99 (ms) | server CPU, % of its core | core 0 busy, % | RSS (MiB) | lost / repeated | targets |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rs)
    lines.push(
      `| ${r.factor} | ${f0(people * r.factor)} | ${f0(r.messagesPerS)} | ${f0(r.deliveriesPerS)} | ${f2(r.cpuUsPerDelivery)} | ${f1(r.p50Ms)} / ${f1(r.p99Ms)} | ${f0(r.serverCpuPct)} | ${f0(r.core0BusyPct)} | ${f0(r.rssMiB)} | ${lostCell(r)} | ${r.met ? 'met' : 'missed'} |`,
    );
  return lines.join('\n');
}

/** The whole, then each node, then what went through Redis and PostgreSQL. */
function clusterTable(rs: Row[]): string {
  const names = servers.map((_, k) => nodeName(k)).join(' + ');
  const lines = [
    `| activity factor | the traffic of (people) | messages/s | sends acked/s | deliveries/s (of them messages) | nodes' CPU µs/delivery | p50 / p99 (ms) | nodes' CPU, % of a core (${names}) | core 0 busy, % | lost / repeated | targets |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rs)
    lines.push(
      `| ${r.factor} | ${f0(people * r.factor)} | ${f0(r.messagesPerS)} | ${f0(r.acksPerS)} | ${f0(r.deliveriesPerS)} (${f0(r.messageDeliveriesPerS)}) | ${f2(r.cpuUsPerDelivery)} | ${f1(r.p50Ms)} / ${f1(r.p99Ms)} | ${r.nodes.map((n) => f0(n.cpuPct)).join(' + ')} = ${f0(r.serverCpuPct)} | ${f0(r.core0BusyPct)} | ${lostCell(r)} | ${r.met ? 'met' : 'missed'} |`,
    );
  lines.push(
    '',
    '| activity factor | node | people | deliveries/s | CPU, % of a core | CPU µs/delivery | RSS (MiB) | RSS above idle, KiB a connection |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rs)
    for (const n of r.nodes)
      lines.push(
        `| ${r.factor} | ${n.node} | ${f0(n.people)} | ${f0(n.deliveriesPerS)} | ${f0(n.cpuPct)} | ${f2(n.cpuUsPerDelivery)} | ${f0(n.rssMiB)} | ${f1(n.rssKiBPerConnection)} |`,
      );
  lines.push('', servicesTable(rs));
  return lines.join('\n');
}

/** The curve as an SVG of two panels: latency (log scale) and the server's CPU. */
function plot(rs: Row[]): string {
  const W = 720;
  const H = 300;
  const pad = { l: 56, r: 16, t: 34, b: 44 };
  const pw = W / 2 - pad.l - pad.r;
  const ph = H - pad.t - pad.b;
  const xs = rs.map((r) => r.factor);
  const xMax = Math.max(...xs) * 1.05;
  const x = (f: number) => (f / xMax) * pw;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  const panel = (
    ox: number,
    title: string,
    yLabel: string,
    ticks: number[],
    y: (v: number) => number,
    series: { name: string; color: string; values: number[] }[],
    target: { value: number; label: string },
  ) => {
    out.push(`<g transform="translate(${ox + pad.l},${pad.t})">`);
    out.push(`<text x="${pw / 2}" y="-14" text-anchor="middle" font-size="12">${title}</text>`);
    out.push(`<rect width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    for (const t of ticks) {
      const yy = y(t);
      if (yy < 0 || yy > ph) continue;
      out.push(
        `<line x1="0" x2="${pw}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#eee"/>`,
      );
      out.push(`<text x="-6" y="${(yy + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
    }
    for (const f of xs)
      out.push(`<text x="${x(f).toFixed(1)}" y="${ph + 16}" text-anchor="middle">${f}</text>`);
    out.push(
      `<text x="${pw / 2}" y="${ph + 34}" text-anchor="middle">activity factor (5 ≈ 100,000 people on ${f0(people)} connections)</text>`,
    );
    out.push(
      `<text transform="translate(-42,${ph / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`,
    );
    const ty = y(target.value);
    out.push(
      `<line x1="0" x2="${pw}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#c00" stroke-dasharray="4 3"/>`,
    );
    out.push(
      `<text x="${pw - 4}" y="${(ty - 4).toFixed(1)}" text-anchor="end" fill="#c00">${target.label}</text>`,
    );
    series.forEach((s, k) => {
      const pts = s.values.map(
        (v, i) => `${x(xs[i] ?? 0).toFixed(1)},${Math.min(ph, Math.max(0, y(v))).toFixed(1)}`,
      );
      out.push(
        `<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`,
      );
      for (const pt of pts) {
        const [cx, cy] = pt.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
      }
      out.push(`<text x="8" y="${14 + 14 * k}" fill="${s.color}">${s.name}</text>`);
    });
    out.push('</g>');
  };
  const lo = 0.1;
  const hi = 10_000;
  const logY = (v: number) =>
    ph - ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  panel(
    0,
    'delivery latency, send to receive',
    'ms (log scale)',
    [0.1, 1, 10, 100, 1000, 10000],
    logY,
    [
      { name: 'p99', color: '#d62728', values: rs.map((r) => r.p99Ms) },
      { name: 'p50', color: '#1f77b4', values: rs.map((r) => r.p50Ms) },
    ],
    { value: TARGET.p99Ms, label: 'p99 target' },
  );
  const linY = (v: number) => ph - (Math.min(v, 100) / 100) * ph;
  panel(
    W / 2,
    cluster ? "each node's CPU" : "the server's CPU",
    '% of its core',
    [0, 20, 40, 60, 80, 100],
    linY,
    cluster
      ? servers.map((_, k) => ({
          name: `node ${nodeName(k)}`,
          color: ['#2ca02c', '#9467bd', '#8c564b', '#e377c2'][k % 4] ?? '#2ca02c',
          values: rs.map((r) => r.nodes[k]?.cpuPct ?? NaN),
        }))
      : [{ name: 'server process', color: '#2ca02c', values: rs.map((r) => r.serverCpuPct) }],
    { value: TARGET.cpuPct, label: '70% target' },
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}

// ---- the run --------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (people / GENERATORS + 200 > FD_LIMIT || people / nodeCount + 200 > FD_LIMIT)
    throw new Error(`the file limit (${FD_LIMIT}) is too low for ${f0(people)} people`);
  if (cluster && crashOnly) throw new Error('the crash runs on one node: leave out --nodes');
  for (let k = 0; k < nodeCount; k++) {
    const dir = join(dataDir, `node-${k}`);
    mkdirSync(dir);
    nodes.push({ index: k, wsPort: await freePort(), httpPort: await freePort(), dir });
  }
  const plan = describePlan(buildPlan(people));
  const where = canPin ? 'on core 0' : 'not pinned';
  console.log(
    `instance: ${f0(people)} people in ${f0(plan.rooms)} rooms (largest ${plan.largest.slice(0, 3).join(', ')}; median ${plan.median}; ` +
      `${plan.over200} over 200) and ${f0(plan.direct)} direct conversations, ${f0(plan.memberships)} room memberships; ` +
      `${PEOPLE_PER_ADDRESS} people an address; ` +
      (cluster
        ? `${nodeCount} node(s) on PostgreSQL + Redis ${where}, person i on node i mod ${nodeCount}; `
        : `server ${where}, `) +
      `${GENERATORS} generators ${canPin ? 'on core 1' : ''}; ` +
      `${cpus().length} cores; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  if (cluster) {
    services = await ClusterServices.start();
    console.log(
      `instance: database ${services.database} on 127.0.0.1:5432, redis-server on port ${services.redisPort} (both the bench's own, PostgreSQL and Redis not pinned)` +
        (services.staleDropped.length
          ? `; dropped ${services.staleDropped.length} database(s) of killed runs`
          : ''),
    );
  }
  servers = await Promise.all(nodes.map((n) => startServer(n)));
  gens = await Promise.all(Array.from({ length: GENERATORS }, (_, k) => startGenerator(k)));
  const t0 = performance.now();
  const share = Math.ceil(people / GENERATORS);
  rssIdleKiB = servers.map((sv) => readRssKiB(sv.pid));
  const targets: Target[] = nodes.map((n) => ({
    port: n.wsPort,
    // As the page: a browser's handshake (the floor takes any).
    origin: `http://127.0.0.1:${n.httpPort}`,
  }));
  await Promise.all(
    gens.map((g, k) =>
      g.call(
        {
          cmd: 'setup',
          targets,
          people,
          seed: 21,
          from: k * share,
          to: Math.min(people, (k + 1) * share),
          concurrency: quick ? 50 : 100,
        } as never,
        SETUP_MS,
      ),
    ),
  );
  const namedS = (performance.now() - t0) / 1000;
  await all({ cmd: 'join', concurrency: quick ? 50 : 100 }, SETUP_MS);
  const setupS = (performance.now() - t0) / 1000;
  await settle(2000, 60_000);
  const rssConnected = servers.map((sv) => readRssKiB(sv.pid));
  const rssLine = servers
    .map((_, k) => {
      const a = rssIdleKiB[k] ?? 0;
      const b = rssConnected[k] ?? 0;
      return (
        `${cluster ? `node ${nodeName(k)}` : 'server'} RSS ${f0(a / 1024)} → ${f0(b / 1024)} MiB ` +
        `(${f1((b - a) / peopleOn(k))} KiB a person)`
      );
    })
    .join(', ');
  console.log(
    `instance: everyone connected and named in ${namedS.toFixed(1)} s, in their rooms in ${setupS.toFixed(1)} s; ` +
      `${rssLine}, rooms and subscriptions included`,
  );
  let before = await verify();
  const points: Point[] = [];
  if (!crashOnly) {
    for (let run = 1; run <= repeats; run++) {
      for (const f of factors) {
        let p = await measure(f, run, before);
        before = p.verify;
        // The machine is shared: a window in which others had the server's core is run again.
        for (let k = 0, why = contention(p); k < retries && why; k++, why = contention(p)) {
          console.log(`  factor ${f} (run ${run}) again: ${why}`);
          p.replaced = true;
          points.push(p);
          p = await measure(f, run, before);
          before = p.verify;
        }
        points.push(p);
        console.log(`  factor ${f} (run ${run}): ${pointLine(p)}`);
      }
    }
  }
  let crashed: Crash | undefined;
  // The floor keeps nothing: there is no way back from a crash to measure.
  if (cluster && args['no-crash'] !== true)
    console.log('  crash: left out (it kills and restarts one node; run it with --nodes 1)');
  else if (args['no-crash'] !== true && serverKind === 'parley') {
    crashed = await crash(crashFactor, before);
    console.log(
      `  crash at factor ${crashFactor}: listening again ${f1(crashed.listeningS)} s after the kill; everyone back and caught up ` +
        `${crashed.allBackS === undefined ? 'NOT within 60 s' : `${f1(crashed.allBackS)} s after it (${f1(crashed.backFromListeningS ?? NaN)} s after listening)`}` +
        ` (half at ${f1(crashed.halfBackS ?? NaN)} s, nine in ten at ${f1(crashed.ninetyBackS ?? NaN)} s); ` +
        `live messages meanwhile p50 ${f1(crashed.stormP50Ms)} p99 ${f1(crashed.stormP99Ms)} max ${f1(crashed.stormMaxMs)} ms ` +
        `(${f0(crashed.liveDeliveries)} deliveries; ${f0(crashed.replayed)} replayed); ${f0(crashed.shed)} handshakes shed (503), ` +
        `${f0(crashed.failed)} failed ${JSON.stringify(crashed.failedBy)}; server ${f0(crashed.serverCpuPct)}%; lost ${crashed.lost}, repeated ${crashed.repeated}; ` +
        `targets ${crashed.met ? 'met' : 'MISSED'}` +
        (Object.keys(crashed.errors).length ? `; errors ${JSON.stringify(crashed.errors)}` : ''),
    );
  }
  const rs = rows(points);
  if (points.length) {
    console.log('\n' + table(rs) + '\n');
    const best = rs.filter((r) => r.met).map((r) => r.factor);
    console.log(
      `instance: the largest factor meeting p99 ≤ ${TARGET.p99Ms} ms, nothing lost or repeated and ${cluster ? 'each node' : 'the server'} ≤ ${TARGET.cpuPct}% of ${cluster ? 'a' : 'its'} core: ` +
        `${best.length ? Math.max(...best) : 'none'}`,
    );
    mkdirSync(join(plotFile, '..'), { recursive: true });
    writeFileSync(plotFile, plot(rs));
    console.log(`instance: plot in ${relative(root, plotFile)}`);
  }
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        people,
        nodes: nodeCount,
        cluster,
        generators: GENERATORS,
        plan,
        setupS,
        rssConnectedKiB: cluster ? rssConnected : rssConnected[0],
        rssBeforeKiB: cluster ? rssIdleKiB : rssIdleKiB[0],
        factors,
        windowMs,
        warmupMs,
        points,
        rows: rs,
        crash: crashed,
        loadavg: loadavg(),
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`instance: results in ${relative(root, out)}`);
  await all({ cmd: 'close' }).catch(() => []);
}

/** A point as printed when it is done. */
function pointLine(p: Point): string {
  const servers = cluster
    ? p.nodes
        .map(
          (n) =>
            `node ${n.node} ${f0(n.cpuPct)}% (waited ${f0(n.waitPct)}%, ${f2(n.cpuUsPerDelivery)} µs/delivery, RSS ${f0(n.rssMiB)} MiB)`,
        )
        .join(', ') + `, others ${f0(p.othersCpuPct ?? NaN)}%`
    : `server ${f0(p.serverCpuPct)}% (waited ${f0(p.serverWaitPct)}%)`;
  const w = p.services;
  return (
    `${f0(p.messagesPerS)} msg/s, ${f0(p.deliveriesPerS)} deliveries/s` +
    (cluster
      ? ` (${f0(p.messageDeliveriesPerS)} of messages), ${f0(p.acksPerS)} sends acked/s, `
      : ', ') +
    `${f2(p.cpuUsPerDelivery)} µs/delivery, p50 ${f1(p.p50Ms)} p99 ${f1(p.p99Ms)} max ${f1(p.maxMs)} ms, ` +
    `${servers}, core 0 ${f0(p.core0BusyPct)}%, generators ${f0(p.generatorsCpuPct)}%, ` +
    (cluster ? '' : `RSS ${f0(p.rssMiB)} MiB, `) +
    (w
      ? `bus ${f0(w.busMessagesPerS)} msg/s ${f0(w.busInKiBPerS)} KiB/s in ${f0(w.busOutKiBPerS)} KiB/s out, Redis ${f0(w.redisCpuPct)}%, ` +
        `PostgreSQL ${f0(w.pgCommitsPerS)} commits/s ${f0(w.postgresCpuPct)}%, ` +
        (w.redisCutOff ? `Redis CUT OFF ${w.redisCutOff} subscriber(s) for falling behind, ` : '')
      : '') +
    (p.drained
      ? `lost ${p.lost}, repeated ${p.repeated}`
      : `NOT drained within ${SETTLE_MS / 1000} s (${p.lost} missing then), repeated ${p.repeated}`) +
    (Object.keys(p.errors).length ? `; errors ${JSON.stringify(p.errors)}` : '')
  );
}

/** Kills the children, then drops the database and stops Redis (at most 10 s), once. */
let finishing: Promise<void> | undefined;
function finish(): Promise<void> {
  finishing ??= (async () => {
    killAll();
    rmSync(dataDir, { recursive: true, force: true });
    if (services) await Promise.race([services.stop(), sleep(10_000)]).catch(() => undefined);
  })();
  return finishing;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(sig, () => void finish().finally(() => process.exit(130)));

void main()
  .then(
    () => 0,
    (e: unknown) => {
      console.error('instance: failed:', e);
      return 1;
    },
  )
  .then(async (code) => {
    await finish();
    process.exit(code);
  });
