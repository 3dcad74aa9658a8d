// The chat, as the server and the request handlers see it: one object over the parts that do
// the work (names, rooms, presence, group commit, delivery, the cluster, typing, history). No
// network, database or timers here: the server gives it a store, a bus, a clock and connections.

import {
  TEXT_MAX_BYTES,
  WELCOME_TEXT,
  type ChatMessage,
  type LogEntry,
  type RoomInfo,
  type RoomRead,
} from '../protocol/index.js';
import { Accounts, type LoggedIn } from './accounts.js';
import { addressKey } from './address.js';
import { AddressLimits } from './address-limits.js';
import { Cluster } from './cluster.js';
import { Delivery } from './delivery.js';
import { jsonFrame } from './frames.js';
import type { RoomSettings, ServerRole, SessionRecord } from './directory.js';
import { GroupCommit } from './group-commit.js';
import { ANONYMOUS, Guard, type Reader } from './guard.js';
import { History } from './history.js';
import { Identities } from './identities.js';
import { Lifecycle } from './lifecycle.js';
import { Membership, type Joined } from './membership.js';
import { Moderation } from './moderation.js';
import { Names } from './names.js';
import type { Bell, CoreDeps, Peer } from './ports.js';
import { Presence } from './presence.js';
import { RecentEntries } from './recent-entries.js';
import { ReadMarkers } from './read-markers.js';
import { TokenBucket } from './rate-limit.js';
import { Rooms, type MemberList } from './rooms.js';
import { Search, type SearchPage } from './search.js';
import { Session } from './session.js';
import { Typing } from './typing.js';
import { power } from './policy.js';
import type { ModerationAction, RoomResult } from '../protocol/index.js';

export type { Joined } from './membership.js';

/** A person's key in the tables of limits, beside the addresses'. */
export function personKey(session: Session): string {
  return `user:${session.userId}`;
}

export class Chat {
  private serverCids = 0;
  private nextSessionId = 1;
  private readonly addresses: AddressLimits;
  private readonly identities: Identities;
  private readonly rooms: Rooms;
  private readonly presence: Presence;
  private readonly delivery: Delivery;
  private readonly membership: Membership;
  private readonly names: Names;
  private readonly commits: GroupCommit;
  private readonly typist: Typing;
  private readonly cluster: Cluster;
  private readonly pages: History;
  private readonly guard: Guard;
  private readonly accounts: Accounts;
  private readonly moderation: Moderation;
  private readonly lifecycle: Lifecycle;
  private readonly finder: Search;
  private readonly markers: ReadMarkers;

  constructor(private readonly deps: CoreDeps) {
    this.addresses = new AddressLimits(deps.limits);
    this.identities = new Identities(deps.randomSuffix);
    this.rooms = new Rooms(deps, this.identities);
    this.presence = new Presence(deps, this.rooms, this.identities, this.addresses.presenceNotices);
    this.guard = new Guard(deps, this.rooms, this.identities, this.presence);
    const recent = new RecentEntries(deps);
    this.delivery = new Delivery(deps, this.rooms, this.identities, this.presence, recent);
    this.markers = new ReadMarkers(deps, this.rooms, this.identities, recent);
    this.membership = new Membership(
      deps,
      this.rooms,
      this.presence,
      this.delivery,
      this.addresses,
      this.guard,
      this.markers,
    );
    this.names = new Names(deps, this.identities, this.rooms, this.presence);
    this.accounts = new Accounts(deps, this.identities, this.names, this.addresses, (seq) =>
      this.guard.appliedLocally(seq),
    );
    this.moderation = new Moderation(deps, this.identities, this.guard);
    const { guard } = this;
    this.commits = new GroupCommit(deps, this.rooms, this.addresses, guard, (entry) => {
      deps.bus.publish({ kind: 'entry', node: deps.nodeId, entry });
      this.delivery.deliver(entry);
    });
    this.lifecycle = new Lifecycle(deps, this.rooms, this.addresses, guard, this.commits);
    this.typist = new Typing(deps, this.rooms, this.guard);
    this.cluster = new Cluster(
      deps,
      this.rooms,
      this.presence,
      this.delivery,
      this.typist,
      this.markers,
    );
    this.pages = new History(deps, this.rooms, this.guard, this.addresses);
    this.finder = new Search(deps, this.guard, this.addresses);
  }

