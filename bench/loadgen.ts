// The load generator: a child of bench/run.ts, pinned to its own core. It opens plain `ws`
// clients against 127.0.0.1, sends timestamped messages on a fixed schedule, and measures at
// the clients: deliveries, loss and latency. Commands come over the IPC channel (bench/ipc.ts).
//
// A bench message is `|~P|SSSSS|NNNNNNNN|TTTTTTTTTTTTTTT|xxx...`: window P, sender S, number N,
// send time T in microseconds on this process's clock. Parley's text mode delivers it as
// `name: |~...`, the plain server as sent, so the marker is searched for inside each frame.
//
// With several nodes (the cluster scenario), client i connects to node i mod K, and each delivery
// is also counted as same-node or cross-node: the sender number S says which node sent it.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket, type RawData } from 'ws';
import type {
  Command,
  ConnectCommand,
  ConnectResult,
  LatencySummary,
  Reply,
  Request,
  RunCommand,
  RunResult,
  SettleCommand,
  SettleResult,
} from './ipc.js';

interface Client {
  room: number;
  /** Index of the node (server URL) it is connected to. */
  node: number;
  open: boolean;
  ready: boolean;
  /** Frames of the current window received. */
  got: number;
  send(text: string): void;
  /** Ends the connection at once; `onGone` fires when it is closed. */
  kill(): void;
  onGone?: () => void;
  /** Stops reading the socket for good. */
  pause(): void;
  stalled: boolean;
}

const MARK = Buffer.from('|~');
const DIGIT0 = 48;
// Offsets from the start of the marker.
const PHASE_AT = 2;
const SENDER_AT = 2 + 1 + 1;
const SENDER_DIGITS = 5;
const TIME_AT = 2 + 1 + 1 + 5 + 1 + 8 + 1;
const TIME_DIGITS = 15;
const JOINED = Buffer.from('* Now talking in #');

const clients: Client[] = [];
let frames = 0;
let lastFrameAt = 0;

