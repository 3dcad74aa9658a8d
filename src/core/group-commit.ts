// Sends: checked, gathered into one store transaction per event-loop turn, acked only after
// that commit, and fanned out (here and to other nodes) only then.

import {
  ChatError,
  TEXT_MAX_BYTES,
  isValidCid,
  isValidText,
  utf8Length,
  sentEntry,
  type ChatMessage,
  type LogEntry,
} from '../protocol/index.js';
import type { AddressLimits } from './address-limits.js';
import type { Guard } from './guard.js';
import type { ChangeDraft, ChangeOutcome, Committed, CoreDeps, Draft } from './ports.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

interface Pending {
  draft: Draft;
  resolve(outcome: Committed | ChangeOutcome): void;
  reject(e: unknown): void;
}

export class GroupCommit {
  private pending: Pending[] = [];
  private flushing = false;
  private flushScheduled = false;

  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly addresses: AddressLimits,
    private readonly guard: Guard,
    /** Called for each entry newly committed, in commit order, before its ack. */
    private readonly committed: (entry: LogEntry) => void,
  ) {}

  /** Queues a send for the next group commit; resolves with the committed message. */
  async send(
    session: Session,
    label: string,
    cid: string,
    text: string,
    me: boolean,
    replyTo?: number,
  ): Promise<{ label: string; message: ChatMessage }> {
    this.deps.telemetry.messageIn();
    if (!isValidCid(cid)) throw new ChatError('CID_INVALID');
    const bytes = utf8Length(text);
    if (bytes > TEXT_MAX_BYTES) throw new ChatError('TEXT_TOO_LONG');
    if (!isValidText(text)) throw new ChatError('TEXT_INVALID');
    const r = await this.rooms.resolve(session, label);
    const sub = session.sub(r.id);
    if (!r.direct && !sub) throw new ChatError('NOT_IN_ROOM');
    if (sub) this.guard.checkSend(session, sub);
    // A live direct room learns the names the two go by now, for the labels of its delivery.
    const live = r.keys && this.rooms.get(r.id);
    if (live && r.keys) for (const [user, key] of r.keys) live.keys.set(user, key);
    if (replyTo !== undefined) {
      const target = await readStore(this.deps, () => this.deps.log.message(r.id, replyTo));
      if (!target) throw new ChatError('NO_SUCH_MESSAGE');
    }
    // Stored text is kept for ever: the address has a budget of it, however many connections.
    const now = this.deps.clock.now();
    if (!this.addresses.bytes.take(session.address, now, bytes)) {
      throw new ChatError('RATE_LIMITED', 'Too much text from your address; wait a few minutes.');
    }
    // And the person's, over every address they sign in from.
    const person = session.claimed ? `user:${session.userId}` : undefined;
    if (person !== undefined && !this.addresses.bytes.take(person, now, bytes)) {
      this.addresses.bytes.give(session.address, now, bytes);
      throw new ChatError('RATE_LIMITED', 'Too much text from you lately; wait a few minutes.');
    }
    const draft: Draft = {
      room: r.id,
      cid,
      from: session.name,
      fromId: session.userId,
      text,
      me,
      direct: r.direct,
      ...(replyTo !== undefined && { replyTo }),
    };
    const outcome = await this.queue(draft);
    if (!('message' in outcome)) throw new Error('a message draft came back as a change');
    return { label: r.label, message: outcome.message };
  }

  /** Queues a change (checked by the caller) for the next group commit. */
  async change(
    draft: ChangeDraft,
  ): Promise<{ entry: LogEntry; duplicate: boolean; authorId: string | null }> {
    const outcome = await this.queue(draft);
    if ('refused' in outcome) throw new ChatError(outcome.refused);
    if ('message' in outcome) throw new Error('a change came back as a message');
    return outcome;
  }

  private queue(draft: Draft): Promise<Committed | ChangeOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ draft, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Resolves once every queued send is committed (for a graceful stop). */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushing || this.flushScheduled) {
      await new Promise<void>((r) => this.deps.defer(r));
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    this.deps.defer(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /** One transaction for every send gathered in this turn; fan-out only after it commits. */
  private async flush(): Promise<void> {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending;
    this.pending = [];
    try {
      let results: (Committed | ChangeOutcome)[];
      const started = this.deps.clock.monotonic();
      try {
        results = await this.deps.log.append(
          batch.map((p) => p.draft),
          this.deps.clock.now(),
        );
        this.deps.telemetry.committed(batch.length, this.deps.clock.monotonic() - started);
      } catch (e) {
        this.deps.onError(e, 'commit');
        for (const p of batch) p.reject(new ChatError('STORE_UNAVAILABLE'));
        return;
      }
      results.forEach((res, i) => {
        if ('message' in res) {
          if (!res.duplicate) this.committed(sentEntry(res.message, res.actorId));
        } else if ('entry' in res && !res.duplicate) this.committed(res.entry);
        batch[i]?.resolve(res);
      });
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) this.scheduleFlush();
    }
  }
}
