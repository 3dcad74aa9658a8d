// What goes on the wire when: requests go at once while the pacer has tokens, else wait in
// order; the outbox follows them, oldest first, a few sends in flight at a time. A send refused
// for now holds the rest until those in flight settle and a wait is over, so that what goes
// again is overtaken by no more than those.

import type { OutboxEntry } from './outbox.js';
import { Pacer } from './pacer.js';
import type { AnyPending } from './requests.js';

/** The kinds of request an outbox entry goes as: each has a cid and is acked. */
export const OUTBOX_KINDS: ReadonlySet<string> = new Set(['send', 'edit', 'delete', 'react']);

/** The request an outbox entry goes as. */
export function outboxRequest(e: OutboxEntry): AnyPending {
  const { room, cid, text } = e;
  switch (e.act?.kind) {
    case undefined:
      return {
        req: {
          type: 'send',
          room,
          cid,
          text,
          me: e.me,
          ...(e.replyTo !== undefined && { replyTo: e.replyTo }),
        },
      };
    case 'edit':
      return { req: { type: 'edit', room, cid, seq: e.act.seq, text } };
    case 'delete':
      return { req: { type: 'delete', room, cid, seq: e.act.seq } };
    case 'react':
      return { req: { type: 'react', room, cid, seq: e.act.seq, emoji: text } };
  }
}

/** Sends on the wire at once; the rest follow as acks come, as fast as the pacer lets them. */
const MAX_IN_FLIGHT = 8;
/** Wait before resending a send the server refused for now (rate limit, store down). */
const RETRY_SEND_MS = 3000;

export interface SenderLink {
  /** The socket is open. */
  connected(): boolean;
  /** The hello is answered: sends may go. */
  ready(): boolean;
  /** Puts one request on the wire; false when that failed. */
  transmit(p: AnyPending): boolean;
  /** The sends to make, oldest first. */
  outbox(): OutboxEntry[];
}

export class Sender {
  readonly pacer = new Pacer();
  /** Made while the pacer had no token: they go first, in order, as tokens come. */
  readonly #waiting: AnyPending[] = [];
  /** Cids of sends on the wire and not answered. */
  readonly #inFlight = new Set<string>();
  /** A send was refused for now: no more go until those in flight settle and the wait is over. */
  #held = false;
  #paceTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  readonly #link: SenderLink;

  constructor(link: SenderLink) {
    this.#link = link;
  }

  /** Nothing waits for a token. */
  get idle(): boolean {
    return this.#waiting.length === 0;
  }

  /** Sends now, or as soon as the pacer allows; false when an optional one could not go now. */
  request(p: AnyPending): boolean {
    if (this.#waiting.length === 0 && this.pacer.take(Date.now()) === 0)
      return this.#link.transmit(p);
    if (p.optional) return false;
    this.#waiting.push(p);
    this.flush();
    return true;
  }

  /** Refused before it was read: it goes again first, once the pacer allows. */
  again(p: AnyPending): void {
    this.#waiting.unshift({ ...p, sentAt: undefined });
    this.flush();
  }

  /** A send was refused for now: the rest wait (see the top of this file). */
  hold(cid: string): void {
    this.#inFlight.delete(cid);
    this.#held = true;
    this.flush();
  }

  /** A send is answered (acked, shown, refused or discarded). */
  settled(cid: string): void {
    this.#inFlight.delete(cid);
  }

  /** A new connection: nothing is in flight on it. */
  reset(): void {
    this.#inFlight.clear();
    this.stop();
  }

  /** The connection is gone: nothing waits to go on it. */
  stop(): void {
    this.#waiting.length = 0;
    this.#held = false;
    clearTimeout(this.#paceTimer);
    clearTimeout(this.#retryTimer);
    this.#paceTimer = this.#retryTimer = undefined;
  }

  /**
   * Sends what waits, as fast as the pacer allows: requests made while it had no token first,
   * then the outbox, oldest first. Sends pipelined on one connection are committed in order.
   */
  flush(): void {
    clearTimeout(this.#paceTimer);
    this.#paceTimer = undefined;
    if (!this.#link.connected()) return;
    for (;;) {
      const next = this.#waiting[0] ?? this.#nextSend();
      if (!next) return;
      const wait = this.pacer.take(Date.now());
      if (wait > 0) {
        this.#paceTimer = setTimeout(() => this.flush(), wait);
        return;
      }
      if (next === this.#waiting[0]) this.#waiting.shift();
      if (!this.#link.transmit(next)) return;
      if (OUTBOX_KINDS.has(next.req.type) && 'cid' in next.req) this.#inFlight.add(next.req.cid);
    }
  }

  /** The oldest send not on the wire, unless sends are held or enough are in flight. */
  #nextSend(): AnyPending | undefined {
    if (!this.#link.ready() || this.#inFlight.size >= MAX_IN_FLIGHT) return undefined;
    if (this.#held) {
      // Resume from the oldest unacked once those in flight have settled, after the wait.
      if (this.#inFlight.size === 0) {
        this.#retryTimer ??= setTimeout(() => {
          this.#retryTimer = undefined;
          this.#held = false;
          this.flush();
        }, RETRY_SEND_MS);
      }
      return undefined;
    }
    for (const e of this.#link.outbox()) {
      if (e.error !== undefined || this.#inFlight.has(e.cid)) continue;
      return outboxRequest(e);
    }
    return undefined;
  }
}
