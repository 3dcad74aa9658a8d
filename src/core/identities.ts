// The names connected to this node, each with its sessions (one person may have several tabs).

import type { Session } from './session.js';

import { GUEST_PREFIX } from './guest.js';

export interface Identity {
  display: string;
  tokenHash: string | undefined;
  /** Usually one; more when the same person has several tabs. */
  sessions: Session[];
}

export class Identities {
  private readonly byKey = new Map<string, Identity>();
  /** Sessions of a reserved name's user, by user id: a direct room is the users'. */
  private readonly byUser = new Map<string, Session[]>();

  constructor(private readonly randomSuffix: () => string) {}

  get(key: string): Identity | undefined {
    return this.byKey.get(key);
  }

  /** A guest name no connected session has. */
  guestName(): string {
    for (;;) {
      const name = GUEST_PREFIX + this.randomSuffix();
      if (!this.byKey.has(name)) return name;
    }
  }

  /** The connected sessions of a user with a reserved name. */
  sessionsOf(userId: string): readonly Session[] {
    return this.byUser.get(userId) ?? [];
  }

  /**
   * Every connected session of a person, guests included: a guest's sessions are those of its
   * name, which follows from its id (`g_` and the suffix of `guest-` and the suffix).
   */
  sessionsOfPerson(userId: string): readonly Session[] {
    if (!userId.startsWith('g_')) return this.sessionsOf(userId);
    const guest = this.byKey.get(GUEST_PREFIX + userId.slice(2));
    return guest ? guest.sessions.filter((s) => s.userId === userId) : [];
  }

  attach(session: Session): void {
    if (session.claimed) {
      const list = this.byUser.get(session.userId);
      this.byUser.set(session.userId, list ? list.concat(session) : [session]);
    }
    const id = this.byKey.get(session.key);
    // Arrays of the exact size: a push onto an empty array makes room for 17, and most names
    // have one session, so each connection would carry 128 bytes of empty slots.
    if (id) id.sessions = id.sessions.concat(session);
    else {
      this.byKey.set(session.key, {
        display: session.name,
        tokenHash: session.tokenHash,
        sessions: [session],
      });
    }
  }

  detach(session: Session): void {
    const list = this.byUser.get(session.userId)?.filter((s) => s !== session);
    if (list && list.length > 0) this.byUser.set(session.userId, list);
    else this.byUser.delete(session.userId);
    const id = this.byKey.get(session.key);
    if (!id) return;
    id.sessions = id.sessions.filter((s) => s !== session);
    if (id.sessions.length === 0) this.byKey.delete(session.key);
  }

  /** Moves the session to its new name; the name's display and token follow the session. */
  move(
    session: Session,
    display: string,
    key: string,
    tokenHash: string | undefined,
    userId: string,
  ): void {
    this.detach(session);
    session.name = display;
    session.key = key;
    session.tokenHash = tokenHash;
    session.userId = userId;
    this.attach(session);
    const identity = this.byKey.get(key);
    if (identity) {
      identity.display = display;
      identity.tokenHash = tokenHash;
    }
  }
}
