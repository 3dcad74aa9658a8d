// Reads a V8 .cpuprofile and says where the time went: self time by function and by area, and
// inclusive time by function. Also runnable alone: node --import tsx bench/profile.ts FILE

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time not idle. */
  busyMs: number;
  self: { name: string; ms: number }[];
  inclusive: { name: string; ms: number }[];
  categories: [string, number][];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const src = url.search(/\/(src|dist|bench)\//);
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

function nameOf(f: CallFrame): string {
  const fn = f.functionName || '(anonymous)';
  const url = shortUrl(f.url);
  return url ? `${fn} ${url}:${f.lineNumber + 1}` : fn;
}

/** The area a frame belongs to, for the self-time breakdown. */
function categoryOf(f: CallFrame): string {
  const u = f.url;
  const fn = f.functionName;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'native / VM (program)';
  if (fn === '(idle)') return 'idle';
  if (u.includes('node_modules/ws/lib/sender')) return 'ws Sender (framing, write)';
  if (u.includes('node_modules/ws/lib/receiver')) return 'ws Receiver (parsing)';
  if (u.includes('node_modules/ws/')) return 'ws other';
  if (u.includes('better-sqlite3')) return 'SQLite (better-sqlite3)';
  if (u.includes('tsx') || u.includes('esbuild')) return 'tsx loader';
  if (/\/(src|dist)\/core\//.test(u)) return 'Parley core (chat, frames, session)';
  if (/\/(src|dist)\/server\//.test(u)) return 'Parley server (gateway, app)';
  if (/\/(src|dist)\/store\//.test(u)) return 'Parley store';
  if (/\/(src|dist)\/protocol\//.test(u)) return 'Parley protocol (codecs)';
  if (/\/(src|dist)\/bus\//.test(u)) return 'Parley bus';
  if (u.includes('bench/')) return 'bench server code';
  if (u.startsWith('node:internal/streams') || u.startsWith('node:stream')) return 'node streams';
  if (u.startsWith('node:net') || u.includes('stream_base_commons'))
    return 'node net (socket write)';
  if (u.startsWith('node:internal/timers') || u.startsWith('node:timers')) return 'node timers';
  if (u.startsWith('node:')) return 'node other';
  if (!u) return `native: ${fn || '(anonymous)'}`;
  return 'other JS';
}

export function summarizeProfile(file: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const cats = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    // A sample's time is the delta to the next one.
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(p.samples[i] ?? -1);
    if (!node) continue;
    total += dt;
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    const name = nameOf(f);
    self.set(name, (self.get(name) ?? 0) + dt);
    const cat = categoryOf(f);
    cats.set(cat, (cats.get(cat) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id);
      if (!n || n.callFrame.functionName === '(root)') continue;
      const k = nameOf(n.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).map(([name, ms]) => ({ name, ms }));
  return {
    totalMs: total,
    busyMs: total - idle,
    self: sorted(self).slice(0, 40),
    inclusive: sorted(incl).slice(0, 40),
    categories: [...cats.entries()].sort((a, b) => b[1] - a[1]),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/profile.ts FILE.cpuprofile');
    process.exit(2);
  }
  const s = summarizeProfile(file);
  const pct = (ms: number) => ((ms / s.busyMs) * 100).toFixed(1).padStart(5) + '%';
  console.log(`${s.totalMs.toFixed(0)} ms sampled, ${s.busyMs.toFixed(0)} ms busy`);
  console.log('\nby area (self):');
  for (const [k, v] of s.categories) console.log(`  ${pct(v)}  ${k}`);
  console.log('\nself:');
  for (const f of s.self.slice(0, 30)) console.log(`  ${pct(f.ms)}  ${f.name}`);
  console.log('\ninclusive:');
  for (const f of s.inclusive.slice(0, 30)) console.log(`  ${pct(f.ms)}  ${f.name}`);
}
