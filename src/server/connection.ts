// One WebSocket connection: the core's Peer, frames in (binary, rate limit) and frames out
// (bounded, one write per turn). Listeners are shared module-level functions and the state is
// one object, so an idle connection costs little memory.

import type { WebSocket, RawData } from 'ws';
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
import type { Metrics } from './metrics.js';
import type { Beating, Heartbeat } from './heartbeat.js';
import { Outlet, type FlushSchedule } from './outlet.js';

/** What every connection of one gateway shares. */
export interface Shared {
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

const CONNECTION = Symbol('parley.connection');
type Tagged = WebSocket & { [CONNECTION]?: Connection };

export class Connection extends Outlet implements Peer, Beating {
  readonly codec: 'json' | 'text';
  readonly session: Session;
  /** Cleared by each heartbeat, set by any frame or pong. */
  alive = true;
  beatSlice = 0;

  constructor(
    ws: WebSocket,
    readonly address: string,
    readonly shared: Shared,
  ) {
    super(ws, shared.schedule, shared.config.sendBufferBytes);
    this.codec = ws.protocol === SUBPROTOCOL ? 'json' : 'text';
    (ws as Tagged)[CONNECTION] = this;
    shared.heartbeat.add(this);
    shared.metrics.connections.inc();
    this.session = shared.chat.connect(this);
    shared.log.info('connect', { address, codec: this.codec, name: this.session.name });
    if (this.codec === 'text') startText(shared.chat, this.session, shared.onError);
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('error', onError);
    ws.on('close', onClose);
  }

  send(frame: Frame): void {
    if (this.ws.readyState === this.ws.OPEN) this.push(frame);
  }

  protected overflowed(backlog: number): void {
    const { log, metrics } = this.shared;
    log.warn('slow-consumer', { address: this.address, buffered: backlog });
    metrics.slowConsumers.inc();
    this.close(1013, 'SLOW_CONSUMER');
    // A consumer that stopped reading will not read the close frame either.
    const ws = this.ws;
    setTimeout(() => ws.terminate(), 1000).unref();
  }

  ping(): void {
    this.ws.ping();
  }

  /** Whatever was queued before the close frame goes out before it. */
  close(code: number, reason: string): void {
    this.flush();
    this.ws.close(code, reason);
  }

  receive(data: RawData, isBinary: boolean): void {
    this.alive = true;
    if (isBinary) return this.close(1003, 'BINARY_UNSUPPORTED');
    const { chat, log, onError } = this.shared;
    const session = this.session;
    const verdict = session.bucket.take(Date.now());
    if (verdict === 'close') {
      log.warn('refused', { address: this.address, reason: 'rate limit, policy close' });
      chat.telemetry.refused('POLICY_VIOLATION');
      return this.close(1008, 'POLICY_VIOLATION');
    }
    if (verdict === 'refuse') {
      chat.telemetry.refused('RATE_LIMITED');
      const message = 'Too many messages; slow down.';
      if (this.codec === 'json') session.event({ type: 'error', code: 'RATE_LIMITED', message });
      else session.line(`! ${message}`);
      return;
    }
    const text = data.toString();
    if (this.codec === 'json') serveJson(chat, session, text, onError);
    else serveText(chat, session, text, onError);
  }

  closed(code: number): void {
    const { chat, heartbeat, log, metrics } = this.shared;
    heartbeat.delete(this);
    metrics.connections.dec();
    chat.disconnect(this.session);
    this.shared.release(this.address);
    log.info('disconnect', { address: this.address, code });
  }
}

function onMessage(this: Tagged, data: RawData, isBinary: boolean): void {
  this[CONNECTION]?.receive(data, isBinary);
}

function onPong(this: Tagged, echo: Buffer): void {
  const c = this[CONNECTION];
  if (!c) return;
  c.alive = true;
  c.confirm(echo);
}

function onError(this: Tagged, err: Error & { code?: string }): void {
  // ws has already sent the close frame that goes with it (1007, 1009, ...).
  const c = this[CONNECTION];
  c?.shared.log.info('peer-error', { address: c.address, code: err.code ?? 'unknown' });
}

function onClose(this: Tagged, code: number): void {
  this[CONNECTION]?.closed(code);
}
