// Running one scenario: each side's servers started, clients connected and warmed up, then the
// measured windows, taken in turns by the sides.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Command, ConnectResult, RunResult, SettleResult } from './ipc.js';
import { summarizeProfile } from './profile.js';
import { sum } from './stats.js';
import { fmt, note, reason } from './format.js';
import { resultsDir, root } from './paths.js';
import type { Options } from './options.js';
import { NODE_NAMES, type Scenario, type SideSpec } from './scenarios.js';
import {
  type Cpu,
  cpuDelta,
  readCpu,
  readRssKiB,
  readSched,
  readServicesCpu,
  servicesCpuUs,
} from './proc-stats.js';
import { canPin, exited, Rpc, sleep } from './processes.js';
import { dropSchema, freshBackend } from './backends.js';
import { type ServerUnderTest, startLoadgen, startServer } from './servers.js';
import type { SideResult, WindowResult } from './results.js';

/** What the server hook answers to `gc`. */
type Memory = { heapUsed: number; spaces?: Record<string, number> };

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
      return {
        rss: sum(pids.map(readRssKiB)),
        heap: sum(ms.map((m) => m.heapUsed)),
        young: sum(ms.map((m) => m.spaces?.new_space ?? NaN)),
      };
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
      ...(sc.sourceAddresses ? { sourceAddresses: sc.sourceAddresses } : {}),
    });
    const settleCommand: Command = { cmd: 'settle', quietMs: 1500, maxMs: 300_000 };
    // With several source addresses (idle-19000), memory is measured at half the clients too.
    const halfway = sc.idle && sc.sourceAddresses ? Math.floor(sc.clients / 2) : 0;
    let mid: (Awaited<ReturnType<typeof settleGc>> & { opened: number }) | undefined;
    let midConn: ConnectResult | undefined;
    let midCpuUs = 0;
    if (halfway > 0) {
      const m0 = cpuNow();
      midConn = await lg.call<ConnectResult>(connectCommand(halfway), 600_000);
      midCpuUs = cpuDelta(m0, cpuNow()).totalUs;
      await lg.call<SettleResult>(settleCommand, 310_000);
      mid = { ...(await settleGc()), opened: midConn.opened };
    }
    const c0 = cpuNow();
    const rest = await lg.call<ConnectResult>(connectCommand(sc.clients - halfway), 600_000);
    const c1 = cpuNow();
    const conn: ConnectResult = midConn
      ? {
          ...rest,
          opened: midConn.opened + rest.opened,
          failed: midConn.failed + rest.failed,
          errors: [...midConn.errors, ...rest.errors].slice(0, 5),
          handshakeMs: midConn.handshakeMs + rest.handshakeMs,
          ready: midConn.ready + rest.ready,
          readyMs: midConn.readyMs + rest.readyMs,
          frames: midConn.frames + rest.frames,
        }
      : rest;
    const settle = await lg.call<SettleResult>(settleCommand, 310_000);
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
        serverCpuUsPerConnection: (cpuDelta(c0, c1).totalUs + midCpuUs) / n,
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
        youngBeforeMiB: before.young / 2 ** 20,
        youngAfterMiB: after.young / 2 ** 20,
        ...(mid && {
          connectionsAtHalf: mid.opened,
          rssAtHalfKiB: mid.rss,
          heapUsedAtHalf: mid.heap,
          marginalRssPerConnectionKiB: (after.rss - mid.rss) / Math.max(1, n - mid.opened),
          marginalHeapPerConnectionKiB:
            (after.heap - mid.heap) / 1024 / Math.max(1, n - mid.opened),
        }),
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
      const f0 = await fanoutFrames(servers);
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
      const f1 = await fanoutFrames(servers);
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
        heldFramesPct:
          f0 && f1
            ? ((f1.held - f0.held) / Math.max(1, f1.held - f0.held + f1.turn - f0.turn)) * 100
            : NaN,
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

export function failedSide(spec: SideSpec, error: string): SideResult {
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
export async function runSides(
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

/**
 * Parley's frames written at the end of their turn and held to gather, summed over the nodes;
 * undefined for the other servers, and for a Parley that does not count them.
 */
async function fanoutFrames(
  servers: ServerUnderTest[],
): Promise<{ turn: number; held: number } | undefined> {
  let turn = 0;
  let held = 0;
  for (const s of servers) {
    if (!s.metricsUrl) return undefined;
    const text = await (await fetch(s.metricsUrl)).text();
    const count = (when: string) =>
      Number(
        new RegExp(`^parley_fanout_frames_total\\{when="${when}"\\} (\\d+)`, 'm').exec(text)?.[1],
      );
    turn += count('turn');
    held += count('held');
  }
  return Number.isFinite(turn + held) ? { turn, held } : undefined;
}

/** Parley's count of connections closed as slow consumers. */
async function slowConsumers(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const m = /^parley_slow_consumers_total (\d+)/m.exec(text);
  if (!m) throw new Error(`no parley_slow_consumers_total in ${metricsUrl}`);
  return Number(m[1]);
}
