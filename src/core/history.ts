// History pages: the messages before a sequence number, newest first until a byte budget. A
// page counts what a reader sees, messages, not log entries.

import {
  ChatError,
  isDirect,
  normalizeRoom,
  entryMessage,
  utf8Length,
  type ChatMessage,
  type LogEntry,
} from '../protocol/index.js';
import { ANONYMOUS, type Guard, type Reader } from './guard.js';
import type { CoreDeps } from './ports.js';
import type { AddressLimits } from './address-limits.js';
import type { Resolved, Rooms } from './rooms.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';
import { Turns } from './turns.js';

const HISTORY_DEFAULT = 50;
const HISTORY_MAX = 200;
/** Entries read in one go: about a millisecond of the event loop. */
const CHUNK = 50;

export class History {
  private readonly turns = new Turns();

  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly guard: Guard,
    private readonly addresses: AddressLimits,
  ) {}

  /**
   * Without a session (HTTP), only public rooms can be read. Each page is charged to the
   * address by its bytes once read, so one address cannot keep the event loop reading for it.
   */
  async page(
    session: Session | undefined,
    label: string,
    before: number | undefined,
    limit: number | undefined,
    reader: Reader = session ?? ANONYMOUS,
    address: string | undefined = session?.address,
  ): Promise<{ label: string; messages: ChatMessage[]; more: boolean }> {
    const budget = this.addresses.historyBytes;
    if (address !== undefined) {
      const waitMs = budget.waitMs(address, this.deps.clock.now());
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        throw new ChatError(
          'RATE_LIMITED',
          `Too much history at once; wait ${seconds} s.`,
          seconds,
        );
      }
    }
    let r: Resolved;
    if (session) r = await this.rooms.resolve(session, label);
    else {
      const room = isDirect(label) ? null : normalizeRoom(label);
      if (!room) throw new ChatError('ROOM_INVALID');
      r = { id: room.key, label: room.key };
    }
    // Who may read it, as for a join; a page over HTTP without a session reads as a guest.
    if (!r.direct) await this.guard.checkRead(reader, r.id);
    const n = Math.min(Math.max(limit ?? HISTORY_DEFAULT, 1), HISTORY_MAX);
    let upTo = before ?? (await readStore(this.deps, () => this.deps.log.lastSeq(r.id))) + 1;
    // Newest first until the byte budget is spent: a page of large messages is shorter, not larger.
    const messages: ChatMessage[] = [];
    let bytes = 0;
    reading: for (let chunk = 0; ; chunk++) {
      if (chunk > 0) await this.turns.next();
      const want = Math.min(n, CHUNK);
      const rows = await readStore(this.deps, () => this.deps.log.before(r.id, upTo, want));
      for (let i = rows.length - 1; i >= 0; i--) {
        const shown = entryMessage(rows[i] as LogEntry);
        if (!shown) continue;
        const m = { ...shown, room: r.label };
        const size = utf8Length(JSON.stringify(m));
        if (messages.length > 0 && bytes + size > this.deps.limits.historyMaxBytes) break reading;
        bytes += size;
        messages.push(m);
        if (messages.length === n) break reading;
      }
      // Entries that are not messages do not count: read on until the page is full.
      const oldest = rows[0];
      if (!oldest || rows.length < want) break;
      upTo = oldest.seq;
    }
    messages.reverse();
    // Reactions are kept apart from the log: one read for the whole page.
    const reactions = await readStore(this.deps, () =>
      this.deps.log.reactions(
        r.id,
        messages.filter((m) => !m.removed).map((m) => m.seq),
      ),
    );
    for (const m of messages) {
      const list = reactions.get(m.seq);
      if (list) m.reactions = list;
    }
    if (address !== undefined) budget.charge(address, this.deps.clock.now(), bytes);
    const first = messages[0];
    return { label: r.label, messages, more: first ? first.seq > 1 : false };
  }
}
