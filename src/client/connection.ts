// The connection state machine: connecting → connected → offline (waiting) → connecting ...
// One setState() makes every transition; the chat logic above it only sees open/close/frame.
// A connection is also dropped from above (no network, or no answer): see drop().

import { ERRORS, SUBPROTOCOL } from '../protocol/index.js';

export type ConnState = 'connecting' | 'connected' | 'offline';

export const BACKOFF_BASE_MS = 500;
/**
 * Everyone is back within about this long of a restarted server listening again; a server that
 * cannot take them all yet says when to come back (SERVER_BUSY), so a longer cap would only
 * keep people waiting.
 */
export const BACKOFF_CAP_MS = 5000;
/** A handshake that hangs this long (a black-holed network) counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;
/** The close code browsers report for a connection lost without a close frame. */
const CLOSE_ABNORMAL = 1006;

/** Full jitter: uniform in [0, min(cap, base·2^attempt)). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
}

/** The WebSocket address comes from the page's own host, so the page works from any machine. */
export function socketUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

export interface ConnectionHandlers {
  /** Every transition; `retryAt` (epoch ms) is set when offline. */
  state(state: ConnState, retryAt: number): void;
  open(): void;
  /** Only for a connection that had opened; failed attempts just retry. */
  close(code: number, reason: string): void;
  /** An attempt failed without opening (the server is unreachable). */
  failed?(): void;
  frame(data: string): void;
}

export class Connection {
  state: ConnState = 'offline';
  #ws: WebSocket | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  readonly #url: string;
  readonly #on: ConnectionHandlers;

  constructor(url: string, on: ConnectionHandlers) {
    this.#url = url;
    this.#on = on;
  }

  start(): void {
    this.#connect();
  }

  /** True when the frame was handed to an open socket. */
  send(frame: string): boolean {
    if (this.state !== 'connected' || this.#ws?.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(frame);
    return true;
  }

  /**
   * Gives up on the connection at once, open or opening: the browser said the network is gone,
   * or the connection stopped answering. A dead link may take minutes to report its own close.
   */
  drop(): void {
    const ws = this.#ws;
    if (!ws) return;
    const opened = this.state === 'connected';
    this.#ws = null;
    clearTimeout(this.#timer);
    ws.close();
    if (opened) this.#on.close(CLOSE_ABNORMAL, '');
    else this.#on.failed?.();
    this.#retryLater();
  }

  /** Closes the connection and tries no more (the page is going away). */
  stop(): void {
    const ws = this.#ws;
    this.#ws = null;
    clearTimeout(this.#timer);
    ws?.close();
    this.#setState('offline');
  }

  /** Skips the wait, e.g. when the browser says the network is back. */
  retryNow(): void {
    if (this.state === 'offline') this.#connect();
  }

  #setState(next: ConnState, retryAt = 0): void {
    this.state = next;
    this.#on.state(next, retryAt);
  }

  #connect(): void {
    clearTimeout(this.#timer);
    this.#setState('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#url, SUBPROTOCOL);
    } catch {
      this.#retryLater();
      return;
    }
    this.#ws = ws;
    let opened = false;
    this.#timer = setTimeout(() => ws.close(), CONNECT_TIMEOUT_MS);
    // Connected at the first frame (the welcome), not at the handshake: a server catching up
    // completes a handshake only to close it at once with a time to come back.
    ws.onmessage = (e: { data: unknown }) => {
      if (this.#ws !== ws || typeof e.data !== 'string') return;
      if (!opened) {
        clearTimeout(this.#timer);
        opened = true;
        this.#attempt = 0;
        this.#setState('connected');
        this.#on.open();
      }
      this.#on.frame(e.data);
    };
    ws.onclose = (e) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      clearTimeout(this.#timer);
      if (opened) this.#on.close(e.code, e.reason);
      else this.#on.failed?.();
      this.#retryLater(opened ? 0 : busyWait(e.code, e.reason));
    };
  }

  /** After a wait the server asked for (`seconds`), or else the backoff's. */
  #retryLater(seconds = 0): void {
    const delay = seconds > 0 ? busyDelay(seconds) : backoffDelay(this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    this.#setState('offline', Date.now() + delay);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }
}

/** The seconds a close asks to wait: `SERVER_BUSY <seconds>` with 1013; else 0. */
export function busyWait(code: number, reason: string): number {
  const m = /^SERVER_BUSY (\d{1,3})$/.exec(reason);
  return code === ERRORS.SERVER_BUSY.close && m ? Number(m[1]) : 0;
}

/** The wait asked for, and up to as much again at random: those told together come back apart. */
export function busyDelay(seconds: number, random: () => number = Math.random): number {
  return Math.floor(seconds * 1000 * (1 + random()));
}
