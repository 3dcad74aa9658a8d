// A message's life in the page: what the person does to messages (reply, react, edit, remove,
// from the message menu, the keyboard or a command) and what the page does with the changes the
// server sends. Acts go through the outbox like messages (each is a log entry with a cid, so it
// goes exactly once, offline included); changes are applied to the state shown (message-state.ts).
// A change can come before the message it acts on is shown (a page of history on its way), so
// the latest changes of each room are kept and applied to messages as they come in.

import {
  ERRORS,
  isEmoji,
  type ChatMessage,
  type ClientRequest,
  type ErrorEvent as ErrorFrame,
} from '../protocol/index.js';
import { allowed, applyChange, type ChangeEvent, type Self } from './message-state.js';
import { textProblem } from './notices.js';
import type { ChangeKind, OutboxEntry } from './outbox.js';
import type { ChatLog } from './ports.js';
import type { AnyPending, Pending, RequestOf, ResultOf } from './requests.js';
import { randomId } from './storage.js';

/** Changes kept per room for messages that come after them. */
const RECENT = 200;
/** Quotes asked for at once (each a page of one message). */
const QUOTES_AT_ONCE = 3;

const NOT_DONE: Record<ChangeKind, string> = {
  edit: 'Your edit was not saved',
  delete: 'The message was not removed',
  react: 'Your reaction was not changed',
};

export interface ActsDeps {
  readonly log: ChatLog;
  /** The room shown. */
  current(): string;
  /** Who I am. */
  self(): Self;
  /** Into the outbox, and on its way when connected. */
  queue(entry: OutboxEntry): void;
  /** Asks the server; false when it could not go. */
  request<R extends ClientRequest>(req: R, ctx?: Omit<Pending<R['type']>, 'req'>): boolean;
  /** An own change came back: its pending entry is done. */
  delivered(cid: string): void;
  /** A line in a room's log (an error's class: 'error'). */
  say(text: string, cls: string, room: string): void;
  announce(text: string): void;
  /** Shows (or clears) the message the next one answers. */
  setReplying(target: ChatMessage | undefined): void;
}

export class MessageActs {
  readonly #d: ActsDeps;
  #replying: { room: string; seq: number } | undefined;
  readonly #recent = new Map<string, ChangeEvent[]>();
  readonly #quoteAsked = new Set<string>();
  #quoteQueue: { room: string; seq: number }[] = [];
  #quotesOut = 0;

  constructor(deps: ActsDeps) {
    this.#d = deps;
  }

  // ---- the person's acts ------------------------------------------------------------------------

  /** The next message sent in `room` answers `seq`. */
  reply(room: string, seq: number): void {
    const m = this.#d.log.message(room, seq);
    if (!m || m.removed) return;
    this.#replying = { room, seq };
    this.#d.setReplying(m);
  }

