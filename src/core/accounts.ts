// Accounts and sessions: taking a name (which makes an account without a password), registering
// with one, logging in and out, passwords, and the person's list of sessions. A session is a
// token the person holds; the store keeps only its hash.

import { ChatError, earlierName, normalizeName, type Normalized } from '../protocol/index.js';
import { nameSkeleton } from '../protocol/skeleton.js';
import type { AddressLimits } from './address-limits.js';
import type { ServerRole, SessionRecord, UserRecord } from './directory.js';
import { GUEST_PREFIX, GUEST_SKELETON, guestId } from './guest.js';
import type { Identities } from './identities.js';
import { KeyedBuckets } from './keyed-buckets.js';
import type { Names } from './names.js';
import type { CoreDeps } from './ports.js';
import { TokenBucket } from './rate-limit.js';
import type { Session } from './session.js';
import { readStore } from './store-read.js';

const MINUTE = 60_000;
/** Sign-in attempts per address per minute, and per account name per quarter hour. */
const LOGINS_PER_ADDRESS = 10;
const LOGINS_PER_NAME = 10;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 256;

export interface LoggedIn {
  name: string;
  token: string;
  role: ServerRole;
  direct: string[];
  rooms: string[];
}

export class Accounts {
  private readonly byAddress = new KeyedBuckets(LOGINS_PER_ADDRESS, MINUTE, 50_000);
  private readonly byName = new KeyedBuckets(LOGINS_PER_NAME, 15 * MINUTE, 50_000);
  /** Compared against when the name is unknown, so that both answers cost the same. */
  private decoy: Promise<string> | undefined;

  constructor(
    private readonly deps: CoreDeps,
    private readonly identities: Identities,
    private readonly names: Names,
    private readonly addresses: AddressLimits,
    /** Applies an entry of the audit log on this node at once, before the feed brings it. */
    private readonly applied: (seq: number) => Promise<void>,
  ) {}

  private read<T>(f: () => Promise<T>): Promise<T> {
    return readStore(this.deps, f);
  }

  private now(): number {
    return this.deps.clock.now();
  }

  // ---- hello: the tutorial's way in, and the page's on every connect -----------------------

  /**
   * A token of a session logs its person in (with a name, also renames them); a name with a
   * token of no session makes an account without a password (where registration is open); no
   * name and no session is a guest, whose name follows from the token.
   */
  async hello(
    session: Session,
    rawName: string | undefined,
    rawToken: string | undefined,
  ): Promise<{
    name: string;
    token: string;
    direct: string[];
    role?: ServerRole;
    rooms?: string[];
  }> {
    if (rawToken !== undefined && !/^[\x21-\x7e]{16,128}$/.test(rawToken)) {
      throw new ChatError('BAD_REQUEST', 'A token is 16 to 128 printable ASCII characters.');
    }
    const token = rawToken ?? session.token ?? this.deps.newToken();
    const hash = this.deps.hashToken(token);
    const user = await this.sessionUser(hash);
    if (user) {
      session.token = token;
      const r = await this.become(session, user, hash, rawName);
      return { name: r.name, token, direct: r.direct, role: user.role, rooms: r.rooms };
    }
    if (rawName === undefined) {
      if (session.claimed && session.token === token) {
        return { name: session.name, token, direct: [] };
      }
      session.token = token;
      return { name: this.guest(session, token), token, direct: [] };
    }
    this.requireRegistration(undefined);
    const n = await this.newName(session, rawName);
    const id = await this.create(session, n, null, 'member');
    session.token = token;
    await this.read(() => this.deps.dir.addSession(hash, id, this.now(), sessionLabel(session)));
    const created = await this.read(() => this.deps.dir.userById(id));
    if (!created) throw new Error(`user ${id} was made but is not there`);
    const r = await this.become(session, created, hash, undefined);
    return { name: r.name, token, direct: r.direct, role: created.role, rooms: r.rooms };
  }

  /** The session's guest name from its token: the same person after a reconnect. */
  private guest(session: Session, token: string): string {
    if (this.deps.access.guests === 'off') throw new ChatError('GUESTS_OFF');
    const suffix = this.deps.guestSuffix(token);
    const guest = GUEST_PREFIX + suffix;
    if (guest === session.key) return session.name;
    if (this.names.inPublicRoom(session) && !this.takeName(session)) throw namesLimited();
    session.role = null;
    this.names.rename(session, guest, guest, undefined, guestId(suffix));
    return session.name;
  }

