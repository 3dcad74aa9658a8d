// The floor of an idle connection on Node, for the idle scenarios that measure one.
//
//   node --import tsx bench/floor-server.ts --port 8099 --mode net|ws
//
// - net: a bare `net` server that answers the WebSocket upgrade itself (a fixed 101 with the
//   key's accept hash, then the welcome frame) and after that only reads and drops what comes.
//   No WebSocket library, no HTTP parser, no state of its own: what any server written in
//   JavaScript on Node pays for a connection at the least.
// - ws: a bare `ws` server, as Parley uses it (no permessage-deflate, no client tracking), with
//   one shared error listener and nothing else: what the `ws` package adds to that.

import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 8099);
const mode = arg('--mode') ?? 'net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const WELCOME = 'Welcome to the chat!!!';
const welcomeFrame = Buffer.concat([Buffer.from([0x81, WELCOME.length]), Buffer.from(WELCOME)]);

function ignore(): void {}

const started = () => process.stdout.write(JSON.stringify({ event: 'started', port, mode }) + '\n');

if (mode === 'ws') {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port,
    perMessageDeflate: false,
    clientTracking: false,
  });
  wss.on('connection', (c) => {
    c.on('error', ignore);
    c.send(WELCOME);
  });
  wss.on('listening', started);
} else {
  const handshake = function (this: Socket, chunk: Buffer): void {
    // A handshake fits one segment on loopback; the load generator sends it in one write.
    const text = chunk.toString('latin1');
    const key = /\r\nsec-websocket-key: *([^\r\n]+)/i.exec(text)?.[1]?.trim();
    if (!key || !text.includes('\r\n\r\n')) {
      this.destroy();
      return;
    }
    const accept = createHash('sha1')
      .update(key + GUID)
      .digest('base64');
    this.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    this.write(welcomeFrame);
    this.off('data', handshake);
    this.on('data', ignore);
  };
  const server = createServer((socket) => {
    socket.on('error', ignore);
    socket.on('data', handshake);
  });
  server.listen(port, '127.0.0.1', started);
}
