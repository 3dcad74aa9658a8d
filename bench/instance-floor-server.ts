// The floor of the instance scenario: the least of Parley's JSON protocol that its load
// generators (bench/instance-gen.ts) need, on the `ws` package, with nothing stored, checked or
// limited. Rooms and direct conversations in memory, a seq per room, acks, typing relayed,
// `since` replayed from memory. What it costs per delivery is what any server of this protocol
// pays on this machine, whatever else it does.
//
//   node --import tsx bench/instance-floor-server.ts --port P [--gather]
//
// Without --gather every delivery is a `ws.send` (the tutorial's loop); with it, each frame is
// encoded once and each socket gets one write per event-loop turn, as Parley does.

import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';

const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 8099);
const gather = process.argv.includes('--gather');

interface Conn {
  ws: WebSocket;
  socket: Socket;
  name: string;
  /** Room key → the label this connection calls it by. */
  rooms: Map<string, string>;
  queue: Buffer[] | undefined;
}

interface Room {
  members: Set<Conn>;
  names: Map<string, number>;
  log: { seq: number; entry: Record<string, unknown> }[];
  seq: number;
  lastTyping: number;
}

const rooms = new Map<string, Room>();
const acks = new Map<string, { seq: number; ts: number }>();
const LOG_KEPT = 2000;
const CROWD = 200;

function room(key: string): Room {
  let r = rooms.get(key);
  if (!r)
    rooms.set(key, (r = { members: new Set(), names: new Map(), log: [], seq: 0, lastTyping: 0 }));
  return r;
}

/** A room's key and the label its reader uses: `@peer` names a direct conversation. */
function keyOf(c: Conn, label: string): string {
  if (!label.startsWith('@')) return label;
  const peer = label.slice(1);
  return c.name < peer ? `@${c.name}|${peer}` : `@${peer}|${c.name}`;
}

function labelFor(c: Conn, key: string): string {
  if (!key.startsWith('@')) return key;
  const [a, b] = key.slice(1).split('|');
  return `@${a === c.name ? b : a}`;
}

function frameOf(json: string): Buffer {
  const payload = Buffer.from(json);
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(out, head);
  return out;
}

const dirty: Conn[] = [];
let armed = false;
function flushAll(): void {
  armed = false;
  for (const c of dirty.splice(0)) {
    const q = c.queue;
    c.queue = undefined;
    if (q) c.socket.write(q.length === 1 ? (q[0] as Buffer) : Buffer.concat(q));
  }
}

function out(c: Conn, json: string, framed?: Buffer): void {
  if (!gather) return c.ws.send(json);
  const f = framed ?? frameOf(json);
  if (c.queue) c.queue.push(f);
  else {
    c.queue = [f];
    dirty.push(c);
    if (!armed) {
      armed = true;
      setImmediate(flushAll);
    }
  }
}

/** An entry to everyone in the room, under each one's label (one encoding per label). */
function fanOut(r: Room, key: string, entry: Record<string, unknown>, except?: Conn): void {
  const byLabel = new Map<string, [string, Buffer | undefined]>();
  for (const m of r.members) {
    if (m === except) continue;
    const label = m.rooms.get(key) ?? key;
    let e = byLabel.get(label);
    if (!e) {
      const json = JSON.stringify({ ...entry, room: label });
      // (`room` keeps its place second: spreading keeps the keys' order.)
      e = [json, gather ? frameOf(json) : undefined];
      byLabel.set(label, e);
    }
    out(m, e[0], e[1]);
  }
}

function commit(
  c: Conn,
  key: string,
  cid: string,
  id: unknown,
  entry: Record<string, unknown>,
): void {
  const label = c.rooms.get(key) ?? key;
  const known = acks.get(cid);
  if (known) return out(c, JSON.stringify({ type: 'ack', id, room: label, cid, ...known }));
  const r = room(key);
  const seq = ++r.seq;
  const ts = Date.now();
  // In Parley's order of fields: `type` and `room` first (the label goes in at `room`).
  const { type, ...rest } = entry;
  const full = { type, room: key, seq, from: c.name, ...rest, ts, cid };
  r.log.push({ seq, entry: full });
  if (r.log.length > LOG_KEPT) r.log.splice(0, r.log.length - LOG_KEPT);
  acks.set(cid, { seq, ts });
  out(c, JSON.stringify({ type: 'ack', id, room: label, cid, seq, ts }));
  fanOut(r, key, full);
}

function serve(c: Conn, data: RawData): void {
  const req = JSON.parse(data.toString()) as Record<string, unknown> & { type: string };
  const id = req.id;
  switch (req.type) {
    case 'hello':
      c.name = String(req.name);
      out(
        c,
        JSON.stringify({ type: 'result', id, of: 'hello', name: c.name, token: 't', direct: [] }),
      );
      return;
    case 'join': {
      const label = String(req.room);
      const key = keyOf(c, label);
      const r = room(key);
      c.rooms.set(key, labelFor(c, key));
      r.members.add(c);
      r.names.set(c.name, (r.names.get(c.name) ?? 0) + 1);
      out(
        c,
        JSON.stringify({
          type: 'result',
          id,
          of: 'join',
          room: label,
          lastSeq: r.seq,
          members: [...r.names.keys()],
        }),
      );
      if (typeof req.since === 'number')
        for (const e of r.log)
          if (e.seq > req.since) out(c, JSON.stringify({ ...e.entry, room: label }));
      return;
    }
    case 'send': {
      const key = keyOf(c, String(req.room));
      commit(c, key, String(req.cid), id, { type: 'msg', text: req.text, me: false });
      return;
    }
    case 'react':
    case 'edit': {
      const key = keyOf(c, String(req.room));
      const entry =
        req.type === 'react'
          ? { type: 'reaction', target: req.seq, emoji: req.emoji, on: true }
          : { type: 'edit', target: req.seq, text: req.text };
      commit(c, key, String(req.cid), id, entry);
      return;
    }
    case 'typing': {
      const key = keyOf(c, String(req.room));
      const r = rooms.get(key);
      // As Parley: a room of more than 200 relays one notice a second, whoever types.
      const now = Date.now();
      const crowded = r !== undefined && r.members.size > CROWD;
      if (r && (!crowded || now - r.lastTyping >= 1000)) {
        r.lastTyping = now;
        fanOut(r, key, { type: 'typing', room: key, name: c.name, ttlMs: 6000 }, c);
      }
      out(c, JSON.stringify({ type: 'result', of: 'typing', room: req.room }));
      return;
    }
  }
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: false,
  clientTracking: false,
  handleProtocols: (p) => (p.has('parley.v1') ? 'parley.v1' : false),
});
wss.on('connection', (ws) => {
  const c: Conn = {
    ws,
    socket: (ws as unknown as { _socket: Socket })._socket,
    name: '',
    rooms: new Map(),
    queue: undefined,
  };
  ws.on('error', () => undefined);
  out(c, JSON.stringify({ type: 'welcome', text: 'Welcome to the chat!!!', name: 'guest' }));
  ws.on('message', (d) => serve(c, d));
  ws.on('close', () => {
    for (const key of c.rooms.keys()) {
      const r = rooms.get(key);
      if (!r) continue;
      r.members.delete(c);
      const n = (r.names.get(c.name) ?? 1) - 1;
      if (n > 0) r.names.set(c.name, n);
      else r.names.delete(c.name);
    }
  });
});
wss.on('listening', () => process.stdout.write(JSON.stringify({ event: 'started', port }) + '\n'));
