// The WebSocket gateway: the upgrade (origin, subprotocol, per-address limit), the heartbeat,
// and closing everyone; each connection's own work is in connection.ts.

import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import {
  ERRORS,
  SUBPROTOCOL,
  closeFrame,
  closeWith,
  type ClosingCode,
  type ErrorCode,
} from '../protocol/index.js';
import { addressKey, KeyedBuckets, type Chat } from '../core/index.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { hostCheck, originAllowed } from './origin.js';
import { addressOptions, clientAddressResolver } from './client-address.js';
import { Connection, ConnectionSocket, type Shared } from './connection.js';
import { Heartbeat } from './heartbeat.js';
import type { FlushSchedule } from './outlet.js';

export interface Gateway {
  /** Takes an HTTP upgrade request from either port. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every connection with the given code; resolves when they are gone or after ms. */
  closeAll(code: ClosingCode, ms: number): Promise<void>;
  stop(): void;
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Refuses an upgrade with the code's HTTP status and no body: a WebSocket client shows the
 * status, not a page. Extra headers end in CRLF.
 */
export function refuseUpgrade(socket: Duplex, code: ErrorCode, headers = ''): void {
  const { status } = ERRORS[code];
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${headers}Connection: close\r\nContent-Length: 0\r\n\r\n`,
  );
}

/** How long a handshake told to wait has to close before it is dropped. */
const BUSY_CLOSE_GRACE_MS = 1000;

/** Most addresses whose handshake rate is remembered at once. */
const HANDSHAKE_TABLE_SIZE = 50_000;

export function createGateway(
  chat: Chat,
  config: Config,
  log: Logger,
  metrics: Metrics,
  schedule: FlushSchedule,
  pagePort: () => number,
  /** A peer refused for its rate, to be dropped at accept for this many seconds. */
  hold: (peer: string | undefined, seconds: number) => void = () => {},
  /** Seconds a new handshake is told to wait while the server catches up; 0 takes it. */
  busy: () => number = () => 0,
): Gateway {
  // Both keyed by addressKey: an IPv6 host counts once for its whole /64.
  const perAddress = new Map<string, number>();
  const handshakes = new KeyedBuckets(
    config.addressHandshakesPerMinute,
    60_000,
    HANDSHAKE_TABLE_SIZE,
  );
  const addressOf = clientAddressResolver(addressOptions(config));
  const hostAllowed = hostCheck(config.allowedHosts, config.allowedOrigins);
  const release = (address: string) => {
    const key = addressKey(address);
    const n = (perAddress.get(key) ?? 1) - 1;
    if (n > 0) perAddress.set(key, n);
    else perAddress.delete(key);
  };
  const heartbeat = new Heartbeat<Connection>(config.heartbeatMs, (c) => {
    log.info('disconnect', { address: c.address, reason: 'heartbeat timeout' });
    c.ws.terminate();
  });
  const shared: Shared = {
    release,
    chat,
    config,
    log,
    metrics,
    heartbeat,
    schedule,
    sendBufferBytes: config.sendBufferBytes,
    onError: (err) => log.error('request-failed', { err }),
  };
  const wss = new WebSocketServer<typeof ConnectionSocket>({
    WebSocket: ConnectionSocket,
    noServer: true,
    maxPayload: config.maxMessageBytes,
    perMessageDeflate: false,
    clientTracking: false,
    // Connection answers pings itself (see answerPing).
    autoPong: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  /**
   * A script reads a refused handshake's status and Retry-After. A browser shows the page
   * neither, only that it failed, so a handshake with an Origin (every browser's) is completed
   * and closed at once with 1013 and `SERVER_BUSY <seconds>`, which the page reads.
   */
  const shed = (req: IncomingMessage, socket: Duplex, head: Buffer, wait: number) => {
    if (req.headers.origin === undefined)
      return refuseUpgrade(socket, 'SERVER_BUSY', `Retry-After: ${wait}\r\n`);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const { code, reason } = closeFrame('SERVER_BUSY');
      ws.close(code, `${reason} ${wait}`);
      // Not held for a peer that does not answer the close.
      setTimeout(() => ws.terminate(), BUSY_CLOSE_GRACE_MS).unref();
    });
  };

  return {
    upgrade(req, socket, head) {
      socket.on('error', destroyOnError);
      const address = addressOf(req);
      const origin = req.headers.origin;
      if (!hostAllowed(req.headers.host)) {
        log.warn('refused', { address, reason: 'host', host: req.headers.host });
        metrics.handshakesRefused.inc({ reason: 'host' });
        return refuseUpgrade(socket, 'HOST_NOT_ALLOWED');
      }
      if (!originAllowed(origin, req.headers.host, pagePort(), config.allowedOrigins)) {
        log.warn('refused', { address, reason: 'origin', origin });
        metrics.handshakesRefused.inc({ reason: 'origin' });
        return refuseUpgrade(socket, 'ORIGIN_NOT_ALLOWED');
      }
      // Before the address's counts: a handshake told to wait has taken nothing.
      const wait = busy();
      if (wait > 0) {
        metrics.handshakesRefused.inc({ reason: 'busy' });
        return shed(req, socket, head, wait);
      }
      const key = addressKey(address);
      const open = perAddress.get(key) ?? 0;
      if (open >= config.connectionsPerAddress) {
        log.warn('refused', { address, reason: 'connections per address' });
        metrics.handshakesRefused.inc({ reason: 'connections-per-address' });
        return refuseUpgrade(socket, 'RATE_LIMITED');
      }
      // Reconnecting in a loop would otherwise churn presence and guest names for free.
      const now = Date.now();
      if (!handshakes.take(key, now)) {
        const wait = Math.max(1, Math.ceil(handshakes.waitMs(key, now) / 1000));
        log.warn('refused', { address, reason: 'handshakes per minute' });
        metrics.handshakesRefused.inc({ reason: 'handshakes-per-address' });
        hold(req.socket.remoteAddress, wait);
        return refuseUpgrade(socket, 'RATE_LIMITED', `Retry-After: ${wait}\r\n`);
      }
      perAddress.set(key, open + 1);
      let accepted = false;
      // With no verifyClient, ws completes or refuses the upgrade before handleUpgrade returns.
      wss.handleUpgrade(req, socket, head, (ws) => {
        accepted = true;
        new Connection(ws, address, shared);
      });
      // Once upgraded, ws's own handler destroys the socket on an error; a second listener
      // would cost every connection a listener array.
      if (accepted) socket.off('error', destroyOnError);
      else release(address);
    },
    async closeAll(code, ms) {
      const all = [...heartbeat];
      await Promise.race([
        Promise.all(
          all.map(
            (c) =>
              new Promise<void>((resolve) => {
                if (c.ws.readyState === c.ws.CLOSED) return resolve();
                c.ws.once('close', () => resolve());
                closeWith(c, code);
              }),
          ),
        ),
        new Promise((r) => setTimeout(r, ms).unref()),
      ]);
      for (const c of heartbeat) c.ws.terminate();
    },
    stop() {
      heartbeat.stop();
      wss.close();
    },
  };
}
