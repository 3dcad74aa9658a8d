// Sends: checked, gathered into one store transaction per event-loop turn, acked only after
// that commit, and fanned out (here and to other nodes) only then.

import {
  ChatError,
  TEXT_MAX_BYTES,
  isValidCid,
  isValidText,
  utf8Length,
  type ChatMessage,
} from '../protocol/index.js';
import type { AddressLimits } from './address-limits.js';
import type { Guard } from './guard.js';
import type { Committed, CoreDeps, Draft } from './ports.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';

interface Pending {
  draft: Draft;
  label: string;
  resolve(m: ChatMessage): void;
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
    /** Called for each message newly committed, in commit order, before its ack. */
    private readonly committed: (message: ChatMessage, actorId: string | null) => void,
  ) {}

  /** Queues a send for the next group commit; resolves with the committed message. */
  async send(
    session: Session,
    label: string,
    cid: string,
    text: string,
    me: boolean,
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
    };
    const message = await new Promise<ChatMessage>((resolve, reject) => {
      this.pending.push({ draft, label: r.label, resolve, reject });
      this.scheduleFlush();
    });
    return { label: r.label, message };
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
      let results: Committed[];
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
        if (!res.duplicate) this.committed(res.message, res.actorId);
        batch[i]?.resolve(res.message);
      });
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) this.scheduleFlush();
    }
  }
}