  get telemetry() {
    return this.deps.telemetry;
  }

  // ---- connections --------------------------------------------------------------------------

  connect(peer: Peer): Session {
    const { limits } = this.deps;
    const session = new Session(this.nextSessionId++, peer, this.identities.guestName());
    this.identities.attach(session);
    if (session.isText) {
      session.line(WELCOME_TEXT);
    } else {
      session.send(
        jsonFrame({
          type: 'welcome',
          text: WELCOME_TEXT,
          name: session.name,
          limits: {
            maxMessageBytes: limits.maxMessageBytes,
            maxTextBytes: TEXT_MAX_BYTES,
            historyBound: limits.historyBound,
            ratePerSecond: limits.ratePerSecond,
            rateBurst: limits.rateBurst,
            editWindowMs: limits.editWindowMs,
          },
        }),
      );
    }
    return session;
  }

  disconnect(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    this.membership.leaveAll(session);
    this.identities.detach(session);
  }

  /** Resolves once every queued send is committed and every read marker written (a stop). */
  async drain(): Promise<void> {
    await this.commits.drain();
    await this.markers.flush();
  }

  /** Writes the read markers moved since the last time (the server's timer). */
  flushMarkers(): Promise<void> {
    return this.markers.flush();
  }

  /** Sends the notices of joins, leaves and renames held while the server was overloaded. */
  flushNotices(): void {
    this.presence.flushNotices();
  }

  /** What the server's regular flush sends: see Presence.flushDueNotices. */
  flushDueNotices(): void {
    this.presence.flushDueNotices();
  }

  /**
   * Whether to serve a frame: the connection's own bucket first (which closes a connection
   * that goes on), then its address's, which no reconnect refills.
   */
  admit(session: Session, now: number): 'ok' | 'refuse' | 'close' {
    const { ratePerSecond, rateBurst } = this.deps.limits;
    session.bucket ??= new TokenBucket(ratePerSecond, rateBurst, now);
    const verdict = session.bucket.take(now);
    if (verdict !== 'ok') return verdict;
    if (!this.addresses.requests.take(session.address, now)) return 'refuse';
    // A person signed in from several addresses has one allowance too.
    if (session.claimed && !this.addresses.requests.take(personKey(session), now)) {
      this.addresses.requests.give(session.address, now);
      return 'refuse';
    }
    return 'ok';
  }

  /**
   * After a refusal: 0 when the address still has a request to spend (the connection's own
   * bucket refused it, and a connection that goes on earns its policy close); otherwise how
   * long until the address's bucket holds `share` of its burst again.
   */
  addressWaitMs(session: Session, now: number, share: number): number {
    const requests = this.addresses.requests;
    if (requests.waitMs(session.address, now) === 0) return 0;
    const burst = this.deps.limits.addressRateBurst;
    return requests.waitMs(session.address, now, Math.max(1, burst * share));
  }

  /** Runs a request after the session's earlier ones; errors are the caller's to render. */
  serve(session: Session, work: () => Promise<void>): void {
    session.enqueue(work, (e: unknown) => this.deps.onError(e, 'serve'));
  }

  // ---- requests -----------------------------------------------------------------------------

  async hello(
    session: Session,
    rawName: string | undefined,
    rawToken: string | undefined,
  ): Promise<Awaited<ReturnType<Accounts['hello']>> & { read?: RoomRead[] }> {
    return this.withReads(session, await this.accounts.hello(session, rawName, rawToken));
  }

  async register(
    session: Session,
    name: string,
    password: string,
    ticket?: string,
  ): Promise<LoggedIn & { read?: RoomRead[] }> {
    return this.withReads(session, await this.accounts.register(session, name, password, ticket));
  }

