// The requests of one connection after another: the session state (session.ts), the ids and
// replies of requests in flight (requests.ts), the pacing of what goes on the wire (sender.ts),
// and the watch that pings a quiet connection and gives up on a dead one.

import type { ClientRequest } from '../protocol/index.js';
import type { OutboxEntry } from './outbox.js';
import { RequestTracker, type AnyPending, type Pending } from './requests.js';
import { Sender } from './sender.js';
import { SessionState } from './session.js';

const WATCH_EVERY_MS = 1000;

export interface LinkSocket {
  /** Hands a frame to the socket; false when not connected. */
  transmit(frame: string): boolean;
  /** Gives up on the connection (it stopped answering). */
  drop(): void;
  /** The sends to make, oldest first. */
  outbox(): OutboxEntry[];
}

export class Link {
  readonly session = new SessionState();
  readonly tracker = new RequestTracker();
  readonly sender: Sender;
  readonly #socket: LinkSocket;
  #watchTimer: ReturnType<typeof setInterval> | undefined;

  constructor(socket: LinkSocket) {
    this.#socket = socket;
    this.sender = new Sender({
      connected: () => this.session.connected,
      ready: () => this.session.ready,
      transmit: (p) => this.#transmit(p),
      outbox: socket.outbox,
    });
  }

  /** The hello is answered on this connection. */
  get ready(): boolean {
    return this.session.ready;
  }

  opened(): void {
    this.session.opened();
    this.tracker.clear();
    this.#stop();
    this.tracker.heard(Date.now());
    this.#watchTimer = setInterval(() => this.#watch(), WATCH_EVERY_MS);
  }

  /** The connection is gone; returns the requests it left unanswered. */
  closed(): AnyPending[] {
    this.session.closed();
    this.#stop();
    const unanswered = [...this.tracker.pending()];
    this.tracker.clear();
    return unanswered;
  }

  /** Sends now, or as soon as the pacer allows; false when not connected (or dropped). */
  request<R extends ClientRequest>(req: R, ctx?: Omit<Pending<R['type']>, 'req'>): boolean {
    if (!this.session.connected) return false;
    // Spreading a context over a generic request loses its kind; the signature above kept it.
    const p = { ...ctx, req } as AnyPending;
    return this.sender.request(p);
  }

  #transmit(p: AnyPending): boolean {
    const id = this.tracker.newId();
    if (!this.#socket.transmit(JSON.stringify({ ...p.req, id }))) return false;
    this.tracker.sent(id, p, Date.now());
    return true;
  }

  /** Nothing waits to go on a connection that is gone. */
  #stop(): void {
    this.sender.reset();
    clearInterval(this.#watchTimer);
    this.#watchTimer = undefined;
  }

  #watch(): void {
    const state = this.tracker.liveness(Date.now());
    if (state === 'dead') this.#socket.drop();
    else if (state === 'quiet' && this.sender.idle) this.request({ type: 'ping' });
  }
}
