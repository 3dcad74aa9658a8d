// Composition: config → store, bus, chat, HTTP and WebSocket servers; and a graceful stop.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Chat, DEFAULT_LIMITS } from '../core/index.js';
import { openStore } from '../store/open-store.js';
import { openBus } from '../bus/open-bus.js';
import { ConfigError, SETTINGS, resolveConfig, type Config } from './config.js';
import { createGateway, refuseUpgrade } from './gateway.js';
import { createHttpHandler, loadAssets } from './http.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { FlushSchedule } from './outlet.js';
import { createHttpGuard } from './http-guard.js';
import { addressOptions } from './client-address.js';
import { SocketLimit } from './socket-limit.js';
import { createShedding, type Shedding } from './shedding.js';
import { argon2Passwords } from './passwords.js';
import { ownerSetupLink } from './setup-link.js';
import { newUserId } from '../store/user-id.js';
import { redactUrl } from '../shared/url.js';
import { ERRORS, type ClosingCode } from '../protocol/index.js';

/** How a graceful stop tells clients why they are closed. */
export type ServerStop = Extract<ClosingCode, 'SHUTTING_DOWN' | 'RESTARTING'>;

export interface RunningServer {
  httpUrl: string;
  wsUrl: string;
  httpPort: number;
  wsPort: number;
  config: Config;
  /** While the instance has no owner: the one-time link that makes one. */
  setupLink: string | undefined;
  /** Graceful: stop accepting, finish commits, close clients with `code`, close the store. */
  stop(code?: ServerStop): Promise<void>;
}

const GUEST_DIGITS = 10;
const ACCESS_POLL_MS = 1000;
/** How often read markers moved in memory are written: what a kill -9 can take back. */
const MARKER_FLUSH_MS = 1000;
/** How often notices of joins and leaves held while overloaded are looked at, to be sent. */
const NOTICE_FLUSH_MS = 1000;

