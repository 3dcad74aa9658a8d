// A message's life after it is sent: edits, removals and reactions. Each is checked here (the
// request, the room, who may), then committed by the group commit as an entry of the room's
// log, where the store judges it against the message as it stands in that transaction.

import {
  ChatError,
  TEXT_MAX_BYTES,
  isEmoji,
  isValidCid,
  isValidText,
  utf8Length,
  type ChatMessage,
  type LogEntry,
} from '../protocol/index.js';
import type { AddressLimits } from './address-limits.js';
import type { GroupCommit } from './group-commit.js';
import type { Guard } from './guard.js';
import { removesAnyone } from './policy.js';
import type { ChangeDraft, CoreDeps } from './ports.js';
import type { Resolved, Rooms } from './rooms.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

/** Most change entries one `changes` request looks through. */
const CHANGES_SCAN = 1000;
/** How far back `/edit` and `/react` look for the last message. */
const LAST_SCAN = 200;

export interface Changed {
  label: string;
  entry: LogEntry;
}

export class Lifecycle {
  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly addresses: AddressLimits,
    private readonly guard: Guard,
    private readonly commits: GroupCommit,
  ) {}

  async edit(
    session: Session,
    label: string,
    cid: string,
    seq: number,
    text: string,
  ): Promise<Changed> {
    const bytes = utf8Length(text);
    if (bytes > TEXT_MAX_BYTES) throw new ChatError('TEXT_TOO_LONG');
    if (!isValidText(text)) throw new ChatError('TEXT_INVALID');
    const r = await this.enter(session, label, cid);
    // Edited text is stored text: it spends the address's budget as a send does.
    if (!this.addresses.bytes.take(session.address, this.deps.clock.now(), bytes)) {
      throw new ChatError('RATE_LIMITED', 'Too much text from your address; wait a few minutes.');
    }
    const window = this.deps.limits.editWindowMs;
    return this.commit(r, {
      kind: 'edit',
      ...this.base(session, r, cid, seq),
      text,
      editableSince: window > 0 ? this.deps.clock.now() - window : null,
    });
  }

  async remove(session: Session, label: string, cid: string, seq: number): Promise<Changed> {
    const r = await this.enter(session, label, cid);
    const anyone = !r.direct && removesAnyone(session, await this.guard.standing(session, r.id));
    const changed = await this.commit(r, {
      kind: 'delete',
      ...this.base(session, r, cid, seq),
      anyone,
    });
    return changed;
  }

  async react(
    session: Session,
    label: string,
    cid: string,
    seq: number,
    emoji: string,
  ): Promise<Changed> {
    if (!isEmoji(emoji)) throw new ChatError('EMOJI_INVALID');
    const r = await this.enter(session, label, cid);
    return this.commit(r, { kind: 'reaction', ...this.base(session, r, cid, seq), emoji });
  }

  async changes(
    session: Session,
    label: string,
    since: number,
    before?: number,
  ): Promise<{ label: string; messages: ChatMessage[]; upTo: number; more: boolean }> {
    const r = await this.rooms.resolve(session, label);
    if (!r.direct) await this.guard.checkRead(session, r.id);
    else if (!session.sub(r.id) && !(await this.isParticipant(session, r.id))) {
      throw new ChatError('NOT_IN_ROOM');
    }
    const c = await readStore(this.deps, () =>
      this.deps.log.changed(r.id, since, before ?? Number.MAX_SAFE_INTEGER, CHANGES_SCAN),
    );
    return { label: r.label, ...c, messages: c.messages.map((m) => ({ ...m, room: r.label })) };
  }

  /** The seq of the last message in the room not removed (the session's own with `own`). */
  async lastMessage(session: Session, label: string, own: boolean): Promise<number> {
    const r = await this.rooms.resolve(session, label);
    const last = await readStore(this.deps, () => this.deps.log.lastSeq(r.id));
    const rows = await readStore(this.deps, () => this.deps.log.before(r.id, last + 1, LAST_SCAN));
    for (let i = rows.length - 1; i >= 0; i--) {
      const e = rows[i];
      if (e?.kind !== 'message' || e.removed) continue;
      if (!own || e.actorId === session.userId) return e.seq;
    }
    throw new ChatError('NO_SUCH_MESSAGE', own ? 'You have no message here to change.' : undefined);
  }

  private async isParticipant(session: Session, room: string): Promise<boolean> {
    const pair = await readStore(this.deps, () => this.deps.log.directPair(room));
    return pair?.includes(session.userId) ?? false;
  }

  /** The request's room, where the session may change messages. */
  private async enter(session: Session, label: string, cid: string): Promise<Resolved> {
    this.deps.telemetry.messageIn();
    if (!isValidCid(cid)) throw new ChatError('CID_INVALID');
    const r = await this.rooms.resolve(session, label);
    const sub = session.sub(r.id);
    if (!r.direct && !sub) throw new ChatError('NOT_IN_ROOM');
    if (sub) this.guard.checkSend(session, sub);
    return r;
  }

  private base(session: Session, r: Resolved, cid: string, target: number) {
    return { room: r.id, cid, from: session.name, fromId: session.userId, target };
  }

  private async commit(r: Resolved, draft: ChangeDraft): Promise<Changed> {
    const c = await this.commits.change(draft);
    // A moderator's removal of another's message is a moderation act: into the audit log.
    if (
      draft.kind === 'delete' &&
      !c.duplicate &&
      c.entry.kind === 'delete' &&
      c.authorId !== draft.fromId
    ) {
      await readStore(this.deps, () =>
        this.deps.dir.audit({
          at: this.deps.clock.now(),
          actorId: draft.fromId,
          action: 'remove message',
          targetId: c.authorId,
          room: r.id,
          reason: `message ${draft.target}`,
        }),
      );
    }
    return { label: r.label, entry: c.entry };
  }
}
