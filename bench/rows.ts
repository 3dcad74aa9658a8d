// The rows of the report tables: each figure, how it is read from a side's windows, its digits.

import type { LatencySummary } from './ipc.js';
import type { SideResult, WindowResult } from './results.js';

export interface Row {
  label: string;
  key: string;
  digits: number;
  get(s: SideResult): number[];
  /** Lower is better (for the ratio's reading). */
  lower: boolean;
}

export const measured = (s: SideResult) => s.windows.filter((w) => !w.profiled && !w.replaced);
export const perWindow =
  (f: (w: WindowResult) => number) =>
  (s: SideResult): number[] =>
    measured(s).map(f);
const once =
  (f: (s: SideResult) => number) =>
  (s: SideResult): number[] => [f(s)];

export const LOAD_ROWS: Row[] = [
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
    label: 'frames held to gather, %',
    key: 'heldFramesPct',
    digits: 1,
    get: perWindow((w) => w.heldFramesPct),
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

export const SETUP_ROWS: Row[] = [
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
  {
    label: 'young generation growth (MiB)',
    key: 'youngGrowthMiB',
    digits: 1,
    get: once((s) => s.memory.youngAfterMiB - s.memory.youngBeforeMiB),
    lower: true,
  },
];

/** The idle scenarios measured at half the clients too: the second half's cost. */
export const MARGIN_ROWS: Row[] = [
  {
    label: '  second half only, RSS (KiB)',
    key: 'marginalRssPerConnectionKiB',
    digits: 2,
    get: once((s) => s.memory.marginalRssPerConnectionKiB ?? NaN),
    lower: true,
  },
  {
    label: '  second half only, heap (KiB)',
    key: 'marginalHeapPerConnectionKiB',
    digits: 2,
    get: once((s) => s.memory.marginalHeapPerConnectionKiB ?? NaN),
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
export function clusterLoadRows(): Row[] {
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