/** Listens on the port of a setting; a port that cannot be had is a bad setting, named as such. */
function listen(server: Server, key: 'httpPort' | 'wsPort', config: Config): Promise<number> {
  const port = config[key];
  return new Promise((resolve, reject) => {
    const fail = (e: Error & { code?: string }) => {
      const why =
        e.code === 'EADDRINUSE'
          ? 'is in use'
          : e.code === 'EACCES'
            ? 'needs privileges this process lacks'
            : undefined;
      const setting = SETTINGS.find((s) => s.key === key);
      reject(
        why && setting
          ? new ConfigError(
              `port ${port} ${why} (on ${config.host || 'every address'}); ` +
                `pick another with --${setting.flag} or ${setting.env}`,
            )
          : e,
      );
    };
    server.once('error', fail);
    server.listen({ port, host: config.host || undefined }, () => {
      server.off('error', fail);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** A malformed, oversized or too slow request gets a status line, then the socket is closed. */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (socket.writable) {
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
  socket.destroy();
}

/** The shedding's verdict, logged once when it starts refusing and once when it stops. */
function busyNotice(shedding: Shedding, log: Logger): () => number {
  let refused = 0;
  return () => {
    const wait = shedding.retryAfter();
    if (wait > 0 && refused++ === 0) {
      log.warn('shedding', { lagMs: Math.round(shedding.lagMs()), retryAfter: wait });
    } else if (wait === 0 && refused > 0) {
      log.info('shedding-ended', { refused });
      refused = 0;
    }
    return wait;
  };
}

function urlHost(host: string): string {
  if (!host || host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startParley(
  overrides: Partial<Config> = {},
  logger?: Logger,
): Promise<RunningServer> {
  const config = resolveConfig(overrides);
  const log = logger ?? createLogger(config.logLevel);
  const store = await openStore(config.store, {
    sqliteSynchronous: config.sqliteSynchronous,
    timeoutMs: config.storeTimeoutMs,
  });
  const bus = await openBus(config.bus);
  const nodeId = randomBytes(6).toString('hex');
  const metrics = createMetrics();
  const schedule = new FlushSchedule(config.fanoutGatherMs);
  metrics.watchFanout(() => schedule);
  if (store.checkpoints) metrics.watchCheckpoints(store.checkpoints);
  const passwords = argon2Passwords();
  const chat = new Chat({
    log: store,
    dir: store,
    markers: store,
    passwords,
    access: {
      registration: config.registration,
      guests: config.guests,
      sessionIdleMs: config.sessionIdleDays * 24 * 60 * 60 * 1000,
    },
    newUserId,
    bus,
    clock: { now: () => Date.now(), monotonic: () => performance.now() },
    // The group commit's fan-out is written in the same check phase as the commit.
    defer: (fn) => {
      setImmediate(fn);
      setImmediate(schedule.writeSoon);
    },
    overloaded: () => schedule.windowMs > 0,
    hashToken: (t) => createHash('sha256').update(t).digest('hex'),
    newToken: () => randomBytes(24).toString('base64url'),
    randomSuffix: () => randomBytes(3).toString('hex'),
    // 40 bits under a key no client knows: a guest name can only be guessed online, one hello
    // at a time, about 2^39 of them for a given name. Ten digits, where a connection's own random
    // name has six, so the two never meet.
    guestSuffix: (t) =>
      createHmac('sha256', store.instanceSecret).update(t).digest('hex').slice(0, GUEST_DIGITS),
    nodeId,
    limits: {
      ...DEFAULT_LIMITS,
      historyBound: config.historyBound,
      historyMaxBytes: config.historyMaxBytes,
      ratePerSecond: config.ratePerSecond,
      rateBurst: config.rateBurst,
      roomsPerConnection: config.roomsPerConnection,
      maxMessageBytes: config.maxMessageBytes,
      renamesPerMinute: config.renamesPerMinute,
      nodeTimeoutMs: config.clusterHeartbeatMs * 3,
      presenceNoticeLimit: config.presenceNoticeLimit,
      addressRatePerSecond: config.addressRatePerSecond,
      addressRateBurst: config.addressRateBurst,
      addressBytesPerHour: config.addressBytesPerHour,
      addressJoinsPerMinute: config.addressJoinsPerMinute,
      addressNamesPerHour: config.addressNamesPerHour,
      addressRoomsPerHour: config.addressRoomsPerHour,
      addressSearchesPerMinute: config.addressSearchesPerMinute,
      addressHistoryBytesPerMinute: config.addressHistoryBytesPerMinute,
      roomsPerHour: config.roomsPerHour,
      roomIdleMs: config.roomIdleDays * 24 * 60 * 60 * 1000,
      editWindowMs: config.editWindow * 60 * 1000,
    },
    telemetry: metrics.telemetry,
    onError: (err, context) => log.error('internal-error', { context, err }),
  });
  bus.subscribe((event) => chat.onBell(event));
  bus.onResync(() => {
    log.warn('bus-resync', { reason: 'the bus reconnected; catching up from the store' });
    chat.resync().catch((err: unknown) => log.error('internal-error', { context: 'resync', err }));
  });
  // A node alone has no one to announce itself to.
  const clusterHeartbeat = bus.shared
    ? setInterval(() => chat.tick(), config.clusterHeartbeatMs)
    : undefined;
  clusterHeartbeat?.unref();
  // Bans, kicks, roles and ended sessions, from any node or the admin command, apply here
  // within a second: every node follows the store's audit log.
  const pollAccess = () =>
    chat
      .pollAccess()
      .catch((err: unknown) => log.error('internal-error', { context: 'access', err }));
  await pollAccess();
  const accessFeed = setInterval(() => void pollAccess(), ACCESS_POLL_MS);
  accessFeed.unref();
  const markerFlush = setInterval(
    () =>
      void chat
        .flushMarkers()
        .catch((err: unknown) => log.error('internal-error', { context: 'read markers', err })),
    MARKER_FLUSH_MS,
  );
  markerFlush.unref();
  const noticeFlush = setInterval(() => chat.flushDueNotices(), NOTICE_FLUSH_MS);
  noticeFlush.unref();

  let httpPort = config.httpPort;
  const sockets = new SocketLimit(config.socketsPerAddress, addressOptions(config).trusted, () =>
    metrics.socketsRefused.inc(),
  );
  const shedding = createShedding(config.shedLagMs);
  const gateway = createGateway(
    chat,
    config,
    log,
    metrics,
    schedule,
    () => httpPort,
    (peer, s) => sockets.hold(peer, s),
    busyNotice(shedding, log),
  );
  // Header size and handshake time bound what a client can make the server hold before upgrade.
  const httpOptions = {
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout: config.handshakeTimeoutMs,
    requestTimeout: config.handshakeTimeoutMs * 2,
    connectionsCheckingInterval: Math.min(1000, Math.max(50, config.handshakeTimeoutMs / 4)),
  };
  const page = createServer(
    httpOptions,
    createHttpHandler({
      chat,
      assets: loadAssets(),
      metrics: metrics.registry,
      ready: async () => {
        await store.ping();
        await bus.ping();
      },
      guard: createHttpGuard(config, () => performance.now()),
      refused: metrics.httpRefused,
      hold: (peer, seconds) => sockets.hold(peer, seconds),
    }),
  );
  page.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname === '/ws') gateway.upgrade(req, socket, head);
    else refuseUpgrade(socket, 'NOT_FOUND');
  });
  // The tutorial's dedicated port: any path upgrades; plain HTTP is told to upgrade.
  const wsOnly = createServer(httpOptions, (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket' });
    res.end('This port speaks WebSocket only; the page is on the HTTP port.\n');
  });
  wsOnly.on('upgrade', (req, socket, head) => gateway.upgrade(req, socket, head));
  for (const s of [page, wsOnly]) {
    s.on('clientError', answerClientError);
    sockets.watch(s);
  }

  try {
    httpPort = await listen(page, 'httpPort', config);
  } catch (e) {
    await store.close();
    await bus.close();
    throw e;
  }
  let wsPort: number;
  try {
    wsPort = await listen(wsOnly, 'wsPort', config);
  } catch (e) {
    page.close();
    await store.close();
    await bus.close();
    throw e;
  }
  const host = urlHost(config.host);
  log.info('started', {
    page: `http://${host}:${httpPort}`,
    websocket: [`ws://${host}:${wsPort}`, `ws://${host}:${httpPort}/ws`],
    store: store.description,
    bus: redactUrl(config.bus),
    node: nodeId,
  });

  const pageUrl = config.publicUrl ?? `http://${host}:${httpPort}`;
  const setupLink = await ownerSetupLink(store, pageUrl);
  if (setupLink) {
    log.warn('setup', {
      link: setupLink,
      note: 'this server has no owner yet: whoever opens this link first becomes it (valid 24 h)',
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = (code: ServerStop = 'SHUTTING_DOWN'): Promise<void> =>
    (stopping ??= (async () => {
      log.info('stopping', { code: ERRORS[code].close, reason: code });
      page.close();
      wsOnly.close();
      await chat.drain();
      await gateway.closeAll(code, config.shutdownMs);
      gateway.stop();
      shedding.stop();
      clearInterval(clusterHeartbeat);
      clearInterval(accessFeed);
      clearInterval(markerFlush);
      clearInterval(noticeFlush);
      // Markers moved while the clients were being closed.
      await chat.flushMarkers();
      chat.goodbye();
      page.closeAllConnections();
      wsOnly.closeAllConnections();
      await bus.close();
      await store.close();
      await passwords.close();
      log.info('stopped');
    })());

  return {
    httpUrl: `http://${host}:${httpPort}`,
    wsUrl: `ws://${host}:${wsPort}`,
    httpPort,
    wsPort,
    config,
    setupLink,
    stop,
  };
}
