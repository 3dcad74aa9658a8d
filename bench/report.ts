// The report: one table per scenario (each side's medians and the ratios to the base side), the
// notes under it, the slow-consumer comparison and the CPU profiles.

import { median, sum } from './stats.js';
import { fmt } from './format.js';
import { NODE_NAMES, type Scenario, type SideSpec } from './scenarios.js';
import type { ScenarioReport, SideResult, WindowResult } from './results.js';
import {
  clusterLoadRows,
  LOAD_ROWS,
  MARGIN_ROWS,
  measured,
  perWindow,
  SETUP_ROWS,
} from './rows.js';

const DISPLAY_ORDER = ['parley', 'plain', 'prefab', 'ws', 'net'];

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

export function report(
  sc: Scenario,
  specs: SideSpec[],
  sides: Record<string, SideResult>,
  baseKey: string | undefined,
): ScenarioReport {
  const rows = sc.idle
    ? [...SETUP_ROWS, ...(sc.sourceAddresses ? MARGIN_ROWS : [])]
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
export function baselineSides(sides: Record<string, SideResult>): Record<string, SideResult> {
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
export function printStall(sc: Scenario, sides: Record<string, SideResult>): void {
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

export function printProfile(s: SideResult): void {
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