  /** The live user of a session token hash, or null: ended, expired, or never made. */
  private async sessionUser(hash: string): Promise<UserRecord | null> {
    const rec = await this.read(() => this.deps.dir.session(hash));
    if (!rec) return null;
    const user = await this.read(() => this.deps.dir.userById(rec.userId));
    if (!user) return null;
    // A session is the only key of an account with no password: it never expires unused.
    if (user.hasPassword && this.now() - rec.lastSeen > this.deps.access.sessionIdleMs) {
      await this.read(() => this.deps.dir.endSession(user.id, rec.id));
      return null;
    }
    if (user.bannedUntil !== null && user.bannedUntil > this.now()) {
      throw new ChatError('SERVER_BANNED');
    }
    await this.read(() => this.deps.dir.touchSession(hash, this.now()));
    return user;
  }

  /**
   * Makes the connection this person's, under the name asked for (one of theirs, or a free
   * one they take now) or the one they go by.
   */
  private async become(
    session: Session,
    user: UserRecord,
    hash: string,
    rawName: string | undefined,
  ): Promise<{ name: string; direct: string[]; rooms: string[] }> {
    let display =
      rawName === undefined
        ? session.userId === user.id
          ? session.name
          : user.display
        : undefined;
    let key = user.key;
    if (rawName !== undefined) {
      const n = await this.ownName(session, user, rawName);
      display = n.display;
      key = n.key;
    }
    session.role = user.role;
    if (session.closed) return { name: display ?? user.display, direct: [], rooms: [] };
    this.names.rename(session, display ?? user.display, key, hash, user.id);
    const direct = await this.names.directOf(session, user.id);
    const rooms = await this.read(() => this.deps.dir.roomsOf(user.id));
    return { name: session.name, direct, rooms };
  }

  /** A name for this user: one that is theirs (now or earlier), or a free one they take. */
  private async ownName(session: Session, user: UserRecord, raw: string): Promise<Normalized> {
    const earlier = earlierName(raw);
    const n = normalizeName(raw);
    if (earlier && earlier.key !== n?.key) {
      const holder = await this.read(() => this.deps.dir.userByName(earlier.key));
      if (holder?.id === user.id) return earlier;
    }
    if (!n) throw new ChatError('NAME_INVALID');
    const look = nameSkeleton(n.key);
    const holder = await this.read(() => this.deps.dir.userByName(n.key));
    const theirs = holder?.id === user.id;
    if (holder && !theirs) throw new ChatError('NAME_RESERVED');
    this.checkRename(session, n, user.id);
    if (!theirs) {
      if (look.startsWith(GUEST_SKELETON)) {
        throw new ChatError('NAME_INVALID', 'Names starting with guest- are given by the server.');
      }
      if (!this.takeName(session)) throw namesLimited();
    }
    const claim = await this.read(() =>
      this.deps.dir.claimUserName(n.key, look, n.display, user.id, this.now()),
    );
    refuseClaim(claim);
    return n;
  }

  /** Checks a new name for an account: valid, not the server's, not in use or too often. */
  private async newName(session: Session, raw: string): Promise<Normalized> {
    const n = normalizeName(raw);
    if (!n) throw new ChatError('NAME_INVALID');
    if (nameSkeleton(n.key).startsWith(GUEST_SKELETON)) {
      throw new ChatError('NAME_INVALID', 'Names starting with guest- are given by the server.');
    }
    this.checkRename(session, n, undefined);
    if (!this.takeName(session)) {
      throw namesLimited();
    }
    return n;
  }

  /** Name changes per minute, and no name another person is connected under. */
  private checkRename(session: Session, n: Normalized, userId: string | undefined): void {
    const { renamesPerMinute } = this.deps.limits;
    const now = this.now();
    session.renames ??= new TokenBucket(renamesPerMinute / 60, renamesPerMinute, now);
    if (n.key !== session.key && session.renames.take(now) !== 'ok') {
      throw new ChatError('RATE_LIMITED', 'Too many name changes; wait a minute.');
    }
    const live = this.identities.get(n.key);
    if (live && live.sessions.some((s) => s !== session && s.userId !== userId)) {
      throw new ChatError('NAME_TAKEN');
    }
  }

  private takeName(session: Session): boolean {
    return this.addresses.names.take(session.address, this.now());
  }

