// The baseline: the tutorial's `ws` broadcast server (seed/000: welcome each connection, send every
// message to every open client), on 127.0.0.1 and the port given, without permessage-deflate.
//
//   node --import tsx bench/plain-ws-server.ts --port 8099 [--rooms]
//
// Without --rooms it is the tutorial's loop exactly. The multi-room scenario needs rooms, which
// the tutorial has not, so --rooms adds the least that works: a Map<room, Set<ws>>, `/join NAME`
// moves the client (and answers `* Now talking in #NAME`, as Parley's text mode does), and a
// message goes to the sender's room with the same naive per-client loop, `m.toString()` and all.
// Everyone starts in `lobby`. Nothing is stored: this is the cost of the loop alone.

import { WebSocketServer, WebSocket } from 'ws';

const portArg = process.argv.indexOf('--port');
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 8099;
const withRooms = process.argv.includes('--rooms');

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });

if (!withRooms) {
  wss.on('connection', (c) => {
    // Not in the tutorial: a reset by the peer must not end the benchmark.
    c.on('error', () => undefined);
    c.send('Welcome to the chat!!!');
    c.on('message', (m) =>
      wss.clients.forEach((x) => {
        if (x.readyState === WebSocket.OPEN) x.send(m.toString());
      }),
    );
  });
} else {
  const rooms = new Map<string, Set<WebSocket>>();
  const enter = (room: string, c: WebSocket) => {
    let set = rooms.get(room);
    if (!set) rooms.set(room, (set = new Set()));
    set.add(c);
  };
  const leave = (room: string, c: WebSocket) => {
    const set = rooms.get(room);
    set?.delete(c);
    if (set?.size === 0) rooms.delete(room);
  };
  wss.on('connection', (c) => {
    c.on('error', () => undefined);
    let room = 'lobby';
    enter(room, c);
    c.send('Welcome to the chat!!!');
    c.on('message', (m) => {
      const line = m.toString();
      if (line.startsWith('/join ')) {
        leave(room, c);
        room = line.slice(6).trim();
        enter(room, c);
        c.send(`* Now talking in #${room}`);
        return;
      }
      rooms.get(room)?.forEach((x) => {
        if (x.readyState === WebSocket.OPEN) x.send(m.toString());
      });
    });
    c.on('close', () => leave(room, c));
  });
}

wss.on('listening', () => {
  const address = wss.address();
  const bound = typeof address === 'string' ? address : address?.port;
  process.stdout.write(JSON.stringify({ event: 'started', port: bound, rooms: withRooms }) + '\n');
});
