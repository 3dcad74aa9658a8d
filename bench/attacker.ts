// One attacker for `bench/attack.ts`: a single address (127.0.0.1) doing one kind of abuse
// against a default Parley for a fixed time, then printing what it got away with as one JSON
// line. It runs as its own process at low priority, so its own CPU does not slow the bystanders'
// measuring process; what it costs the bystanders is what it makes the server do.
//
//   node --import tsx bench/attacker.ts KIND HTTP_PORT WS_PORT DURATION_MS
//   node --import tsx bench/attacker.ts sink HTTP_PORT WS_PORT
//
// `sink` is the floor to compare with: a server that does the least any server could under
// each attack (every HTTP socket reset at accept; a WebSocket upgraded, then never read), so
// what an attack on it still costs the bystanders is the attack's own traffic on this machine.

import { createServer, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';

export type Attack =
  | 'none'
  | 'reconnect'
  | 'join-part'
  | 'big-messages'
  | 'names'
  | 'rooms'
  | 'http-history'
  | 'half-open';

export interface AttackResult {
  attack: Attack;
  /** Handshakes that completed and that were refused (any non-101 answer or error). */
  connected: number;
  refusedHandshakes: number;
  /** Frames sent, and `! ` lines or error frames received back. */
  sent: number;
  refusals: number;
  /** Bytes of HTTP bodies received (the history and room-list attacks). */
  httpBytes: number;
  httpOk: number;
  httpRefused: number;
  /** Names the server confirmed (`* You are now ...`). */
  names: number;
  /** Sockets held open without a request (half-open). */
  heldSockets: number;
}

const HOST = '127.0.0.1';
const PARALLEL = 20;

function result(attack: Attack): AttackResult {
  return {
    attack,
    connected: 0,
    refusedHandshakes: 0,
    sent: 0,
    refusals: 0,
    httpBytes: 0,
    httpOk: 0,
    httpRefused: 0,
    names: 0,
    heldSockets: 0,
  };
}

function randomWord(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** A text-mode connection; resolves once open, or null when the handshake was refused. */
function open(
  wsPort: number,
  r: AttackResult,
  onLine?: (l: string) => void,
): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${HOST}:${wsPort}`, { localAddress: HOST });
    ws.on('open', () => {
      r.connected++;
      resolve(ws);
    });
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('! ')) r.refusals++;
      onLine?.(text);
    });
    ws.on('unexpected-response', (_req, res) => {
      r.refusedHandshakes++;
      res.resume();
      ws.terminate();
      resolve(null);
    });
    ws.on('error', () => {
      if (ws.readyState !== WebSocket.OPEN) {
        r.refusedHandshakes++;
        resolve(null);
      }
    });
  });
}

/** Sends as fast as the socket drains, keeping at most `window` bytes buffered. */
async function flood(
  ws: WebSocket,
  line: () => string,
  until: number,
  r: AttackResult,
): Promise<void> {
  while (Date.now() < until && ws.readyState === WebSocket.OPEN) {
    if (ws.bufferedAmount < 256 * 1024) {
      ws.send(line());
      r.sent++;
    } else await new Promise((res) => setTimeout(res, 5));
    if (r.sent % 50 === 0) await new Promise((res) => setImmediate(res));
  }
}

function httpGet(port: number, path: string, r: AttackResult): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path, localAddress: HOST, agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => (r.httpBytes += chunk.length));
      res.on('end', () => {
        if (res.statusCode === 200) r.httpOk++;
        else r.httpRefused++;
        resolve();
      });
      res.on('error', () => resolve());
    });
    req.on('error', () => {
      r.httpRefused++;
      resolve();
    });
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

async function loops(n: number, until: number, body: () => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (Date.now() < until) await body();
    }),
  );
}

async function run(
  attack: Attack,
  httpPort: number,
  wsPort: number,
  ms: number,
): Promise<AttackResult> {
  const r = result(attack);
  const until = Date.now() + ms;
  switch (attack) {
    case 'none':
      // Two quiet windows compared: how far apart this machine puts them with no attack at all.
      await sleep(ms);
      break;
    case 'reconnect':
      // A fresh connection for every burst, hoping each starts with a full bucket.
      await loops(PARALLEL, until, async () => {
        const ws = await open(wsPort, r);
        if (!ws) {
          await sleep(20);
          return;
        }
        for (let i = 0; i < 40; i++) {
          ws.send(`flood ${randomWord()} ${'x'.repeat(80)}`);
          r.sent++;
        }
        ws.close();
      });
      break;
    case 'join-part': {
      // Every join and part is a presence frame to every member of the lobby.
      const sockets = (
        await Promise.all(Array.from({ length: PARALLEL }, () => open(wsPort, r)))
      ).filter((w): w is WebSocket => w !== null);
      let i = 0;
      await Promise.all(
        sockets.map((ws) =>
          flood(ws, () => (i++ % 2 === 0 ? '/part lobby' : '/join lobby'), until, r),
        ),
      );
      for (const ws of sockets) ws.terminate();
      break;
    }
    case 'big-messages': {
      const sockets = (
        await Promise.all(Array.from({ length: PARALLEL }, () => open(wsPort, r)))
      ).filter((w): w is WebSocket => w !== null);
      const body = 'y'.repeat(16 * 1024 - 64);
      await Promise.all(sockets.map((ws) => flood(ws, () => `${randomWord()} ${body}`, until, r)));
      for (const ws of sockets) ws.terminate();
      break;
    }
    case 'names':
      // Each name taken is reserved in the store for good.
      await loops(PARALLEL, until, async () => {
        const ws = await open(wsPort, r, (l) => {
          if (l.startsWith('* You are now')) r.names++;
        });
        if (!ws) {
          await sleep(20);
          return;
        }
        for (let i = 0; i < 10; i++) {
          ws.send(`/nick n${randomWord()}`);
          r.sent++;
        }
        await sleep(50);
        ws.close();
      });
      break;
    case 'rooms': {
      // Make rooms (a message each makes them permanent) and list them over and over.
      const maker = loops(PARALLEL / 2, until, async () => {
        const ws = await open(wsPort, r);
        if (!ws) {
          await sleep(20);
          return;
        }
        for (let i = 0; i < 10; i++) {
          ws.send(`/join r${randomWord()}`);
          ws.send('hello');
          r.sent += 2;
        }
        await sleep(20);
        ws.close();
      });
      const lister = loops(PARALLEL / 2, until, () => httpGet(httpPort, '/api/rooms', r));
      await Promise.all([maker, lister]);
      break;
    }
    case 'http-history':
      await loops(10, until, () => httpGet(httpPort, '/api/rooms/lobby/messages?limit=200', r));
      break;
    case 'half-open': {
      // Sockets that never send a request hold a descriptor each until the header timeout.
      const held: Socket[] = [];
      const target = 15_000;
      while (Date.now() < until && held.length < target) {
        const batch = Array.from(
          { length: 1000 },
          () =>
            new Promise<void>((resolve) => {
              const s = connect({ host: HOST, port: httpPort, localAddress: HOST });
              s.on('connect', () => {
                held.push(s);
                resolve();
              });
              s.on('error', (err: NodeJS.ErrnoException) => {
                if (err.code === 'ECONNRESET') r.refusedHandshakes++;
                resolve();
              });
              s.on('close', () => {
                const i = held.indexOf(s);
                if (i >= 0) held.splice(i, 1);
              });
            }),
        );
        await Promise.all(batch);
        r.heldSockets = Math.max(r.heldSockets, held.length);
      }
      while (Date.now() < until) {
        r.heldSockets = Math.max(r.heldSockets, held.length);
        await sleep(100);
      }
      for (const s of held) s.destroy();
      break;
    }
    default:
      throw new Error(`unknown attack ${String(attack)}`);
  }
  return r;
}

/** Listens until killed; prints `ready` once both ports listen. */
function sink(httpPort: number, wsPort: number): void {
  const page = createServer();
  page.on('connection', (s: Socket) => s.resetAndDestroy());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const ws = createServer();
  ws.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (c) => {
      c.on('error', () => undefined);
      c.pause();
    }),
  );
  let listening = 0;
  const ready = () => {
    if (++listening === 2) process.stdout.write('ready\n');
  };
  page.listen(httpPort, HOST, ready);
  ws.listen(wsPort, HOST, ready);
}

const [kind, httpPort, wsPort, ms] = process.argv.slice(2);
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && kind === 'sink') {
  sink(Number(httpPort), Number(wsPort));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run(kind as Attack, Number(httpPort), Number(wsPort), Number(ms)).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`attacker: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