  /** Makes the account; the address's name allowance was taken by newName. */
  private async create(
    session: Session,
    n: Normalized,
    passwordHash: string | null,
    role: ServerRole,
  ): Promise<string> {
    const id = this.deps.newUserId();
    const claim = await this.read(() =>
      this.deps.dir.createUser({
        id,
        key: n.key,
        skeleton: nameSkeleton(n.key),
        display: n.display,
        passwordHash,
        role,
        now: this.now(),
      }),
    );
    if (claim !== 'claimed') {
      this.addresses.names.give(session.address, this.now());
      refuseClaim(claim);
    }
    return id;
  }

  private requireRegistration(ticketKind: 'setup' | 'invite' | undefined): void {
    if (ticketKind === 'setup') return;
    const { registration } = this.deps.access;
    if (registration === 'closed') throw new ChatError('REGISTRATION_CLOSED');
    if (registration === 'invite' && ticketKind !== 'invite') {
      throw new ChatError('INVITE_REQUIRED');
    }
  }

  // ---- accounts with passwords --------------------------------------------------------------

  async register(
    session: Session,
    rawName: string,
    password: string,
    ticket: string | undefined,
  ): Promise<LoggedIn> {
    checkPassword(password);
    let kind: 'setup' | 'invite' | undefined;
    let ticketHash: string | undefined;
    if (ticket !== undefined) {
      ticketHash = this.deps.hashToken(ticket);
      kind = await this.useEitherTicket(ticketHash);
    }
    try {
      this.requireRegistration(kind);
      const n = await this.newName(session, rawName);
      const hash = await this.deps.passwords.hash(password);
      // The first owner comes from the setup link, and only while there is none.
      const role: ServerRole =
        kind === 'setup' && !(await this.read(() => this.deps.dir.hasOwner())) ? 'owner' : 'member';
      const id = await this.create(session, n, hash, role);
      if (role === 'owner') await this.auditSelf(id, 'owner', 'the setup link');
      return await this.startSession(session, id);
    } catch (e) {
      if (ticketHash !== undefined && kind !== undefined) {
        const back = ticketHash;
        await this.read(() => this.deps.dir.returnTicket(back));
      }
      throw e;
    }
  }

  private async useEitherTicket(hash: string): Promise<'setup' | 'invite'> {
    const now = this.now();
    if (await this.read(() => this.deps.dir.useTicket(hash, 'setup', now))) return 'setup';
    if (await this.read(() => this.deps.dir.useTicket(hash, 'invite', now))) return 'invite';
    throw new ChatError('TICKET_INVALID');
  }

  async login(session: Session, rawName: string, password: string): Promise<LoggedIn> {
    const now = this.now();
    const n = normalizeName(rawName);
    const key = n?.key ?? rawName.toLowerCase();
    if (!this.byAddress.take(session.address, now) || !this.byName.take(key, now)) {
      throw new ChatError('LOGIN_THROTTLED');
    }
    const user = n ? await this.read(() => this.deps.dir.userByName(n.key)) : null;
    const stored = user ? await this.read(() => this.deps.dir.passwordHash(user.id)) : null;
    // An unknown name, or one with no password, costs a verify too: the answer and its time
    // say nothing of which names exist.
    const ok = await this.deps.passwords.verify(stored ?? (await this.decoyHash()), password);
    if (!user || stored === null || !ok) throw new ChatError('LOGIN_FAILED');
    if (this.deps.passwords.needsRehash(stored)) {
      const fresh = await this.deps.passwords.hash(password);
      await this.read(() => this.deps.dir.setPasswordHash(user.id, fresh));
    }
    return this.startSession(session, user.id);
  }

  private decoyHash(): Promise<string> {
    this.decoy ??= this.deps.passwords.hash(this.deps.newToken());
    return this.decoy;
  }

  /** A new session for the user, made the connection's. */
  private async startSession(session: Session, userId: string): Promise<LoggedIn> {
    const user = await this.read(() => this.deps.dir.userById(userId));
    if (!user) throw new Error(`user ${userId} is not there`);
    if (user.bannedUntil !== null && user.bannedUntil > this.now()) {
      throw new ChatError('SERVER_BANNED');
    }
    const token = this.deps.newToken();
    const hash = this.deps.hashToken(token);
    await this.read(() =>
      this.deps.dir.addSession(hash, userId, this.now(), sessionLabel(session)),
    );
    session.token = token;
    const r = await this.become(session, user, hash, undefined);
    return { name: r.name, token, role: user.role, direct: r.direct, rooms: r.rooms };
  }