  async login(
    session: Session,
    name: string,
    password: string,
  ): Promise<LoggedIn & { read?: RoomRead[] }> {
    return this.withReads(session, await this.accounts.login(session, name, password));
  }

  /** What a person now signed in has unread in their direct conversations, when anything. */
  private async withReads<R extends object>(
    session: Session,
    r: R,
  ): Promise<R & { read?: RoomRead[] }> {
    const read = await this.markers.directReads(session);
    return read.length > 0 ? { ...r, read } : r;
  }

  logout(session: Session, everywhere: boolean): Promise<number> {
    return this.accounts.logout(session, everywhere);
  }

  async password(
    session: Session,
    password: string,
    old?: string,
    ticket?: string,
  ): Promise<(LoggedIn & { read?: RoomRead[] }) | null> {
    const r = await this.accounts.password(session, password, old, ticket);
    return r && this.withReads(session, r);
  }

  sessions(session: Session): Promise<(SessionRecord & { current: boolean })[]> {
    return this.accounts.sessions(session);
  }

  revoke(session: Session, id: string): Promise<void> {
    return this.accounts.revoke(session, id);
  }

  roomInfo(session: Session, label: string): Promise<Omit<RoomResult, 'type' | 'id' | 'of'>> {
    return this.moderation.info(session, label);
  }

  settings(
    session: Session,
    label: string,
    change: Partial<RoomSettings>,
  ): Promise<RoomSettings & { room: string }> {
    return this.moderation.settings(session, label, change);
  }

  moderate(
    session: Session,
    action: ModerationAction,
    name: string,
    room?: string,
    duration?: string,
    reason?: string,
  ): Promise<{ action: string; name: string }> {
    return this.moderation.moderate(session, action, name, room, duration, reason);
  }

  audit(session: Session, before?: number, limit?: number) {
    return this.moderation.audit(session, before, limit);
  }

  users(session: Session, after?: string) {
    return this.moderation.users(session, after);
  }

  setRole(session: Session, name: string, role: ServerRole) {
    return this.moderation.setRole(session, name, role);
  }

  invite(session: Session, uses?: number, days?: number) {
    return this.moderation.invite(session, uses, days);
  }

  /** Applies what changed in the audit log since the last poll (the server's timer). */
  pollAccess(): Promise<void> {
    return this.guard.poll();
  }

  join(
    session: Session,
    label: string,
    since: number | undefined,
    onJoined: (info: Joined) => void,
  ): Promise<void> {
    return this.membership.join(session, label, since, onJoined);
  }

  part(session: Session, label: string): Promise<string> {
    return this.membership.part(session, label);
  }

  async who(session: Session, label: string, after?: string): Promise<MemberList> {
    const r = await this.rooms.resolve(session, label);
    if (!r.direct) await this.guard.checkRead(session, r.id);
    return this.rooms.who(session, label, after);
  }

  /** Who a token (HTTP's bearer) is: its person while the session lasts, else anonymous. */
  async reader(token: string | undefined): Promise<Reader> {
    if (token === undefined) return ANONYMOUS;
    const { dir } = this.deps;
    const rec = await dir.session(this.deps.hashToken(token));
    const user = rec && (await dir.userById(rec.userId));
    if (!user || (user.bannedUntil !== null && user.bannedUntil > this.deps.clock.now())) {
      return ANONYMOUS;
    }
    if (
      user.hasPassword &&
      this.deps.clock.now() - (rec?.lastSeen ?? 0) > this.deps.access.sessionIdleMs
    ) {
      return ANONYMOUS;
    }
    return { claimed: true, role: user.role, userId: user.id };
  }

  /** A page of a room's history over HTTP, as the reader may see it, charged to the address. */
  httpHistory(reader: Reader, address: string, label: string, before?: number, limit?: number) {
    return this.pages.page(undefined, label, before, limit, reader, addressKey(address));
  }

