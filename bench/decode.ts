// Per-frame decode cost, the hand-written decoders against the schema ones, on real frames: a
// `send` request as the server decodes it, a `msg` event as the page does, and a `msg` bus
// payload as a cluster node does. The cases take turns within each run, so a noisy spell on a
// shared machine falls on all of them alike; the figure is the median over the runs.
//
//   node --import tsx bench/decode.ts [--runs N] [--frames N]

import { parseArgs } from 'node:util';
import { decodeEvent, decodeRequest } from '../src/protocol/index.js';
import { parseEvent } from '../src/bus/redis.js';
import { handDecodeEvent, handDecodeRequest, handParseEvent } from '../test/hand-decoders.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    frames: { type: 'string', default: '50000' },
  },
});
const RUNS = Number(values.runs);
const FRAMES = Number(values.frames);

const text = 'Lunch at noon? The usual place, unless someone has a better idea.';
const message = {
  room: 'lobby',
  seq: 48213,
  from: 'alice',
  text,
  ts: 1764590000000,
  cid: 'k3x9-2',
  me: false,
};
const send = JSON.stringify({ type: 'send', id: 'r118', room: 'lobby', cid: 'k3x9-2', text });
const msg = JSON.stringify({ type: 'msg', ...message });
const bell = JSON.stringify({ kind: 'msg', node: 'node-a', message });

const cases: [string, () => unknown][] = [
  ['send request, hand-written', () => handDecodeRequest(send)],
  ['send request, schema (compiled)', () => decodeRequest(send)],
  ['msg event, hand-written (page)', () => handDecodeEvent(msg)],
  ['msg event, schema (page, interpreted)', () => decodeEvent(msg)],
  ['msg bus payload, hand-written', () => handParseEvent(bell)],
  ['msg bus payload, schema (compiled)', () => parseEvent(bell)],
  ['JSON.parse alone, send', () => JSON.parse(send)],
  ['JSON.parse alone, msg', () => JSON.parse(msg)],
];

// Each decoder must accept its frame, or the timing means nothing.
for (const [name, f] of cases) {
  const r = f() as { ok?: boolean } | null | undefined;
  if (r == null || r.ok === false) throw new Error(`${name}: refused its frame`);
}

const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let run = 0; run <= RUNS; run++) {
  for (const [name, f] of cases) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < FRAMES; i++) f();
    const ns = Number(process.hrtime.bigint() - t0) / FRAMES;
    if (run > 0) times.get(name)?.push(ns); // run 0 warms the JIT up
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
console.log(
  `decode: median ns/frame over ${RUNS} runs of ${FRAMES} frames (node ${process.version})`,
);
for (const [name, xs] of times)
  console.log(`  ${name.padEnd(40)} ${median(xs).toFixed(0).padStart(6)}`);