  /** Ends this session (or all of them): the connection goes on as a new guest. */
  async logout(session: Session, everywhere: boolean): Promise<number> {
    const hash = session.tokenHash;
    if (hash === undefined || !session.claimed) throw new ChatError('ACCOUNT_REQUIRED');
    const userId = session.userId;
    const ended = everywhere
      ? await this.read(() => this.deps.dir.endSessions(userId))
      : Number(await this.read(() => this.deps.dir.endSession(userId, hash.slice(0, 12))));
    // A guest first, so that applying the change closes the person's other connections only.
    session.token = undefined;
    this.guest(session, this.deps.newToken());
    if (everywhere) await this.auditSelf(userId, 'sessions ended', 'log out everywhere');
    else await this.auditSelf(userId, 'session ended', 'log out');
    return ended;
  }

  /**
   * Sets a password: with the current one (if any) when logged in; with a reset link's ticket
   * when not, which also logs in. Every other session of the person ends.
   */
  async password(
    session: Session,
    password: string,
    old: string | undefined,
    ticket: string | undefined,
  ): Promise<LoggedIn | null> {
    checkPassword(password);
    if (ticket !== undefined) {
      const t = await this.read(() =>
        this.deps.dir.useTicket(this.deps.hashToken(ticket), 'reset', this.now()),
      );
      if (!t?.userId) throw new ChatError('TICKET_INVALID');
      const userId = t.userId;
      const hash = await this.deps.passwords.hash(password);
      await this.read(() => this.deps.dir.setPasswordHash(userId, hash));
      await this.read(() => this.deps.dir.endSessions(userId));
      await this.auditSelf(userId, 'password reset', 'a reset link');
      return this.startSession(session, userId);
    }
    if (!session.claimed || session.tokenHash === undefined) {
      throw new ChatError('ACCOUNT_REQUIRED');
    }
    const userId = session.userId;
    const stored = await this.read(() => this.deps.dir.passwordHash(userId));
    if (stored !== null) {
      if (old === undefined) {
        throw new ChatError('LOGIN_FAILED', 'Give your current password too: /password OLD NEW.');
      }
      if (!(await this.deps.passwords.verify(stored, old))) {
        throw new ChatError('LOGIN_FAILED', 'The current password is not right.');
      }
    }
    const hash = await this.deps.passwords.hash(password);
    await this.read(() => this.deps.dir.setPasswordHash(userId, hash));
    const keep = session.tokenHash;
    await this.read(() => this.deps.dir.endSessions(userId, keep));
    await this.auditSelf(userId, 'password set', '');
    return null;
  }

  async sessions(session: Session): Promise<(SessionRecord & { current: boolean })[]> {
    if (!session.claimed || session.tokenHash === undefined) {
      throw new ChatError('ACCOUNT_REQUIRED');
    }
    const mine = session.tokenHash.slice(0, 12);
    const list = await this.read(() => this.deps.dir.sessions(session.userId));
    return list.map((s) => ({ ...s, current: s.id === mine }));
  }

  async revoke(session: Session, id: string): Promise<void> {
    if (!session.claimed) throw new ChatError('ACCOUNT_REQUIRED');
    const userId = session.userId;
    if (!(await this.read(() => this.deps.dir.endSession(userId, id)))) {
      throw new ChatError('NOT_FOUND', 'No session of yours has that id.');
    }
    await this.auditSelf(userId, 'session ended', `session ${id}`);
  }

  /** A change to a person's own sessions: in the log, so every node closes what ended. */
  private auditSelf(userId: string, action: string, reason: string): Promise<unknown> {
    return this.read(() =>
      this.deps.dir.audit({
        at: this.now(),
        actorId: userId,
        action,
        targetId: userId,
        room: null,
        reason,
      }),
    ).then(this.applied);
  }
}

function checkPassword(p: string): void {
  const n = [...p].length;
  if (n < PASSWORD_MIN || n > PASSWORD_MAX || p.trim() !== p) {
    throw new ChatError('PASSWORD_WEAK');
  }
}

function refuseClaim(claim: string): void {
  if (claim === 'reserved') throw new ChatError('NAME_RESERVED');
  if (claim === 'confusable') {
    throw new ChatError('NAME_RESERVED', 'That name looks like one already taken; pick another.');
  }
}

function namesLimited(): ChatError {
  return new ChatError('RATE_LIMITED', 'Too many new names from your address; wait a while.');
}

function sessionLabel(session: Session): string {
  return session.isText ? 'text client' : 'web page';
}
