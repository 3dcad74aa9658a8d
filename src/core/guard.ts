// The policy applied: a person's standing in a room read from the store, the checks every
// request makes before it is served, and the audit log followed so that a change made on any
// node (or by the operator's command line) reaches the connections here within a second.

import { ChatError, LOBBY, closeWith, type NoticeEvent } from '../protocol/index.js';
import type { AuditEntry, RoomSettings, ServerRole } from './directory.js';
import type { Identities } from './identities.js';
import {
  LEGACY_SETTINGS,
  NEW_ROOM_SETTINGS,
  refusal,
  type RoomAction,
  type Standing,
} from './policy.js';
import type { CoreDeps } from './ports.js';
import type { Presence } from './presence.js';
import type { Room, Subscription } from './room.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

/** Whoever asks: a session, or a reader over HTTP. */
export interface Reader {
  readonly claimed: boolean;
  readonly role: ServerRole | null;
  readonly userId: string;
}

/** A reader with no session: a guest with no id. */
export const ANONYMOUS: Reader = { claimed: false, role: null, userId: '' };

/** What the person acted on is told, for acts that do not change what they may read. */
const ROOM_NOTICES: Record<string, Pick<NoticeEvent, 'what' | 'role'> | undefined> = {
  invite: { what: 'invited' },
  op: { what: 'role', role: 'moderator' },
  deop: { what: 'role', role: 'member' },
};

/** How many entries of the log one poll applies. */
const FEED_PAGE = 200;

