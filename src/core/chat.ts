// The chat, as the server and the request handlers see it: one object over the parts that do
// the work (names, rooms, presence, group commit, delivery, the cluster, typing, history). No
// network, database or timers here: the server gives it a store, a bus, a clock and connections.

import {
  TEXT_MAX_BYTES,
  WELCOME_TEXT,
  sentEntry,
  type ChatMessage,
  type LogEntry,
  type RoomInfo,
} from '../protocol/index.js';
import { AddressLimits } from './address-limits.js';
import { Cluster } from './cluster.js';
import { Delivery } from './delivery.js';
import { jsonFrame } from './frames.js';
import { GroupCommit } from './group-commit.js';
import { History } from './history.js';
import { Identities } from './identities.js';
import { Membership, type Joined } from './membership.js';
import { Names } from './names.js';
import type { Bell, CoreDeps, Peer } from './ports.js';
import { Presence } from './presence.js';
import { TokenBucket } from './rate-limit.js';
import { Rooms } from './rooms.js';
import { Session } from './session.js';
import { Typing } from './typing.js';

export type { Joined } from './membership.js';

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

  constructor(private readonly deps: CoreDeps) {
    this.addresses = new AddressLimits(deps.limits);
    this.identities = new Identities(deps.randomSuffix);
    this.rooms = new Rooms(deps, this.identities);
    this.presence = new Presence(deps, this.rooms, this.identities);
    this.delivery = new Delivery(deps, this.rooms, this.identities, this.presence);
    this.membership = new Membership(
      deps,
      this.rooms,
      this.presence,
      this.delivery,
      this.addresses,
    );
    this.names = new Names(deps, this.identities, this.rooms, this.presence, this.addresses);
    this.commits = new GroupCommit(deps, this.rooms, this.addresses, (message, actorId) => {
      const entry = sentEntry(message, actorId);
      deps.bus.publish({ kind: 'entry', node: deps.nodeId, entry });
      this.delivery.deliver(entry);
    });
    this.typist = new Typing(deps, this.rooms);
    this.cluster = new Cluster(deps, this.rooms, this.presence, this.delivery, this.typist);
    this.pages = new History(deps, this.rooms);
  }

  get telemetry() {
    return this.deps.telemetry;
  }

  // ---- connections --------------------------------------------------------------------------

  connect(peer: Peer): Session {
    const { limits, clock } = this.deps;
    const session = new Session(
      this.nextSessionId++,
      peer,
      this.identities.guestName(),
      new TokenBucket(limits.ratePerSecond, limits.rateBurst, clock.now()),
    );
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

  /** Resolves once every queued send is committed (for a graceful stop). */
  drain(): Promise<void> {
    return this.commits.drain();
  }

  /**
   * Whether to serve a frame: the connection's own bucket first (which closes a connection
   * that goes on), then its address's, which no reconnect refills.
   */
  admit(session: Session, now: number): 'ok' | 'refuse' | 'close' {
    const verdict = session.bucket.take(now);
    if (verdict !== 'ok') return verdict;
    return this.addresses.requests.take(session.address, now) ? 'ok' : 'refuse';
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
    session.queue = session.queue.then(work).catch((e: unknown) => this.deps.onError(e, 'serve'));
  }

  // ---- requests -----------------------------------------------------------------------------

  hello(
    session: Session,
    rawName: string | undefined,
    rawToken: string | undefined,
  ): Promise<{ name: string; token: string; direct: string[] }> {
    return this.names.hello(session, rawName, rawToken);
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

  who(session: Session, label: string): Promise<{ label: string; members: string[] }> {
    return this.rooms.who(session, label);
  }

  roomList(
    after?: string,
    limit?: number,
  ): Promise<{ rooms: RoomInfo[]; next?: string; remaining: number }> {
    return this.rooms.list(after, limit);
  }

  history(
    session: Session | undefined,
    label: string,
    before: number | undefined,
    limit: number | undefined,
  ): Promise<{ label: string; messages: ChatMessage[]; more: boolean }> {
    return this.pages.page(session, label, before, limit);
  }

  /** Queues a send for the next group commit; resolves with the committed message. */
  send(
    session: Session,
    label: string,
    cid: string,
    text: string,
    me: boolean,
  ): Promise<{ label: string; message: ChatMessage }> {
    return this.commits.send(session, label, cid, text, me);
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
