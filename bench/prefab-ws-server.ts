// A reference point, not a product: the broadcast loop of bench/plain-ws-server.ts with the
// fan-out techniques Parley uses (README, Design notes) and nothing else (no store, no
// sequence numbers). It shows what those techniques buy on this machine, so that Parley's
// gateway can be held to it. Run it with `bench/run.ts --servers ...,prefab`.
//
//   node --import tsx bench/prefab-ws-server.ts --port P [--rooms] [--gather-ms N]
//
// - A message is framed once (header + payload in one Buffer), not once per recipient.
// - Recipients get the same Buffer, queued on the connection; at the end of the event-loop turn
//   (or after --gather-ms, to coalesce under a steady trickle) each connection gets ONE write
//   of everything queued for it: one syscall per connection per turn, not per message.
// - The frame is written to the upgraded socket directly (ws's Sender is idle: no
//   permessage-deflate, so no queue to respect); ws still reads, pings and closes.
// Deliveries look like Parley's text mode (`guest-xxxxxx: text`) so that sizes match.

import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, WebSocket, type RawData } from 'ws';

const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 8099);
const gatherMs = Number(arg('--gather-ms') ?? 0);
const withRooms = process.argv.includes('--rooms');

interface Conn {
  ws: WebSocket;
  socket: Socket;
  name: string;
  room: string;
  queue: Buffer[];
}

/** One unmasked text frame, header and payload in one Buffer. */
function textFrame(payload: Buffer): Buffer {
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

const rooms = new Map<string, Set<Conn>>();
let dirty: Conn[] = [];
let scheduled = false;

function flush(): void {
  scheduled = false;
  const list = dirty;
  dirty = [];
  for (const c of list) {
    const q = c.queue;
    c.queue = [];
    if (c.ws.readyState !== WebSocket.OPEN) continue;
    // One write per connection per turn, whatever the number of messages.
    c.socket.write(q.length === 1 ? (q[0] as Buffer) : Buffer.concat(q));
  }
}

function broadcast(room: string, frame: Buffer): void {
  const members = rooms.get(room);
  if (!members) return;
  for (const c of members) {
    if (c.queue.length === 0) dirty.push(c);
    c.queue.push(frame);
  }
  if (!scheduled) {
    scheduled = true;
    if (gatherMs > 0) setTimeout(flush, gatherMs);
    else setImmediate(flush);
  }
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: false,
  clientTracking: false,
});
wss.on('connection', (ws, req) => {
  ws.on('error', () => undefined);
  const c: Conn = {
    ws,
    socket: req.socket as Socket,
    name: `guest-${randomBytes(3).toString('hex')}`,
    room: 'lobby',
    queue: [],
  };
  const enter = (room: string) => {
    c.room = room;
    let set = rooms.get(room);
    if (!set) rooms.set(room, (set = new Set()));
    set.add(c);
  };
  const leave = () => {
    const set = rooms.get(c.room);
    set?.delete(c);
    if (set?.size === 0) rooms.delete(c.room);
  };
  enter('lobby');
  ws.send('Welcome to the chat!!!');
  ws.on('message', (data: RawData) => {
    const m = data as Buffer;
    if (withRooms && m.subarray(0, 6).toString() === '/join ') {
      leave();
      enter(m.subarray(6).toString().trim());
      ws.send(`* Now talking in #${c.room}`);
      return;
    }
    broadcast(c.room, textFrame(Buffer.concat([Buffer.from(`${c.name}: `), m])));
  });
  ws.on('close', leave);
});

wss.on('listening', () => {
  const address = wss.address();
  const bound = typeof address === 'string' ? address : address?.port;
  process.stdout.write(JSON.stringify({ event: 'started', port: bound, gatherMs }) + '\n');
});