export class Guard {
  /** The last entry of the audit log applied here. */
  private feedSeq: number | undefined;
  /** Entries this node applied when it wrote them: the feed skips them. */
  private readonly appliedHere = new Set<number>();
  private polling = false;

  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly identities: Identities,
    private readonly presence: Presence,
  ) {}

  private read<T>(f: () => Promise<T>): Promise<T> {
    return readStore(this.deps, f);
  }

  /** A room's settings: cached on the live room, read from the store otherwise. */
  async settings(id: string): Promise<RoomSettings | null> {
    const live = this.rooms.get(id);
    if (live && live.settings !== undefined) return live.settings;
    const s = await this.read(() => this.deps.dir.roomSettings(id));
    if (live) live.settings = s;
    return s;
  }

  /** The session's standing in a room, from the store. */
  async standing(session: Reader, id: string): Promise<Standing> {
    const settings = await this.settings(id);
    const { dir } = this.deps;
    const now = this.deps.clock.now();
    const { role, ban, mute } = await this.read(() => dir.standingOf(id, session.userId));
    return {
      settings,
      // A guest's id holds no role, whatever the store says.
      role: session.claimed ? role : null,
      banned: ban !== null && ban > now,
      muted: mute !== null && mute > now,
    };
  }

  /** Throws the policy's refusal of the action, if any. */
  async check(session: Reader, id: string, action: RoomAction): Promise<Standing> {
    const s = await this.standing(session, id);
    const code = refusal(action, session, this.guestsOpen(s));
    if (code) throw new ChatError(code);
    return s;
  }

  /**
   * Before a read (history, who, a room's settings): a room that does not exist and a private
   * room the reader has no part in get the same answer.
   */
  async checkRead(reader: Reader, id: string): Promise<Standing> {
    const s = await this.check(reader, id, 'read');
    if (s.settings === null && id !== LOBBY && !this.rooms.get(id)) {
      const last = await this.read(() => this.deps.log.lastSeq(id));
      if (last === 0) throw new ChatError('NO_SUCH_ROOM');
    }
    return s;
  }

  /** Whether the reader may read the room, as checkRead would allow (a search's rooms). */
  async mayRead(reader: Reader, id: string): Promise<boolean> {
    const s = await this.standing(reader, id);
    return refusal('read', reader, this.guestsOpen(s)) === null;
  }

  /** With `--guests open`, every room is open to guests. */
  private guestsOpen(s: Standing): Standing {
    if (this.deps.access.guests !== 'open') return s;
    return { ...s, settings: { ...(s.settings ?? LEGACY_SETTINGS), guests: true } };
  }

  /**
   * Before a join of a public room: the person may read it, or (a room nothing is known of)
   * make it, and becomes its owner. Returns whether the session is muted there.
   */
  async admit(session: Session, id: string, known: boolean): Promise<boolean> {
    if (this.deps.access.guests === 'off' && !session.claimed) throw new ChatError('GUESTS_OFF');
    const s = await this.standing(session, id);
    if (!known && s.settings === null && id !== LOBBY) {
      if (this.deps.access.guests !== 'open' && !session.claimed) throw guestsMakeNoRooms();
      const settings: RoomSettings = {
        ...NEW_ROOM_SETTINGS,
        guests: this.deps.access.guests === 'open',
      };
      await this.read(() => this.deps.dir.putRoomSettings(id, settings));
      if (session.claimed) {
        await this.read(() => this.deps.dir.setRoomRole(id, session.userId, 'owner'));
      }
      const live = this.rooms.get(id);
      if (live) live.settings = settings;
      return false;
    }
    const code = refusal('read', session, this.guestsOpen(s));
    // To a guest, a private room is as a room not made yet, which guests may not make.
    if (code === 'NO_SUCH_ROOM' && !session.claimed) throw guestsMakeNoRooms();
    if (code) throw new ChatError(code);
    return s.muted;
  }

  /** Before a send or a typing notice: guests where the room takes them, and no mute. */
  checkSend(session: Session, sub: Subscription): void {
    if (sub.room.direct) return;
    if (sub.muted) throw new ChatError('MUTED');
    if (!session.claimed && this.deps.access.guests !== 'open') {
      const settings = sub.room.settings ?? LEGACY_SETTINGS;
      if (!settings.guests) throw new ChatError('ACCOUNT_REQUIRED');
    }
  }

  /** The name keys present in a room, on every node. */
  liveMembers(id: string): string[] {
    return this.rooms.get(id)?.memberKeys() ?? [];
  }

  // ---- the feed -----------------------------------------------------------------------------

  /** An entry this node wrote: applied now, and not again when the feed brings it. */
  async appliedLocally(seq: number): Promise<void> {
    this.appliedHere.add(seq);
    const [entry] = await this.read(() => this.deps.dir.auditAfter(seq - 1, 1));
    if (entry?.seq === seq) await this.apply(entry);
  }

  /** Reads the audit log past what was applied here, and applies it (the server's timer). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      if (this.feedSeq === undefined) {
        // A node starts from now: what came before is in the store it reads anyway.
        this.feedSeq = await this.read(() => this.deps.dir.lastAuditSeq());
        return;
      }
      for (;;) {
        const after: number = this.feedSeq;
        const page: AuditEntry[] = await this.read(() =>
          this.deps.dir.auditAfter(after, FEED_PAGE),
        );
        for (const e of page) {
          this.feedSeq = e.seq;
          if (this.appliedHere.delete(e.seq)) continue;
          await this.apply(e);
        }
        if (page.length < FEED_PAGE) return;
      }
    } finally {
      this.polling = false;
    }
  }

  /** Brings this node's connections in line with the store after one change. */
  private async apply(e: AuditEntry): Promise<void> {
    if (e.room !== null) {
      const room = this.rooms.get(e.room);
      if (!room) return;
      if (e.action === 'settings') {
        room.settings = await this.read(() => this.deps.dir.roomSettings(room.id));
        this.announceSettings(room, e);
        for (const [member, sub] of [...room.subs]) await this.recheck(member as Session, sub, e);
        return;
      }
      if (e.targetId === null) return;
      for (const s of this.identities.sessionsOf(e.targetId)) {
        const sub = s.sub(room.id);
        if (sub) await this.recheck(s, sub, e);
      }
      const told = ROOM_NOTICES[e.action];
      if (told) {
        const by = await this.nameOf(e.actorId);
        for (const s of this.identities.sessionsOf(e.targetId)) {
          this.notify(s, { type: 'notice', room: e.room, by, ...told });
        }
      }
      return;
    }
    if (e.targetId === null) return;
    const user = await this.read(() => this.deps.dir.userById(e.targetId ?? ''));
    for (const s of [...this.identities.sessionsOf(e.targetId)]) {
      const hash = s.tokenHash;
      const alive = hash !== undefined && (await this.read(() => this.deps.dir.session(hash)));
      if (!user || !alive) {
        closeWith(s.peer, 'SESSION_ENDED');
        continue;
      }
      if (user.bannedUntil !== null && user.bannedUntil > this.deps.clock.now()) {
        closeWith(s.peer, 'SERVER_BANNED');
        continue;
      }
      if (s.role !== user.role) {
        s.role = user.role;
        const by = await this.nameOf(e.actorId);
        this.notify(s, { type: 'notice', what: 'role', role: user.role, by });
      }
      for (const sub of [...s.subs]) if (!sub.room.direct) await this.recheck(s, sub, e);
    }
  }

  /** Re-reads one session's standing in a room: out when it may no longer read, muted or not. */
  private async recheck(session: Session, sub: Subscription, e: AuditEntry): Promise<void> {
    if (session.closed || session.sub(sub.room.id) !== sub) return;
    const s = await this.standing(session, sub.room.id);
    const kicked = e.action === 'kick' && e.targetId === session.userId;
    const code = refusal('read', session, this.guestsOpen(s));
    if (kicked || code) {
      if (session.sub(sub.room.id) !== sub) return;
      this.presence.unsubscribe(session, sub);
      const by = await this.nameOf(e.actorId);
      this.notify(session, {
        type: 'notice',
        what: s.banned ? 'banned' : 'kicked',
        room: sub.label,
        by,
        reason: e.reason || undefined,
      });
      return;
    }
    if (Boolean(sub.muted) !== s.muted) {
      sub.muted = s.muted;
      this.notify(session, {
        type: 'notice',
        what: s.muted ? 'muted' : 'unmuted',
        room: sub.label,
        by: await this.nameOf(e.actorId),
        reason: e.reason || undefined,
      });
    }
  }

  private announceSettings(room: Room, e: AuditEntry): void {
    const s = room.settings ?? LEGACY_SETTINGS;
    void this.nameOf(e.actorId).then((by) => {
      for (const [member, sub] of room.subs) {
        const session = member as Session;
        if (session.isText)
          session.line(
            `* ${sub.label === room.id ? `#${room.id}` : sub.label}: topic "${s.topic}", ${s.visibility}${s.guests ? ', open to guests' : ''}`,
          );
        else session.event({ type: 'topic', room: sub.label, ...s, by });
      }
    });
  }

  private async nameOf(userId: string | null): Promise<string | undefined> {
    if (userId === null) return undefined;
    const local = this.identities.sessionsOf(userId)[0];
    if (local) return local.name;
    return (await this.read(() => this.deps.dir.userById(userId)))?.display;
  }

  private notify(session: Session, n: NoticeEvent): void {
    if (!session.isText) {
      session.event(n);
      return;
    }
    session.line(noticeLine(n));
  }
}

/** A notice as a text client reads it. */
export function noticeLine(n: NoticeEvent): string {
  const where = n.room === undefined ? '' : ` ${n.room.startsWith('@') ? n.room : `#${n.room}`}`;
  const by = n.by ? ` by ${n.by}` : '';
  const why = n.reason ? `: ${n.reason}` : '';
  switch (n.what) {
    case 'kicked':
      return `* You were removed from${where}${by}${why}`;
    case 'banned':
      return `* You are banned from${where}${by}${why}`;
    case 'muted':
      return `* You are muted in${where}${by}${why}`;
    case 'unmuted':
      return `* You may talk again in${where}`;
    case 'role':
      return n.room === undefined
        ? `* Your role on this server is now ${n.role ?? 'member'}${by}`
        : `* You are now ${n.role === 'moderator' ? 'a moderator' : 'a member'} of${where}${by}`;
    case 'invited':
      return `* You were invited to${where}${by}: /join${where}`;
  }
}

function guestsMakeNoRooms(): ChatError {
  return new ChatError('ACCOUNT_REQUIRED', 'Guests may not make rooms; sign in or register.');
}
