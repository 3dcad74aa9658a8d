// The WebSocket gateway: upgrade (origin, subprotocol, per-address limit), frames in (binary,
// size and UTF-8 checks, rate limit), frames out (bounded buffer), heartbeat, close.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { SUBPROTOCOL } from '../protocol/index.js';
import {
  serveJson,
  serveText,
  startText,
  type Chat,
  type Frame,
  type Peer,
  type Session,
} from '../core/index.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { originAllowed } from './origin.js';
import type { Metrics } from './metrics.js';
import { Outlet } from './outlet.js';

interface Conn {
  ws: WebSocket;
  session: Session;
  address: string;
  alive: boolean;
}

export interface Gateway {
  /** Takes an HTTP upgrade request from either port. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every connection with the given code; resolves when they are gone or after ms. */
  closeAll(code: number, reason: string, ms: number): Promise<void>;
  readonly size: number;
  stop(): void;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export function createGateway(
  chat: Chat,
  config: Config,
  log: Logger,
  metrics: Metrics,
  pagePort: () => number,
): Gateway {
  const conns = new Set<Conn>();
  const perAddress = new Map<string, number>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxMessageBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const onError = (err: unknown) => log.error('request-failed', { err });

  // One timer for every connection: a peer that missed a whole interval is dropped.
  const heartbeat = setInterval(() => {
    for (const c of conns) {
      if (!c.alive) {
        log.info('disconnect', { address: c.address, reason: 'heartbeat timeout' });
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, config.heartbeatMs);
  heartbeat.unref();

  function accept(ws: WebSocket, address: string): void {
    const codec = ws.protocol === SUBPROTOCOL ? 'json' : 'text';
    const outlet = new Outlet(ws);
    // Whatever was queued before a close frame goes out before it.
    const close = (code: number, reason: string) => {
      outlet.flush();
      ws.close(code, reason);
    };
    const peer: Peer = {
      codec,
      address,
      send(frame: Frame) {
        if (ws.readyState !== ws.OPEN) return;
        if (outlet.backlog + frame.bytes.length > config.sendBufferBytes) {
          log.warn('slow-consumer', { address, buffered: outlet.backlog });
          metrics.slowConsumers.inc();
          close(1013, 'SLOW_CONSUMER');
          // A consumer that stopped reading will not read the close frame either.
          setTimeout(() => ws.terminate(), 1000).unref();
          return;
        }
        outlet.push(frame);
      },
      close,
    };
    const session = chat.connect(peer);
    const conn: Conn = { ws, session, address, alive: true };
    conns.add(conn);
    metrics.connections.inc();
    log.info('connect', { address, codec, name: session.name });
    if (codec === 'text') startText(chat, session, onError);

    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      conn.alive = true;
      if (isBinary) {
        close(1003, 'BINARY_UNSUPPORTED');
        return;
      }
      const verdict = session.bucket.take(Date.now());
      if (verdict === 'close') {
        log.warn('refused', { address, reason: 'rate limit, policy close' });
        chat.telemetry.refused('POLICY_VIOLATION');
        close(1008, 'POLICY_VIOLATION');
        return;
      }
      if (verdict === 'refuse') {
        chat.telemetry.refused('RATE_LIMITED');
        if (codec === 'json')
          session.event({
            type: 'error',
            code: 'RATE_LIMITED',
            message: 'Too many messages; slow down.',
          });
        else session.line('! Too many messages; slow down.');
        return;
      }
      const text = data.toString();
      if (codec === 'json') serveJson(chat, session, text, onError);
      else serveText(chat, session, text, onError);
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already sent the close frame that goes with it (1007, 1009, ...).
      log.info('peer-error', { address, code: err.code ?? 'unknown' });
    });
    ws.on('close', (code: number) => {
      conns.delete(conn);
      metrics.connections.dec();
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n > 0) perAddress.set(address, n);
      else perAddress.delete(address);
      chat.disconnect(session);
      log.info('disconnect', { address, code });
    });
  }

  return {
    upgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      const address = req.socket.remoteAddress ?? 'unknown';
      const origin = req.headers.origin;
      if (!originAllowed(origin, req.headers.host, pagePort(), config.allowedOrigins)) {
        log.warn('refused', { address, reason: 'origin', origin });
        metrics.handshakesRefused.inc({ reason: 'origin' });
        return refuse(socket, 403, 'Forbidden');
      }
      const open = perAddress.get(address) ?? 0;
      if (open >= config.connectionsPerAddress) {
        log.warn('refused', { address, reason: 'connections per address' });
        metrics.handshakesRefused.inc({ reason: 'connections-per-address' });
        return refuse(socket, 429, 'Too Many Requests');
      }
      perAddress.set(address, open + 1);
      let accepted = false;
      socket.once('close', () => {
        if (accepted) return;
        const n = (perAddress.get(address) ?? 1) - 1;
        if (n > 0) perAddress.set(address, n);
        else perAddress.delete(address);
      });
      wss.handleUpgrade(req, socket, head, (ws) => {
        accepted = true;
        accept(ws, address);
      });
    },
    async closeAll(code, reason, ms) {
      const all = [...conns];
      await Promise.race([
        Promise.all(
          all.map(
            (c) =>
              new Promise<void>((resolve) => {
                if (c.ws.readyState === c.ws.CLOSED) return resolve();
                c.ws.once('close', () => resolve());
                c.session.peer.close(code, reason);
              }),
          ),
        ),
        new Promise((r) => setTimeout(r, ms).unref()),
      ]);
      for (const c of conns) c.ws.terminate();
    },
    get size() {
      return conns.size;
    },
    stop() {
      clearInterval(heartbeat);
      wss.close();
    },
  };
}
