// One WebSocket connection: the core's Peer, frames in (binary, rate limit) and frames out
// (bounded, one write per turn). ws's events reach it without a listener per connection, so an
// idle connection costs little memory.

import { WebSocket, type RawData } from 'ws';
import {
  SUBPROTOCOL,
  closeWith,
  errorFrame,
  errorLine,
  requestId,
  type ErrorCode,
} from '../protocol/index.js';
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
import type { Metrics } from './metrics.js';
import type { Beating, Heartbeat } from './heartbeat.js';
import { Outlet, type FlushSchedule, type OutletShared } from './outlet.js';

/**
 * ws closes for these itself, with the registry's close code (a test holds it to that); naming
 * them here logs and counts them as Parley's errors.
 */
const WS_ERRORS: Record<string, ErrorCode> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'MESSAGE_TOO_BIG',
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 'MESSAGE_TOO_BIG',
  WS_ERR_INVALID_UTF8: 'INVALID_UTF8',
};

/** What every connection of one gateway shares. */
export interface Shared extends OutletShared {
  chat: Chat;
  config: Config;
  log: Logger;
  metrics: Metrics;
  heartbeat: Heartbeat<Connection>;
  schedule: FlushSchedule;
  /** Gives back the connection's place in its address's count. */
  release(address: string): void;
  onError(err: unknown): void;
}

/**
 * ws's socket with a slot for its connection (the gateway has ws make these). ws reports
 * everything through emit, and this hands Parley's events straight to the connection: four
 * listeners and a tag on each socket would cost every connection memory.
 */
export class ConnectionSocket extends WebSocket {
  connection: Connection | undefined = undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const c = this.connection;
    switch (event) {
      case 'message':
        c?.receive(args[0] as RawData, args[1] as boolean);
        break;
      case 'ping':
        c?.answerPing(args[0] as Buffer);
        break;
      case 'pong':
        if (c) {
          c.alive = true;
          c.confirm(args[0] as Buffer);
        }
        break;
      case 'error': {
        // ws has already sent the close frame that goes with it (1007, 1009, ...).
        const code = (args[0] as { code?: unknown } | undefined)?.code;
        const error = typeof code === 'string' ? WS_ERRORS[code] : undefined;
        if (c && error) c.shared.chat.telemetry.refused(error);
        c?.shared.log.info('peer-error', {
          address: c.address,
          code: code ?? 'unknown',
          ...(error && { error }),
        });
        // Handled: with no listener, EventEmitter would throw it and end the process.
        if (this.listenerCount('error') === 0) return true;
        break;
      }
      case 'close':
        c?.closed(args[0] as number);
        break;
    }
    return super.emit(event, ...args);
  }
}

/**
 * A connection refused for its address's rate is not read again until the address's bucket
 * holds this share of its burst: woken for every token, it would read a chunk of queued frames
 * each time and refuse nearly all of them.
 */
const RESUME_SHARE = 0.5;
/** The longest a refused connection goes unread: well inside a heartbeat. */
const MAX_PAUSE_MS = 5000;
/** How long a connection closed for its rate has to close before it is reset. */
const POLICY_CLOSE_GRACE_MS = 1000;
/** Pongs queued behind unsent bytes, one after another, before a peer that pings is dropped. */
const MAX_QUEUED_PONGS = 60;

export class Connection extends Outlet<Shared> implements Peer, Beating {
  readonly codec: 'json' | 'text';
  readonly session: Session;
  /** Cleared by each heartbeat, set by any frame or pong. */
  alive = true;
  beatSlice = 0;
  /** Set while the socket is not read because the connection was refused for its rate. */
  private resumeTimer: NodeJS.Timeout | undefined;
  /** Pings answered in a row while the socket still held unsent bytes. */
  private queuedPongs = 0;

  constructor(
    ws: ConnectionSocket,
    readonly address: string,
    shared: Shared,
  ) {
    super(ws, shared);
    this.codec = ws.protocol === SUBPROTOCOL ? 'json' : 'text';
    ws.connection = this;
    shared.heartbeat.add(this);
    shared.metrics.connections.inc();
    this.session = shared.chat.connect(this);
    shared.log.info('connect', { address, codec: this.codec, name: this.session.name });
    if (this.codec === 'text') startText(shared.chat, this.session, shared.onError);
  }

