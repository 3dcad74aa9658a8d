// Requests on the wire and what each reply means. Every kind of request has its own context
// (what it was for) and its own reply type, so a reply handler only ever sees the result and
// the context of its own kind. Also says when the connection looks dead: a request left
// unanswered while nothing else was heard.

import type { ClientRequest, RequestResult, RequestType } from '../protocol/index.js';

/** A request unanswered this long, with nothing else heard meanwhile: the connection is dead. */
export const REPLY_TIMEOUT_MS = 5000;
/** Nothing heard this long: ask (browsers cannot send WebSocket pings). */
export const QUIET_MS = 12_000;

export type RequestOf<K extends RequestType> = Extract<ClientRequest, { type: K }>;
/** The result a request of kind K gets (a send is answered by an ack instead). */
export type ResultOf<K extends RequestType> = Extract<RequestResult, { of: K }>;

/** What a page of history is for; a 'quote' page holds the message a reply quotes, apart. */
export type HistoryKind = 'latest' | 'older' | 'gap' | 'user' | 'quote';

interface Common {
  /** The user asked (command or form), so say what happened. */
  user?: boolean;
}

/** What a request of each kind was for, so its reply or error can be handled. */
export interface ContextOf {
  hello: Common & {
    /** Handshake hello: 0 with the stored name, 1 token only, 2 a fresh token. */
    handshake?: number;
    /** A hello from the name prompt: its errors go there. */
    prompt?: boolean;
  };
  join: Common;
  part: Common;
  send: Common;
  history: Common & {
    history: HistoryKind;
    /** History paging to fill a gap down to this seq. */
    gapAfter?: number;
    gapFetched?: number;
  };
  rooms: Common & {
    /** A room list for the sidebar's "Browse rooms". */
    browse?: boolean;
  };
  who: Common;
  typing: Common;
  ping: Common;
  // Accounts, rooms' settings and moderation: their replies are said where they were asked.
  register: Common;
  login: Common;
  logout: Common;
  password: Common;
  sessions: Common;
  revoke: Common;
  room: Common;
  settings: Common;
  moderate: Common;
  audit: Common & {
    /** Older entries, added below those shown. */
    older?: boolean;
  };
  users: Common;
  role: Common;
  invite: Common;
  // A message's edits, removal and reactions.
  edit: Common;
  delete: Common;
  react: Common;
  changes: Common;
  search: Common & {
    /** A next page: its results go below those shown. */
    added?: boolean;
  };
  read: Common;
}

export type Pending<K extends RequestType> = ContextOf[K] & {
  req: RequestOf<K>;
  /** When it went on the wire (epoch ms). */
  sentAt?: number;
  /** Worth sending now or never (typing): never queued behind others. */
  optional?: boolean;
};

/** A request of any kind. */
export type AnyPending = { [K in RequestType]: Pending<K> }[RequestType];

export function isKind<K extends RequestType>(
  p: AnyPending | undefined,
  kind: K,
): p is Extract<AnyPending, { req: { type: K } }> {
  return p?.req.type === kind;
}

/** One handler per kind of result, each given that kind's result and context. */
export type ReplyHandlers = {
  [K in RequestResult['of']]: (result: ResultOf<K>, ctx: Pending<K> | undefined) => void;
};

/** Hands a result to the handler of its kind, with the context of the request it answers. */
export function dispatchResult(
  ev: RequestResult,
  ctx: AnyPending | undefined,
  on: ReplyHandlers,
): void {
  // The map above ties each handler to its kind; TypeScript cannot follow that through an
  // index, so the one cast is here, with the kinds checked at run time.
  const handler = on[ev.of] as (r: RequestResult, c: AnyPending | undefined) => void;
  handler(ev, ctx?.req.type === ev.of ? ctx : undefined);
}

export type Liveness = 'fine' | 'quiet' | 'dead';

export class RequestTracker {
  #nextId = 1;
  /** On the wire and not answered, oldest first. */
  readonly #open = new Map<string, AnyPending>();
  #lastHeard = 0;

  newId(): string {
    return `r${this.#nextId++}`;
  }

  /** The request went on the wire with this id. */
  sent(id: string, p: AnyPending, now: number): void {
    p.sentAt = now;
    this.#open.set(id, p);
  }

  /** The request an answer is for, no longer open. */
  take(id: string | undefined): AnyPending | undefined {
    if (id === undefined) return undefined;
    const p = this.#open.get(id);
    this.#open.delete(id);
    return p;
  }

  pending(): IterableIterator<AnyPending> {
    return this.#open.values();
  }

  clear(): void {
    this.#open.clear();
  }

  /** Any frame came. */
  heard(now: number): void {
    this.#lastHeard = now;
  }

  /**
   * Notices a dead connection the browser did not report (a network path that went away
   * without a reset): dead when the oldest request is unanswered and nothing was heard
   * meanwhile; quiet (worth a ping) when nothing is open and nothing was heard for long.
   */
  liveness(now: number): Liveness {
    const oldest = this.#open.values().next().value;
    if (oldest?.sentAt !== undefined) {
      const late =
        now - oldest.sentAt > REPLY_TIMEOUT_MS && now - this.#lastHeard > REPLY_TIMEOUT_MS;
      return late ? 'dead' : 'fine';
    }
    return now - this.#lastHeard > QUIET_MS ? 'quiet' : 'fine';
  }
}