  /** Drops the reply being written; false when there was none. */
  cancelReply(): boolean {
    if (!this.#replying) return false;
    this.#replying = undefined;
    this.#d.setReplying(undefined);
    return true;
  }

  /** The message a message sent now in `room` answers. */
  replyFor(room: string): number | undefined {
    return this.#replying?.room === room ? this.#replying.seq : undefined;
  }

  /** Another room is shown: a reply belongs to the room it was started in. */
  switched(room: string): void {
    if (this.#replying && this.#replying.room !== room) this.cancelReply();
  }

  /** Saves new text for message `seq`; false when it cannot go as it is (the reason is said). */
  edit(room: string, seq: number, text: string): boolean {
    const problem = textProblem(text);
    if (problem !== undefined) {
      this.#d.say(problem, 'error', room);
      return false;
    }
    if (this.#d.log.message(room, seq)?.text === text) return true;
    this.#act(room, 'edit', seq, text);
    return true;
  }

  remove(room: string, seq: number): void {
    this.#act(room, 'delete', seq, '');
  }

  /** Puts my reaction on, or takes it back; false when `emoji` is not one emoji. */
  react(room: string, seq: number, emoji: string): boolean {
    const e = emoji.trim();
    if (!isEmoji(e)) {
      this.#d.say(ERRORS.EMOJI_INVALID.message, 'error', room);
      return false;
    }
    this.#act(room, 'react', seq, e);
    return true;
  }

  /** Up in an empty message box: the editor on my last message here; false when there is none. */
  editLast(): boolean {
    const room = this.#d.current();
    const m = this.#lastMine(room);
    return m !== undefined && this.#d.log.startEdit(room, m.seq);
  }

  // ---- the commands, as text mode means them ----------------------------------------------------

  /** /edit TEXT: my last message here; false keeps the draft. */
  editCommand(text: string): boolean {
    const room = this.#d.current();
    const m = this.#lastMine(room);
    if (!m) return this.#none(room);
    return this.edit(room, m.seq, text);
  }

  /** /delete [N]: message N, or my last one here. */
  deleteCommand(seq: number | undefined): boolean {
    const room = this.#d.current();
    const target = seq ?? this.#lastMine(room)?.seq;
    if (target === undefined) return this.#none(room);
    this.remove(room, target);
    return true;
  }

  /** /react EMOJI: the last message here. */
  reactCommand(emoji: string): boolean {
    const room = this.#d.current();
    const m = this.#d.log.latest(room, (x) => !x.removed);
    if (!m) {
      this.#d.say(ERRORS.NO_SUCH_MESSAGE.message, 'error', room);
      return false;
    }
    return this.react(room, m.seq, emoji);
  }

  #none(room: string): boolean {
    this.#d.say('You have no message here to change.', 'error', room);
    return false;
  }

  /** My last message here that I may still change (its sender by id, see allowed). */
  #lastMine(room: string): ChatMessage | undefined {
    const self = this.#d.self();
    return this.#d.log.latest(room, (m) => allowed(m, self, false).remove);
  }

  #act(room: string, kind: ChangeKind, seq: number, text: string): void {
    this.#d.queue({
      cid: randomId(),
      room,
      text,
      me: false,
      createdAt: Date.now(),
      act: { kind, seq },
    });
  }

  // ---- what the server sends --------------------------------------------------------------------

  /** An edit, a removal or a reaction, live or replayed: the message shows it. */
  changed(ev: ChangeEvent): void {
    const { log, delivered } = this.#d;
    const list = this.#recent.get(ev.room) ?? [];
    list.push(ev);
    if (list.length > RECENT) list.shift();
    this.#recent.set(ev.room, list);
    delivered(ev.cid);
    const m = log.message(ev.room, ev.target);
    if (m) {
      const next = applyChange(m, ev);
      if (next !== m) log.update(ev.room, next);
    }
    const r = this.#replying;
    if (ev.type === 'delete' && r?.room === ev.room && r.seq === ev.target) this.cancelReply();
  }

  /** A message about to be shown, with the changes that came before it. */
  current(room: string, m: ChatMessage): ChatMessage {
    let x = m;
    for (const e of this.#recent.get(room) ?? []) if (e.target === m.seq) x = applyChange(x, e);
    return x;
  }

  /** Entries after `after` were missed (a gap): the messages held up to it may have changed. */
  missed(room: string, after: number): void {
    const oldest = this.#d.log.oldestSeq(room);
    if (oldest === undefined || oldest > after) return;
    this.#d.request({ type: 'changes', room, since: after, before: after + 1 });
  }

  /** The current state of held messages that changed: shown, and asked again while more. */
  changes(ev: ResultOf<'changes'>, ctx: Pending<'changes'> | undefined): void {
    const { log } = this.#d;
    for (const m of ev.messages) {
      if (log.message(ev.room, m.seq)) log.update(ev.room, this.current(ev.room, m));
    }
    if (ev.more && ctx && ev.upTo > ctx.req.since) {
      this.#d.request({ ...ctx.req, since: ev.upTo });
    }
  }

  /** A reply is shown whose message the log does not hold: it is fetched on its own. */
  wantQuote(room: string, seq: number): void {
    const key = `${room} ${seq}`;
    if (this.#quoteAsked.has(key)) return;
    this.#quoteAsked.add(key);
    this.#quoteQueue.push({ room, seq });
    this.#nextQuotes();
  }

  /** A page of one message for a quote. */
  quoteIn(ev: ResultOf<'history'>): void {
    this.#quotesOut = Math.max(0, this.#quotesOut - 1);
    for (const m of ev.messages) this.#d.log.quoted(ev.room, this.current(ev.room, m));
    this.#nextQuotes();
  }

  #nextQuotes(): void {
    while (this.#quotesOut < QUOTES_AT_ONCE) {
      const q = this.#quoteQueue.shift();
      if (!q) return;
      if (this.#d.log.message(q.room, q.seq)) continue;
      const req = { type: 'history', room: q.room, before: q.seq + 1, limit: 1 } as const;
      if (this.#d.request(req, { history: 'quote' })) this.#quotesOut++;
      // Not connected: asked again when the reply is shown again.
      else this.#quoteAsked.delete(`${q.room} ${q.seq}`);
    }
  }

  /** The connection is gone: the quotes asked for will not come. */
  closed(): void {
    this.#quotesOut = 0;
    for (const q of this.#quoteQueue) this.#quoteAsked.delete(`${q.room} ${q.seq}`);
    this.#quoteQueue = [];
  }

  /** A change the server refused: said, and nothing changes. */
  refusedChange(req: RequestOf<'edit' | 'delete' | 'react'>, ev: ErrorFrame): void {
    const text = `${NOT_DONE[req.type]}: ${ev.message}`;
    this.#d.say(text, 'error', req.room);
    this.#d.announce(text);
  }

  /** An error for a quote or a `changes` request: true when it was one (nothing to say). */
  refused(ctx: AnyPending | undefined): boolean {
    if (ctx?.req.type === 'changes') return true;
    if (ctx?.req.type === 'history' && 'history' in ctx && ctx.history === 'quote') {
      this.#quotesOut = Math.max(0, this.#quotesOut - 1);
      this.#nextQuotes();
      return true;
    }
    return false;
  }
}