  send(frame: Frame): void {
    if (this.ws.readyState === this.ws.OPEN) this.push(frame);
  }

  protected overflowed(backlog: number): void {
    const { log, metrics } = this.shared;
    log.warn('slow-consumer', { address: this.address, buffered: backlog });
    metrics.slowConsumers.inc();
    closeWith(this, 'SLOW_CONSUMER');
    // A consumer that stopped reading will not read the close frame either. A reset, not a
    // FIN: after a FIN the kernel would keep the socket, and the megabytes queued for it, for
    // as long as the peer's window stays shut; a reset frees them at once.
    const socket = this.socket;
    setTimeout(() => {
      if (!socket.destroyed) socket.resetAndDestroy();
    }, 1000).unref();
  }

  ping(): void {
    this.ws.ping();
  }

  /**
   * Pongs are Parley's to send (ws's own autoPong costs every connection a closure): a peer that
   * pings and does not read is dropped once MAX_QUEUED_PONGS of them queue up, as ws would drop it.
   * ws counts pongs not yet handed to the kernel; the socket's buffer tells the same.
   */
  answerPing(data: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.socket.writableLength === 0) this.queuedPongs = 0;
    else if (++this.queuedPongs >= MAX_QUEUED_PONGS) return this.ws.terminate();
    this.ws.pong(data);
  }

  /** Whatever was queued before the close frame goes out before it. */
  close(code: number, reason: string): void {
    this.flush();
    this.ws.close(code, reason);
  }

  receive(data: RawData, isBinary: boolean): void {
    this.alive = true;
    // Closing: what the client sent after it was told to go is not served or answered.
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (isBinary) return closeWith(this, 'BINARY_UNSUPPORTED');
    const { chat, log, onError } = this.shared;
    const session = this.session;
    const verdict = chat.admit(session, Date.now());
    if (verdict === 'close') {
      log.warn('refused', { address: this.address, reason: 'rate limit, policy close' });
      chat.telemetry.refused('POLICY_VIOLATION');
      closeWith(this, 'POLICY_VIOLATION');
      // A client that went on sending past its refusals has more queued: what it sends while
      // its close frame goes out is dropped unparsed, and it is reset if it has not closed by
      // then. Paused instead, the socket's buffered bytes (up to 80 KB, thousands of frames)
      // would be parsed in one go as it closed.
      this.dropInput();
      const socket = this.socket;
      setTimeout(() => {
        if (!socket.destroyed) socket.resetAndDestroy();
      }, POLICY_CLOSE_GRACE_MS).unref();
      return;
    }
    if (verdict === 'refuse') {
      chat.telemetry.refused('RATE_LIMITED');
      // The id is read only when refused: the client learns which request to send again.
      if (this.codec === 'json')
        session.event(errorFrame('RATE_LIMITED', requestId(data.toString())));
      else session.line(errorLine('RATE_LIMITED'));
      return this.stopReading();
    }
    const text = data.toString();
    if (this.codec === 'json') serveJson(chat, session, text, onError);
    else serveText(chat, session, text, onError);
  }

  /** Reads and drops whatever comes from now on, without handing it to ws to parse. */
  private dropInput(): void {
    const socket = this.socket;
    socket.removeAllListeners('data');
    socket.on('data', () => {});
    socket.resume();
  }

  /**
   * Backpressure instead of a refusal per frame: frames already read are answered, but a
   * connection refused for its address's rate is not read again until the address's bucket
   * has refilled, so what its connections send meanwhile waits in the client's own buffers
   * (TCP's window closes) and costs the server nothing.
   */
  private stopReading(): void {
    if (this.resumeTimer) return;
    const wait = this.shared.chat.addressWaitMs(this.session, Date.now(), RESUME_SHARE);
    if (wait === 0) return;
    this.ws.pause();
    this.resumeTimer = setTimeout(
      () => {
        this.resumeTimer = undefined;
        this.ws.resume();
      },
      Math.min(MAX_PAUSE_MS, wait),
    );
  }

  closed(code: number): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    const { chat, heartbeat, log, metrics } = this.shared;
    heartbeat.delete(this);
    metrics.connections.dec();
    chat.disconnect(this.session);
    this.shared.release(this.address);
    log.info('disconnect', { address: this.address, code });
  }
}