// The window being measured.
let phase = -1;
let phaseGot = 0;
let lastPhaseAt = 0;
/** Latencies in µs, growing as needed. */
class Samples {
  values = new Uint32Array(1 << 16);
  n = 0;
  add(us: number): void {
    if (this.n === this.values.length) {
      const bigger = new Uint32Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = us < 0 ? 0 : us;
  }
  get all(): Uint32Array {
    return this.values.subarray(0, this.n);
  }
}
const latencies = new Samples();
const sameNode = new Samples();
const crossNode = new Samples();
/** The node of each sender of the current window, by sender number. */
let senderNode: number[] = [];
/** Deliveries received in the current window, by the sender's node. */
let fromNode: number[] = [];

// Readiness while connecting.
let roomsMode = false;
/** How many nodes the clients are spread over. */
let nodeCount = 1;
let readyCount = 0;
let lastReadyAt = 0;

const nowUs = () => Math.round(performance.now() * 1000);

/** One text frame's payload, `buf[start, end)`. */
function onText(c: Client, buf: Buffer, start: number, end: number): void {
  frames++;
  lastFrameAt = performance.now();
  if (!c.ready) {
    // The first frame (the welcome) makes a client ready, or in rooms mode the join reply.
    const j = roomsMode ? buf.indexOf(JOINED, start) : start;
    if (j >= 0 && j < end) {
      c.ready = true;
      readyCount++;
      lastReadyAt = performance.now();
    }
  }
  const at = buf.indexOf(MARK, start);
  if (at < 0 || at + TIME_AT + TIME_DIGITS > end) return;
  if (buf[at + PHASE_AT] !== DIGIT0 + phase) return;
  let t = 0;
  for (let i = at + TIME_AT, stop = i + TIME_DIGITS; i < stop; i++)
    t = t * 10 + (buf[i] ?? DIGIT0) - DIGIT0;
  let s = 0;
  for (let i = at + SENDER_AT, stop = i + SENDER_DIGITS; i < stop; i++)
    s = s * 10 + (buf[i] ?? DIGIT0) - DIGIT0;
  const now = performance.now();
  lastPhaseAt = now;
  phaseGot++;
  c.got++;
  const us = Math.round(now * 1000) - t;
  latencies.add(us);
  const from = senderNode[s] ?? 0;
  (from === c.node ? sameNode : crossNode).add(us);
  fromNode[from] = (fromNode[from] ?? 0) + 1;
}

interface Handlers {
  open(): void;
  /** Before open: the handshake failed. */
  fail(reason: string): void;
  gone(): void;
}

/** A client on the ws package. */
function wsClient(
  url: string,
  protocol: string | undefined,
  localAddress: string | undefined,
  c: Client,
  h: Handlers,
): void {
  const ws = new WebSocket(url, protocol ? [protocol] : [], {
    ...(localAddress && { localAddress }),
    perMessageDeflate: false,
    skipUTF8Validation: true,
    handshakeTimeout: 60_000,
    maxPayload: 16 * 1024 * 1024,
  });
  let opened = false;
  let lastError = 'closed';
  c.send = (text) => ws.send(text);
  c.kill = () => ws.terminate();
  c.pause = () => (ws as unknown as { _socket: Socket })._socket.pause();
  ws.on('open', () => {
    opened = true;
    h.open();
  });
  ws.on('message', (data: RawData) => {
    const buf = data as Buffer;
    onText(c, buf, 0, buf.length);
  });
  ws.on('error', (err) => {
    lastError = err.message;
  });
  ws.on('close', () => (opened ? h.gone() : h.fail(lastError)));
}

/**
 * A minimal client on a plain socket: an HTTP upgrade, then frame headers are walked in place
 * (server frames are not masked), pings are answered, and sends are masked as RFC 6455 wants.
 * It does per frame only what the measurement needs, so the load generator stays light.
 */
function rawClient(
  url: string,
  protocol: string | undefined,
  localAddress: string | undefined,
  c: Client,
  h: Handlers,
): void {
  const u = new URL(url);
  const socket = connect({
    host: u.hostname,
    port: Number(u.port),
    ...(localAddress && { localAddress }),
  });
  socket.setNoDelay(true);
  let opened = false;
  let lastError = 'closed';
  let pending: Buffer | undefined;
  const key = randomBytes(16).toString('base64');

  const frame = (opcode: number, payload: Buffer) => {
    const n = payload.length;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const out = Buffer.allocUnsafe(head + 4 + n);
    out[0] = 0x80 | opcode;
    if (n < 126) out[1] = 0x80 | n;
    else if (n < 65536) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(n, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeBigUInt64BE(BigInt(n), 2);
    }
    const mask = randomBytes(4);
    mask.copy(out, head);
    for (let i = 0; i < n; i++) out[head + 4 + i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
    socket.write(out);
  };
  c.send = (text) => frame(0x1, Buffer.from(text));
  c.kill = () => socket.destroy();
  c.pause = () => socket.pause();

  const parse = (buf: Buffer) => {
    let off = 0;
    const len = buf.length;
    while (len - off >= 2) {
      const b0 = buf[off] ?? 0;
      let n = (buf[off + 1] ?? 0) & 0x7f;
      let head = 2;
      if (n === 126) {
        if (len - off < 4) break;
        n = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (n === 127) {
        if (len - off < 10) break;
        n = Number(buf.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (len - off < head + n) break;
      const start = off + head;
      const opcode = b0 & 0x0f;
      if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) onText(c, buf, start, start + n);
      else if (opcode === 0x9) frame(0xa, buf.subarray(start, start + n));
      else if (opcode === 0x8) socket.end();
      off = start + n;
    }
    pending = off < len ? buf.subarray(off) : undefined;
  };

  socket.on('connect', () => {
    socket.write(
      `GET ${u.pathname || '/'} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
        '\r\n',
    );
  });
  socket.on('data', (chunk: Buffer) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    if (opened) return parse(buf);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      pending = buf;
      return;
    }
    const status = buf.toString('latin1', 0, buf.indexOf('\r\n'));
    if (!/^HTTP\/1\.1 101 /.test(status)) {
      lastError = status;
      socket.destroy();
      return;
    }
    opened = true;
    h.open();
    parse(buf.subarray(end + 4));
  });
  socket.on('error', (err) => {
    lastError = err.message;
  });
  socket.on('close', () => (opened ? h.gone() : h.fail(lastError)));
}

/** Times a handshake refused with 503 is tried again before it counts as failed. */
const SHED_RETRIES = 40;

function connectAll(cmd: ConnectCommand): Promise<ConnectResult> {
  roomsMode = cmd.rooms > 0;
  nodeCount = cmd.urls.length;
  readyCount = 0;
  const framesBefore = frames;
  const t0 = performance.now();
  let next = 0;
  let inflight = 0;
  let opened = 0;
  let failed = 0;
  let lastOpenAt = t0;
  const errors: string[] = [];
  const shedTries = new Map<number, number>();
  return new Promise((resolve) => {
    let waiting: ReturnType<typeof setInterval> | undefined;
    const finish = () => {
      if (waiting) clearInterval(waiting);
      resolve({
        opened,
        failed,
        errors,
        handshakeMs: lastOpenAt - t0,
        ready: readyCount,
        readyMs: (readyCount > 0 ? lastReadyAt : performance.now()) - t0,
        frames: frames - framesBefore,
      });
    };
    const settled = () => {
      if (opened + failed < cmd.n) return;
      // Every handshake is over; now wait for the clients' first frames.
      const deadline = performance.now() + cmd.readyTimeoutMs;
      waiting = setInterval(() => {
        if (readyCount >= opened || performance.now() > deadline) finish();
      }, 10);
    };
    const launch = () => {
      while (inflight < cmd.concurrency && next < cmd.n) start(next++);
    };
    const start = (i: number) => {
      inflight++;
      const node = i % cmd.urls.length;
      const c: Client = {
        room: cmd.rooms > 0 ? i % cmd.rooms : 0,
        node,
        open: false,
        ready: false,
        got: 0,
        send: () => undefined,
        kill: () => undefined,
        pause: () => undefined,
        stalled: false,
      };
      const h: Handlers = {
        open() {
          inflight--;
          opened++;
          lastOpenAt = performance.now();
          c.open = true;
          clients.push(c);
          if (cmd.rooms > 0) c.send(`/join room${c.room}`);
          launch();
          settled();
        },
        fail(reason) {
          inflight--;
          // A server that sheds handshakes while it catches up (503) is asked again, as the
          // page does: a client it turned away is not a client that could not connect.
          const tries = (shedTries.get(i) ?? 0) + 1;
          if (reason.includes('503') && tries <= SHED_RETRIES) {
            shedTries.set(i, tries);
            setTimeout(() => start(i), 250 * (1 + Math.random()));
            return;
          }
          failed++;
          if (errors.length < 5) errors.push(reason);
          launch();
          settled();
        },
        gone() {
          c.open = false;
          c.onGone?.();
        },
      };
      const url = cmd.urls[node] ?? '';
      const from = cmd.sourceAddresses ? `127.0.0.${2 + (i % cmd.sourceAddresses)}` : undefined;
      (cmd.client === 'ws' ? wsClient : rawClient)(url, cmd.protocol, from, c, h);
    };
    if (cmd.n === 0) finish();
    else launch();
  });
}

function settle(cmd: SettleCommand): Promise<SettleResult> {
  const t0 = performance.now();
  let seen = frames;
  let since = t0;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (frames !== seen) {
        seen = frames;
        since = now;
      }
      const quiet = now - since >= cmd.quietMs;
      if (quiet || now - t0 > cmd.maxMs) {
        clearInterval(timer);
        resolve({ ms: now - t0, frames, quiet });
      }
    }, 50);
  });
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function summarize(values: Uint32Array): LatencySummary {
  const n = values.length;
  if (n === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  const sorted = values.slice().sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] ?? 0;
  const at = (q: number) => (sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] ?? 0) / 1000;
  return {
    count: n,
    meanMs: sum / n / 1000,
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
    maxMs: (sorted[n - 1] ?? 0) / 1000,
  };
}

function run(cmd: RunCommand): Promise<RunResult> {
  // Members per room (and per node of the room), and the first few ready clients of each room as
  // its senders, at most their share from each node first (so a room on two nodes has senders
  // on both), then any ready client if a node had too few.
  const members = new Map<number, number>();
  const membersOn = new Map<string, number>();
  const onNode = (room: number, node: number) => `${room}/${node}`;
  for (const c of clients) {
    if (!c.open || c.stalled) continue;
    c.got = 0;
    members.set(c.room, (members.get(c.room) ?? 0) + 1);
    const key = onNode(c.room, c.node);
    membersOn.set(key, (membersOn.get(key) ?? 0) + 1);
  }
  const senders: Client[] = [];
  const perRoom = new Map<number, number>();
  const perRoomNode = new Map<string, number>();
  const share = Math.ceil(cmd.sendersPerRoom / Math.max(1, nodeCount));
  for (const capped of [true, false]) {
    for (const c of clients) {
      if (!c.open || !c.ready || c.stalled || senders.includes(c)) continue;
      const k = perRoom.get(c.room) ?? 0;
      if (k >= cmd.sendersPerRoom) continue;
      const key = onNode(c.room, c.node);
      const kn = perRoomNode.get(key) ?? 0;
      if (capped && kn >= share) continue;
      perRoom.set(c.room, k + 1);
      perRoomNode.set(key, kn + 1);
      senders.push(c);
    }
  }
  senderNode = senders.map((c) => c.node);
  const perNode = () => Array.from({ length: Math.max(1, nodeCount) }, () => 0);
  const sendersPerNode = perNode();
  for (const c of senders) sendersPerNode[c.node] = (sendersPerNode[c.node] ?? 0) + 1;
  const expectedFrom = perNode();
  fromNode = perNode();
  phase = cmd.phase;
  phaseGot = 0;
  latencies.n = 0;
  sameNode.n = 0;
  crossNode.n = 0;
  const total = Math.round((cmd.rate * cmd.durationMs) / 1000);
  const periodMs = 1000 / cmd.rate;
  let sent = 0;
  let expected = 0;
  let expectedSame = 0;
  let maxSlip = 0;
  const t0 = performance.now();
  lastPhaseAt = t0;
  let sendEnd = t0;

  const send = (i: number) => {
    const s = i % senders.length;
    const c = senders[s];
    if (!c?.open) return;
    const head = `|~${cmd.phase}|${pad(s, 5)}|${pad(i, 8)}|${pad(nowUs(), TIME_DIGITS)}|`;
    c.send(head.padEnd(cmd.messageBytes, 'x'));
    sent++;
    expected += members.get(c.room) ?? 0;
    expectedSame += membersOn.get(onNode(c.room, c.node)) ?? 0;
    expectedFrom[c.node] = (expectedFrom[c.node] ?? 0) + (members.get(c.room) ?? 0);
  };
  const split = () => ({
    bySenderNode: expectedFrom.map((expected, node) => ({
      expected,
      received: fromNode[node] ?? 0,
    })),
    sameNode: {
      expected: expectedSame,
      received: sameNode.n,
      latency: summarize(sameNode.all),
    },
    crossNode: {
      expected: expected - expectedSame,
      received: crossNode.n,
      latency: summarize(crossNode.all),
    },
  });

  return new Promise((resolve) => {
    if (senders.length === 0) {
      resolve({
        sent: 0,
        expected: 0,
        received: 0,
        extra: 0,
        silentClients: 0,
        sendMs: 0,
        spanMs: 0,
        drained: true,
        latency: summarize(new Uint32Array(0)),
        maxScheduleSlipMs: 0,
        sendersPerNode,
        ...split(),
        stalled: clients.filter((c) => c.stalled).length,
      });
      return;
    }
    let i = 0;
    const finish = (drained: boolean) => {
      const room = new Set(senders.map((c) => c.room));
      let silent = 0;
      for (const c of clients)
        if (c.open && !c.stalled && room.has(c.room) && c.got === 0) silent++;
      const result: RunResult = {
        sent,
        expected,
        received: Math.min(phaseGot, expected),
        extra: Math.max(0, phaseGot - expected),
        silentClients: silent,
        sendMs: sendEnd - t0,
        spanMs: Math.max(sendEnd, lastPhaseAt) - t0,
        drained,
        latency: summarize(latencies.all),
        maxScheduleSlipMs: maxSlip,
        sendersPerNode,
        ...split(),
        stalled: clients.filter((c) => c.stalled).length,
      };
      phase = -1;
      resolve(result);
    };
    const tick = setInterval(() => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / periodMs) + 1);
      if (i < due) maxSlip = Math.max(maxSlip, now - (t0 + i * periodMs));
      while (i < due) send(i++);
      if (i < total) return;
      clearInterval(tick);
      sendEnd = performance.now();
      const deadline = sendEnd + cmd.drainMs;
      const drain = setInterval(() => {
        const done = phaseGot >= expected;
        const now = performance.now();
        // Frames of any window still coming means the server is still working off its backlog.
        if (done || now > deadline || now - Math.max(lastFrameAt, sendEnd) > cmd.quietMs) {
          clearInterval(drain);
          finish(done);
        }
      }, 5);
    }, 1);
  });
}

function stall(n: number): { stalled: number } {
  const chosen = clients.filter((c) => c.open && !c.stalled).slice(-n);
  for (const c of chosen) {
    c.stalled = true;
    c.pause();
  }
  return { stalled: chosen.length };
}

/** Closes the clients that `pick` chooses among the open ones; resolves once they are gone. */
function close(pick: (c: Client) => boolean = () => true): Promise<{ closed: number }> {
  const open = clients.filter((c) => c.open && pick(c));
  return new Promise((resolve) => {
    let left = open.length;
    if (left === 0) return resolve({ closed: 0 });
    const timer = setTimeout(() => resolve({ closed: open.length - left }), 5000);
    for (const c of open) {
      c.onGone = () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve({ closed: open.length });
        }
      };
      c.kill();
    }
  });
}

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.cmd) {
    case 'connect':
      return connectAll(cmd);
    case 'settle':
      return settle(cmd);
    case 'run':
      return run(cmd);
    case 'stall':
      return stall(cmd.n);
    case 'release':
      return close((c) => c.stalled);
    case 'close':
      return close();
  }
}

if (!process.send) {
  console.error('bench/loadgen.ts is started by bench/run.ts');
  process.exit(2);
}
// The parent going away (or killing us) ends the load generator.
process.on('disconnect', () => process.exit(0));
process.on('message', (req: Request) => {
  handle(req).then(
    (result) => process.send?.({ id: req.id, ok: true, result } satisfies Reply),
    (err: unknown) =>
      process.send?.({
        id: req.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      } satisfies Reply),
  );
});
process.send({ ready: true });
