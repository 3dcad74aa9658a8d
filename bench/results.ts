// What a run records: per window, per side and per scenario, as written to the JSON results.

import type { ConnectResult, RunResult, SettleResult } from './ipc.js';
import type { ProfileSummary } from './profile.js';
import type { ServerKind } from './options.js';
import type { Scenario } from './scenarios.js';

export interface WindowResult extends RunResult {
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
  /** Parley: the share of the frames written that its fan-out held to gather (NaN elsewhere). */
  heldFramesPct: number;
}

export interface SideResult {
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
    /** V8's young generation (new space), committed, after the GCs before and after. */
    youngBeforeMiB: number;
    youngAfterMiB: number;
    /** Measured at half the clients too (idle-19000): what the second half cost each. */
    connectionsAtHalf?: number;
    rssAtHalfKiB?: number;
    heapUsedAtHalf?: number;
    marginalRssPerConnectionKiB?: number;
    marginalHeapPerConnectionKiB?: number;
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

export interface ScenarioReport {
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