  /** The rooms the reader may see: private ones only to their people and server staff. */
  async roomList(
    session: Reader | undefined,
    after?: string,
    limit?: number,
  ): Promise<{ rooms: RoomInfo[]; next?: string; remaining: number }> {
    const { dir } = this.deps;
    const hidden = new Set(await dir.privateRooms());
    if (session?.claimed && power(session, null) >= 4) hidden.clear();
    else if (session?.claimed)
      for (const r of await dir.privateRoomsOf(session.userId)) hidden.delete(r);
    return this.rooms.list(after, limit, hidden.size > 0 ? (id) => hidden.has(id) : undefined);
  }

  history(
    session: Session | undefined,
    label: string,
    before: number | undefined,
    limit: number | undefined,
  ): Promise<{ label: string; messages: ChatMessage[]; more: boolean }> {
    return this.pages.page(session, label, before, limit);
  }

  /**
   * Messages that hold the query's words, from the rooms the reader may read; over HTTP the
   * reader is the bearer token's, and the address the request's.
   */
  search(
    reader: Reader,
    address: string,
    query: string,
    room?: string,
    before?: string,
    limit?: number,
  ): Promise<SearchPage> {
    return this.finder.search(reader, addressKey(address), query, room, before, limit);
  }

  /** Queues a send for the next group commit; resolves with the committed message. */
  send(
    session: Session,
    label: string,
    cid: string,
    text: string,
    me: boolean,
    replyTo?: number,
  ): Promise<{ label: string; message: ChatMessage }> {
    return this.commits.send(session, label, cid, text, me, replyTo);
  }

  /** Edits one's own message; resolves with the committed entry (acked as a send is). */
  edit(session: Session, label: string, cid: string, seq: number, text: string) {
    return this.lifecycle.edit(session, label, cid, seq, text);
  }

  /** Removes a message: one's own, or as a moderator anyone's. */
  remove(session: Session, label: string, cid: string, seq: number) {
    return this.lifecycle.remove(session, label, cid, seq);
  }

  /** Puts or takes back one's reaction on a message. */
  react(session: Session, label: string, cid: string, seq: number, emoji: string) {
    return this.lifecycle.react(session, label, cid, seq, emoji);
  }

  /** The current state of the messages changed since an entry seq. */
  changes(session: Session, label: string, since: number, before?: number) {
    return this.lifecycle.changes(session, label, since, before);
  }

  /** The seq of the session's own last message in a room, or of anyone's. */
  lastMessage(session: Session, label: string, own: boolean) {
    return this.lifecycle.lastMessage(session, label, own);
  }

  /** Everything up to entry `seq` of the room is read: the person's marker moves forward. */
  read(session: Session, label: string, seq: number): Promise<{ label: string; seq: number }> {
    return this.markers.read(session, label, seq);
  }

  typing(session: Session, label: string): Promise<string> {
    return this.typist.typing(session, label);
  }

  // ---- the cluster --------------------------------------------------------------------------

  /** Events from the bus, published by other nodes (this node's own are ignored). */
  onBell(event: Bell): void {
    this.cluster.onBell(event);
  }

  /** Called on a timer by the server: publish this node's heartbeat, expire silent nodes. */
  tick(): void {
    this.cluster.tick();
  }

  /** After the bus was cut off: read every local room's last sequence from the store. */
  resync(): Promise<void> {
    return this.cluster.resync();
  }

  /** Tells the other nodes that this one is leaving, so its members leave at once. */
  goodbye(): void {
    this.cluster.goodbye();
  }

  /** Sends a committed entry to every local subscriber that is exactly one behind it. */
  deliver(entry: LogEntry): void {
    this.delivery.deliver(entry);
  }

  /**
   * A message id for a client that makes none (text mode does not resend). It names this node
   * process, so two nodes, or one node before and after a restart, never make the same id:
   * the store would take the second for a resend of the first.
   */
  serverCid(session: Session): string {
    return `t-${this.deps.nodeId}-${session.id.toString(36)}-${(this.serverCids++).toString(36)}`;
  }

  /** The label of a session's room id, for text replies. */
  labelOf(session: Session, id: string): string {
    return session.sub(id)?.label ?? id;
  }
}
