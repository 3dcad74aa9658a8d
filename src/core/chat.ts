// The chat: names, rooms, presence, typing, and the delivery contract (sequence numbers from the
// log, acks after commit, replay on resume, gap detection). No network, database or timers here.

import {
  ChatError,
  closeWith,
  LOBBY,
  TEXT_MAX_BYTES,
  WELCOME_TEXT,
  isDirect,
  isValidCid,
  isTextTooLong,
  isValidText,
  earlierName,
  normalizeName,
  normalizeRoom,
  textLabel,
  utf8Length,
  type Normalized,
  type ChatMessage,
  type RoomInfo,
  type ServerEvent,
} from '../protocol/index.js';
import { nameSkeleton } from '../protocol/skeleton.js';
import { AddressLimits, INSTANCE } from './address-limits.js';
import { MessageFrames, jsonFrame, frame } from './frames.js';
import type { Bell, CoreDeps, Draft, Log, NodeRoom, Peer } from './ports.js';
import { TokenBucket } from './rate-limit.js';
import { Room, directId, labelFor } from './room.js';
import { RoomIndex } from './room-index.js';
import { Session, type Subscription } from './session.js';

const HISTORY_DEFAULT = 50;
const HISTORY_MAX = 200;
const TYPING_MIN_INTERVAL_MS = 1000;
const GUEST_PREFIX = 'guest-';
const GUEST_SKELETON = nameSkeleton(GUEST_PREFIX);
const ROOM_PAGE_DEFAULT = 100;
const ROOM_PAGE_MAX = 500;
/** How often the room list drops rooms idle past the limit: the limit is counted in days. */
const ROOM_EXPIRY_EVERY_MS = 60 * 60 * 1000;

interface Pending {
  draft: Draft;
  label: string;
  resolve(m: ChatMessage): void;
  reject(e: unknown): void;
}

interface Identity {
  display: string;
  tokenHash: string | undefined;
  /** Usually one; more when the same person has several tabs. */
  sessions: Session[];
}

/** What a join tells its caller; the member list is the caller's to read, if it wants it. */
export interface Joined {
  id: string;
  label: string;
  lastSeq: number;
  room: Room;
}

interface Resolved {
  id: string;
  label: string;
  direct?: [string, string];
}

export class Chat {
  private readonly rooms = new Map<string, Room>();
  private readonly identities = new Map<string, Identity>();
  private serverCids = 0;
  private pending: Pending[] = [];
  private flushing = false;
  private flushScheduled = false;
  private nextSessionId = 1;
  /** Other nodes, with when each was last heard from. */
  private readonly nodes = new Map<string, number>();

  private readonly addresses: AddressLimits;
  /** The listed rooms: the lobby, rooms with messages not idle too long, rooms with members. */
  private readonly index = new RoomIndex();
  private indexLoaded: Promise<void> | undefined;
  private lastExpiry: number;

  constructor(private readonly deps: CoreDeps) {
    this.addresses = new AddressLimits(deps.limits);
    // The first listing expires what idled while the server was down.
    this.lastExpiry = Number.NEGATIVE_INFINITY;
    this.index.touch(LOBBY, deps.clock.now(), false);
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
      this.guestName(),
      new TokenBucket(limits.ratePerSecond, limits.rateBurst, clock.now()),
    );
    this.attachIdentity(session);
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
    for (const sub of session.subs) this.unsubscribe(session, sub);
    this.detachIdentity(session);
  }

  /** Resolves once every queued send is committed (for a graceful stop). */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushing || this.flushScheduled) {
      await new Promise<void>((r) => this.deps.defer(r));
    }
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

  /** Runs a request after the session's earlier ones; errors are the caller's to render. */
  serve(session: Session, work: () => Promise<void>): void {
    session.queue = session.queue.then(work).catch((e: unknown) => this.deps.onError(e, 'serve'));
  }

  // ---- names --------------------------------------------------------------------------------

  private guestName(): string {
    for (;;) {
      const name = GUEST_PREFIX + this.deps.randomSuffix();
      if (!this.identities.has(name)) return name;
    }
  }

  private attachIdentity(session: Session): void {
    const id = this.identities.get(session.key);
    // Arrays of the exact size: a push onto an empty array makes room for 17, and most names
    // have one session, so each connection would carry 128 bytes of empty slots.
    if (id) id.sessions = id.sessions.concat(session);
    else {
      this.identities.set(session.key, {
        display: session.name,
        tokenHash: session.tokenHash,
        sessions: [session],
      });
    }
  }

  private detachIdentity(session: Session): void {
    const id = this.identities.get(session.key);
    if (!id) return;
    id.sessions = id.sessions.filter((s) => s !== session);
    if (id.sessions.length === 0) this.identities.delete(session.key);
  }

  /**
   * Takes a name for the session. A name once taken is reserved to the hash of its token; the
   * same token takes it again from any connection, so one person may have several tabs.
   */
  async hello(
    session: Session,
    rawName: string | undefined,
    rawToken: string | undefined,
  ): Promise<{ name: string; token: string; direct: string[] }> {
    if (rawToken !== undefined && !/^[\x21-\x7e]{16,128}$/.test(rawToken)) {
      throw new ChatError('BAD_REQUEST', 'A token is 16 to 128 printable ASCII characters.');
    }
    const token = rawToken ?? session.token ?? this.deps.newToken();
    session.token = token;
    if (rawName === undefined && !session.claimed) {
      // A guest keeps one guest name per token, so a reconnect does not make a new person.
      const guest = GUEST_PREFIX + this.deps.guestSuffix(token);
      if (guest === session.key) return { name: session.name, token, direct: [] };
      // A new token in a room is a rename everyone there is told of.
      if (this.inPublicRoom(session) && !this.takeName(session)) throw namesLimited();
      this.rename(session, guest, guest, undefined);
      return { name: session.name, token, direct: [] };
    }
    const hash = this.deps.hashToken(token);
    const raw = rawName ?? session.name;
    const taken = await this.takenEarlier(raw, hash);
    const n = taken ?? normalizeName(raw);
    if (!n) throw new ChatError('NAME_INVALID');
    // On the skeleton: `ｇuest-` or `ɡuest-` would pass for a name the server gave.
    const look = nameSkeleton(n.key);
    if (!taken && look.startsWith(GUEST_SKELETON)) {
      throw new ChatError('NAME_INVALID', 'Names starting with guest- are given by the server.');
    }
    const { renamesPerMinute } = this.deps.limits;
    const now = this.deps.clock.now();
    session.renames ??= new TokenBucket(renamesPerMinute / 60, renamesPerMinute, now);
    if (n.key !== session.key && session.renames.take(now) !== 'ok') {
      throw new ChatError('RATE_LIMITED', 'Too many name changes; wait a minute.');
    }
    const live = this.identities.get(n.key);
    if (
      live &&
      live.tokenHash !== hash &&
      !(live.sessions.length === 1 && live.sessions[0] === session)
    ) {
      throw new ChatError('NAME_TAKEN');
    }
    // The address pays for a name reserved anew (kept for ever) or a change announced in a
    // room; taking back one's own name on a fresh connection is free, so reconnects cost nothing.
    const announced = this.inPublicRoom(session);
    let charged = false;
    if (n.key !== session.key) {
      charged = this.takeName(session);
      // With nothing left, only a name already reserved may be asked for: the claim below
      // then reserves nothing, and says whether it is this token's.
      if (
        !charged &&
        (announced || (await this.read(() => this.deps.log.nameHolder(n.key))) === null)
      ) {
        throw namesLimited();
      }
    }
    let claim: Awaited<ReturnType<Log['claimName']>>;
    try {
      claim = await this.read(() =>
        this.deps.log.claimName(n.key, look, hash, this.deps.clock.now()),
      );
    } catch (e) {
      if (charged) this.addresses.names.give(session.address, this.deps.clock.now());
      throw e;
    }
    if (charged && claim !== 'claimed' && (claim !== 'owned' || !announced)) {
      this.addresses.names.give(session.address, this.deps.clock.now());
    }
    if (claim === 'reserved') throw new ChatError('NAME_RESERVED');
    if (claim === 'confusable') {
      throw new ChatError('NAME_RESERVED', 'That name looks like one already taken; pick another.');
    }
    if (session.closed) return { name: n.display, token, direct: [] };
    this.rename(session, n.display, n.key, hash);
    const direct = await this.read(() => this.deps.log.directRooms(n.key));
    if (session.isText) await this.enterDirect(session, direct);
    return {
      name: n.display,
      token,
      direct: direct.map((id) => labelFor(new Room(id, pairOf(id)), n.key)),
    };
  }

  private takeName(session: Session): boolean {
    return this.addresses.names.take(session.address, this.deps.clock.now());
  }

  private inPublicRoom(session: Session): boolean {
    return session.subs.some((s) => !s.room.direct);
  }

  /**
   * A text client shows every direct message the moment it comes, in whatever room is current,
   * so it is in all of its conversations at once: the people in them see it as present.
   */
  private async enterDirect(session: Session, ids: string[]): Promise<void> {
    for (const id of ids) {
      const pair = pairOf(id);
      if (!pair || session.closed || session.sub(id)) continue;
      let latest: number;
      try {
        latest = await this.deps.log.lastSeq(id);
      } catch (e) {
        // The name is taken already; the next direct message subscribes the session anyway.
        this.deps.onError(e, 'store');
        return;
      }
      // A message committed meanwhile subscribed the session already (subscribeParticipants).
      if (session.closed || session.sub(id) || !pair.includes(session.key)) continue;
      const room = this.room(id, pair);
      room.lastSeq = Math.max(room.lastSeq, latest);
      this.subscribe(session, room, labelFor(room, session.key), room.lastSeq, false);
    }
  }

  /**
   * The name as this token took it under the earlier rules, when the present rules read it
   * otherwise (refuse it, or give it another key); else null.
   */
  private async takenEarlier(raw: string, hash: string): Promise<Normalized | null> {
    const earlier = earlierName(raw);
    if (!earlier || earlier.key === normalizeName(raw)?.key) return null;
    const holder = await this.read(() => this.deps.log.nameHolder(earlier.key));
    return holder === hash ? earlier : null;
  }

  private rename(
    session: Session,
    display: string,
    key: string,
    tokenHash: string | undefined,
  ): void {
    const oldName = session.name;
    const oldKey = session.key;
    this.detachIdentity(session);
    session.name = display;
    session.key = key;
    session.tokenHash = tokenHash;
    this.attachIdentity(session);
    const identity = this.identities.get(key);
    if (identity) {
      identity.display = display;
      identity.tokenHash = tokenHash;
    }
    for (const sub of session.subs) {
      const { room } = sub;
      if (room.direct) {
        // Direct conversations belong to the name: a new name leaves the old ones behind.
        if (oldKey !== key) this.unsubscribe(session, sub, oldKey, oldName);
        continue;
      }
      const gone = this.leaveRoom(room, oldKey, oldName);
      const came = this.enterRoom(room, key, display);
      if (gone && came) this.renameNotice(room, session, oldName, display);
      else {
        if (gone) this.presence(room, session, oldName, 'leave');
        if (came) this.presence(room, session, display, 'join');
      }
    }
  }

  // ---- rooms --------------------------------------------------------------------------------

  /** Resolves what a client calls a room (`dev`, `#dev`, `@alice`) to its id. */
  private async resolve(session: Session, label: string): Promise<Resolved> {
    if (isDirect(label)) {
      if (!session.claimed) throw new ChatError('NAME_REQUIRED');
      const peer = await this.peer(label.slice(1));
      if (!peer) throw new ChatError('NO_SUCH_USER');
      const { id, pair } = directId(session.key, peer.key);
      return { id, label: `@${peer.key}`, direct: pair };
    }
    const room = normalizeRoom(label);
    if (!room) throw new ChatError('ROOM_INVALID');
    return { id: room.key, label: room.key };
  }

  /** A taken name, by its present key or else by the key it was taken under earlier. */
  private async peer(raw: string): Promise<Normalized | null> {
    const exists = async (key: string) =>
      !!this.identities.get(key)?.tokenHash ||
      (await this.read(() => this.deps.log.nameExists(key)));
    const now = normalizeName(raw);
    if (now && (await exists(now.key))) return now;
    const earlier = earlierName(raw);
    if (earlier && earlier.key !== now?.key && (await exists(earlier.key))) return earlier;
    return null;
  }

  private room(id: string, direct?: [string, string]): Room {
    let room = this.rooms.get(id);
    if (!room) {
      room = new Room(id, direct);
      this.rooms.set(id, room);
    }
    return room;
  }

  async join(
    session: Session,
    label: string,
    since: number | undefined,
    onJoined: (info: Joined) => void,
  ): Promise<void> {
    const r = await this.resolve(session, label);
    const existing = session.sub(r.id);
    if (existing) {
      onJoined({
        id: r.id,
        label: r.label,
        lastSeq: existing.room.lastSeq,
        room: existing.room,
      });
      return;
    }
    // Direct conversations the server put a session in never keep it out of a room.
    const counted = r.direct ? session.subs : session.subs.filter((s) => !s.room.direct);
    if (counted.length >= this.deps.limits.roomsPerConnection)
      throw new ChatError('TOO_MANY_ROOMS');
    if (!r.direct) {
      await this.admitJoin(session, r.id);
      if (session.closed) return;
    }
    const room = this.room(r.id, r.direct);
    const sub = this.subscribe(session, room, r.label, 0, true);
    let latest: number;
    try {
      latest = await this.read(() => this.deps.log.lastSeq(r.id));
    } catch (e) {
      if (session.sub(r.id) === sub) this.unsubscribe(session, sub);
      throw e;
    }
    if (session.sub(r.id) !== sub) return;
    room.lastSeq = Math.max(room.lastSeq, latest);
    if (!r.direct && latest > 0) this.index.touch(r.id, this.deps.clock.now(), true);
    sub.cursor = since === undefined ? latest : Math.min(since, latest);
    if (r.direct) this.addParticipants(room, r.direct);
    onJoined({ id: r.id, label: r.label, lastSeq: latest, room });
    await this.catchUp(session, sub);
  }

  /**
   * A join tells every member, and its leave will too: the address pays for both at once. A
   * room not in the list (new, or unlisted after idling) also takes a new room from the
   * address's and the instance's allowance.
   */
  private async admitJoin(session: Session, id: string): Promise<void> {
    await this.loadIndex();
    const { addresses } = this;
    const now = this.deps.clock.now();
    // Another tab of a name already in the room announces nothing, and costs nothing.
    const present = this.rooms.get(id)?.displayOf(session.key) !== undefined;
    if (!present && !addresses.joins.take(session.address, now)) {
      throw new ChatError('RATE_LIMITED', 'Too many joins from your address; wait a minute.');
    }
    if (this.index.has(id)) return;
    if (!addresses.newRooms.take(session.address, now)) {
      if (!present) addresses.joins.give(session.address, now);
      throw new ChatError(
        'ROOM_LIMIT',
        'Too many new rooms from your address; join an existing one or try later.',
      );
    }
    if (!addresses.instanceRooms.take(INSTANCE, now)) {
      addresses.newRooms.give(session.address, now);
      if (!present) addresses.joins.give(session.address, now);
      throw new ChatError('ROOM_LIMIT');
    }
  }

  private subscribe(
    session: Session,
    room: Room,
    label: string,
    cursor: number,
    catchingUp: boolean,
  ): Subscription {
    const sub: Subscription = { room, label, cursor, catchingUp, lastTyping: 0 };
    room.subs.set(session, sub);
    session.addSub(sub);
    if (!room.direct) this.index.touch(room.id, this.deps.clock.now(), false);
    if (this.enterRoom(room, session.key, session.name)) {
      this.presence(room, session, session.name, 'join');
    }
    return sub;
  }

  async part(session: Session, label: string): Promise<string> {
    const r = await this.resolve(session, label);
    const sub = session.sub(r.id);
    if (!sub) throw new ChatError('NOT_IN_ROOM');
    this.unsubscribe(session, sub);
    return r.label;
  }

  /** `key` and `name` are the session's, unless it is leaving under a name it just gave up. */
  private unsubscribe(
    session: Session,
    sub: Subscription,
    key = session.key,
    name = session.name,
  ): void {
    const { room } = sub;
    room.subs.delete(session);
    session.removeSub(room);
    // Plain lines go on to another public room, never to a direct one the client did not pick.
    if (session.current === room.id)
      session.current = session.subs.find((s) => !s.room.direct)?.room.id;
    if (this.leaveRoom(room, key, name)) this.presence(room, session, name, 'leave');
    this.dropIfIdle(room);
  }

  private dropIfIdle(room: Room): void {
    if (!room.idle) return;
    this.rooms.delete(room.id);
    if (room.direct || room.id === LOBBY) return;
    // A room with no message is listed only while someone is in it; a stored one idles.
    if (this.index.isStored(room.id)) this.index.touch(room.id, this.deps.clock.now(), true);
    else this.index.remove(room.id);
  }

  /** A local session of a name enters a room; other nodes hear of the name's first one. */
  private enterRoom(room: Room, key: string, name: string): boolean {
    const change = room.addLocal(key, name);
    if (change.local) this.publishPresence(room, key, name, 'join');
    return change.cluster;
  }

  /** A local session of a name leaves a room; other nodes hear of the name's last one. */
  private leaveRoom(room: Room, key: string, name: string): boolean {
    const change = room.removeLocal(key);
    if (change.local) this.publishPresence(room, key, name, 'leave');
    return change.cluster;
  }

  private publishPresence(room: Room, key: string, name: string, event: 'join' | 'leave'): void {
    this.deps.bus.publish({
      kind: 'presence',
      node: this.deps.nodeId,
      room: room.id,
      key,
      name,
      event,
    });
  }

  /** Tells local members that a name came or went; `actor` (if local) is not told. */
  private presence(
    room: Room,
    actor: Session | undefined,
    name: string,
    event: 'join' | 'leave',
  ): void {
    const verb = event === 'join' ? 'joined' : 'left';
    if (room.direct) {
      // Only the two participants are ever subscribed; each calls the room by the other's name.
      for (const [s, sub] of room.subs) {
        if (s === actor) continue;
        if (s.isText) s.line(`* ${name} ${verb} ${textLabel(sub.label)}`);
        else s.event({ type: 'presence', room: sub.label, name, event });
      }
      return;
    }
    this.notice(
      room,
      actor,
      { type: 'presence', room: room.id, name, event },
      `* ${name} ${verb} #${room.id}`,
    );
  }

  private renameNotice(room: Room, actor: Session, from: string, to: string): void {
    this.notice(
      room,
      actor,
      { type: 'rename', room: room.id, from, to },
      `* ${from} is now known as ${to}`,
    );
  }

  /**
   * Tells a room's local members about a join, leave or rename. Past the limit a room stops
   * announcing them: in a room of thousands they would be most of the traffic (each arrival
   * one frame to everyone); `who` and `rooms` still count everyone.
   */
  private notice(room: Room, actor: Session | undefined, event: ServerEvent, line: string): void {
    if (room.memberCount > this.deps.limits.presenceNoticeLimit) return;
    const json = jsonFrame(event);
    const text = frame(line);
    for (const s of room.subs.keys()) {
      if (s !== actor) s.send(s.isText ? text : json);
    }
  }

  /**
   * A page of the room list in name order: at most `limit` rooms after the room `after`, how
   * many follow, and the `after` of the next page when some do.
   */
  async roomList(
    after?: string,
    limit: number = ROOM_PAGE_DEFAULT,
  ): Promise<{ rooms: RoomInfo[]; next?: string; remaining: number }> {
    await this.loadIndex();
    this.expireRooms();
    const page = this.index.page(after, Math.min(Math.max(limit, 1), ROOM_PAGE_MAX));
    const rooms = page.ids.map((room) => ({
      room,
      members: this.rooms.get(room)?.memberCount ?? 0,
    }));
    const last = rooms[rooms.length - 1];
    return page.remaining > 0 && last
      ? { rooms, next: last.room, remaining: page.remaining }
      : { rooms, remaining: 0 };
  }

  /** Reads the stored rooms into the list once (again after a bus resync); a failure retries. */
  private loadIndex(reload = false): Promise<void> {
    if (this.indexLoaded && !reload) return this.indexLoaded;
    const loading = this.read(() => this.deps.log.rooms()).then((rows) => {
      for (const r of rows) this.index.touch(r.room, r.lastTs, true);
    });
    this.indexLoaded = loading;
    loading.catch(() => {
      if (this.indexLoaded === loading) this.indexLoaded = undefined;
    });
    return loading;
  }

  private expireRooms(): void {
    const now = this.deps.clock.now();
    if (now - this.lastExpiry < ROOM_EXPIRY_EVERY_MS) return;
    this.lastExpiry = now;
    this.index.expire(
      now - this.deps.limits.roomIdleMs,
      (id) => id === LOBBY || !(this.rooms.get(id)?.idle ?? true),
    );
  }

  async who(session: Session, label: string): Promise<{ label: string; members: string[] }> {
    const r = await this.resolve(session, label);
    const room = this.rooms.get(r.id);
    if (r.direct) return { label: r.label, members: r.direct };
    return { label: r.label, members: room ? room.members() : [] };
  }

  // ---- history ------------------------------------------------------------------------------

  async history(
    session: Session | undefined,
    label: string,
    before: number | undefined,
    limit: number | undefined,
  ): Promise<{ label: string; messages: ChatMessage[]; more: boolean }> {
    let r: Resolved;
    if (session) r = await this.resolve(session, label);
    else {
      const room = isDirect(label) ? null : normalizeRoom(label);
      if (!room) throw new ChatError('ROOM_INVALID');
      r = { id: room.key, label: room.key };
    }
    const n = Math.min(Math.max(limit ?? HISTORY_DEFAULT, 1), HISTORY_MAX);
    const upTo = before ?? (await this.read(() => this.deps.log.lastSeq(r.id))) + 1;
    const rows = await this.read(() => this.deps.log.before(r.id, upTo, n));
    // Newest first until the byte budget is spent: a page of large messages is shorter, not larger.
    const messages: ChatMessage[] = [];
    let bytes = 0;
    for (let i = rows.length - 1; i >= 0; i--) {
      const m = { ...(rows[i] as ChatMessage), room: r.label };
      bytes += utf8Length(JSON.stringify(m));
      if (messages.length > 0 && bytes > this.deps.limits.historyMaxBytes) break;
      messages.push(m);
    }
    messages.reverse();
    const first = messages[0];
    return { label: r.label, messages, more: first ? first.seq > 1 : false };
  }

  // ---- sending and delivery -----------------------------------------------------------------

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
    if (isTextTooLong(text)) throw new ChatError('TEXT_TOO_LONG');
    if (!isValidText(text)) throw new ChatError('TEXT_INVALID');
    const r = await this.resolve(session, label);
    if (!r.direct && !session.sub(r.id)) throw new ChatError('NOT_IN_ROOM');
    // Stored text is kept for ever: the address has a budget of it, however many connections.
    if (!this.addresses.bytes.take(session.address, this.deps.clock.now(), utf8Length(text))) {
      throw new ChatError('RATE_LIMITED', 'Too much text from your address; wait a few minutes.');
    }
    const draft = { room: r.id, cid, from: session.name, text, me, direct: r.direct };
    const message = await new Promise<ChatMessage>((resolve, reject) => {
      this.pending.push({ draft, label: r.label, resolve, reject });
      this.scheduleFlush();
    });
    return { label: r.label, message };
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
      let results: { message: ChatMessage; duplicate: boolean }[];
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
        if (!res.duplicate) {
          this.deps.bus.publish({ kind: 'msg', node: this.deps.nodeId, message: res.message });
          this.deliver(res.message);
        }
        batch[i]?.resolve(res.message);
      });
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) this.scheduleFlush();
    }
  }

  // ---- the cluster --------------------------------------------------------------------------

  /** Events from the bus, published by other nodes (this node's own are ignored). */
  onBell(event: Bell): void {
    if (event.node === this.deps.nodeId) return;
    this.nodes.set(event.node, this.deps.clock.now());
    switch (event.kind) {
      case 'msg':
        this.deliver(event.message);
        return;
      case 'presence':
        this.remotePresence(event.node, event.room, event.key, event.name, event.event);
        return;
      case 'typing':
        this.relayTyping(event.room, event.key, event.name);
        return;
      case 'node':
        this.applyHeartbeat(event.node, event.rooms);
        return;
      case 'bye':
        this.forgetNode(event.node);
        return;
    }
  }

  /**
   * Puts the connected sessions of a direct room's participants in it, as a message to them
   * would: whoever opens a conversation sees at once whether the other person is connected,
   * even before either has written in it. They start level with the room's last message.
   */
  private addParticipants(room: Room, pair: [string, string]): void {
    for (const key of new Set(pair)) {
      const identity = this.identities.get(key);
      if (!identity?.tokenHash) continue;
      for (const s of identity.sessions) {
        if (!room.subs.has(s)) this.subscribe(s, room, labelFor(room, key), room.lastSeq, false);
      }
    }
  }

  /**
   * Another node's participant opened a direct room: this node's participants join it too, once
   * the store confirms that the one who came is a real name (a bus message alone is not proof).
   */
  private async addParticipantsFromStore(
    room: Room,
    pair: [string, string],
    came: string,
  ): Promise<void> {
    const local = pair.some((k) =>
      this.identities.get(k)?.sessions.some((s) => !room.subs.has(s) && s.claimed),
    );
    if (!local) return;
    let latest: number;
    try {
      if (!(await this.deps.log.nameExists(came))) return;
      latest = await this.deps.log.lastSeq(room.id);
    } catch (e) {
      // Presence only: the next message to them subscribes them anyway.
      this.deps.onError(e, 'store');
      return;
    }
    // The room may have emptied and gone meanwhile; the one in the map is the live one.
    const live = this.room(room.id, pair);
    live.lastSeq = Math.max(live.lastSeq, latest);
    this.addParticipants(live, pair);
    this.dropIfIdle(live);
  }

  private remotePresence(
    node: string,
    id: string,
    key: string,
    name: string,
    event: 'join' | 'leave',
  ): void {
    const room = this.busRoom(id, [key]);
    if (!room) return;
    if (event === 'join') {
      if (!room.direct) this.index.touch(id, this.deps.clock.now(), false);
      if (room.addRemote(key, name, node)) this.presence(room, undefined, name, 'join');
      if (room.direct) void this.addParticipantsFromStore(room, room.direct, key);
    } else {
      const display = room.displayOf(key) ?? name;
      if (room.removeRemote(key, node)) this.presence(room, undefined, display, 'leave');
    }
    this.dropIfIdle(room);
  }

  /**
   * The room another node speaks of, made if need be. A direct room is only taken for names
   * that are in it, only while one of them is connected here (no one else could ever read of
   * it), and always made with its pair, so it never shows as a public room.
   */
  private busRoom(id: string, keys: string[]): Room | undefined {
    const pair = pairOf(id);
    if (!pair) return isDirect(id) || !normalizeRoom(id) ? undefined : this.room(id);
    if (directId(pair[0], pair[1]).id !== id) return undefined;
    if (!keys.every((k) => pair.includes(k))) return undefined;
    const existing = this.rooms.get(id);
    if (existing) return existing.direct ? existing : undefined;
    return pair.some((k) => this.identities.get(k)?.tokenHash) ? this.room(id, pair) : undefined;
  }

  /** A heartbeat is the whole truth about a node: it heals lost presence and lost bells. */
  private applyHeartbeat(node: string, rooms: NodeRoom[]): void {
    const reported = new Set<string>();
    for (const r of rooms) {
      reported.add(r.room);
      const room =
        this.rooms.get(r.room) ??
        (r.members.length > 0
          ? this.busRoom(
              r.room,
              r.members.map(([k]) => k),
            )
          : undefined);
      if (!room) continue;
      const now = new Set(r.members.map(([k]) => k));
      const before = new Set(room.remoteKeys(node));
      for (const key of before) {
        if (!now.has(key)) this.remotePresence(node, r.room, key, key, 'leave');
      }
      for (const [key, name] of r.members) {
        if (!before.has(key)) this.remotePresence(node, r.room, key, name, 'join');
      }
      if (r.lastSeq > room.lastSeq && room.subs.size > 0) {
        room.lastSeq = r.lastSeq;
        this.catchUpAll(room);
      }
    }
    for (const room of [...this.rooms.values()]) {
      if (reported.has(room.id)) continue;
      for (const key of room.remoteKeys(node))
        this.remotePresence(node, room.id, key, key, 'leave');
    }
  }

  private forgetNode(node: string): void {
    this.nodes.delete(node);
    for (const room of [...this.rooms.values()]) {
      for (const key of room.remoteKeys(node))
        this.remotePresence(node, room.id, key, key, 'leave');
    }
  }

  /** Catches up every local subscriber that is behind what the room is known to hold. */
  private catchUpAll(room: Room): void {
    for (const [session, sub] of room.subs) {
      if (!sub.catchingUp && sub.cursor < room.lastSeq) void this.catchUp(session, sub);
    }
  }

  /** Called on a timer by the server: publish this node's heartbeat, expire silent nodes. */
  tick(): void {
    const now = this.deps.clock.now();
    for (const [node, seen] of this.nodes) {
      if (now - seen > this.deps.limits.nodeTimeoutMs) this.forgetNode(node);
    }
    const rooms: NodeRoom[] = [];
    for (const room of this.rooms.values()) {
      if (room.subs.size === 0) continue;
      rooms.push({ room: room.id, lastSeq: room.lastSeq, members: room.localMembers() });
    }
    this.deps.bus.publish({ kind: 'node', node: this.deps.nodeId, rooms });
  }

  /** After the bus was cut off: read every local room's last sequence from the store. */
  async resync(): Promise<void> {
    // Rooms other nodes made while the bus was away are in the store.
    await this.loadIndex(true).catch(() => undefined);
    for (const room of [...this.rooms.values()]) {
      if (room.subs.size === 0) continue;
      const last = await this.read(() => this.deps.log.lastSeq(room.id));
      if (last > room.lastSeq) room.lastSeq = last;
      this.catchUpAll(room);
    }
    this.tick();
  }

  /** Tells the other nodes that this one is leaving, so its members leave at once. */
  goodbye(): void {
    this.deps.bus.publish({ kind: 'bye', node: this.deps.nodeId });
  }

  /** A store failure becomes a refusal the client can retry; the cause is logged. */
  private async read<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof ChatError) throw e;
      this.deps.onError(e, 'store');
      throw new ChatError('STORE_UNAVAILABLE', 'The history store is unavailable; try again.');
    }
  }

  /** Sends a committed message to every local subscriber that is exactly one behind it. */
  deliver(message: ChatMessage): void {
    let room = this.rooms.get(message.room);
    const pair = pairOf(message.room);
    if (pair) room = this.subscribeParticipants(room, message, pair);
    if (!pair) this.index.touch(message.room, message.ts, true);
    if (!room) return;
    if (message.seq > room.lastSeq) room.lastSeq = message.seq;
    const started = this.deps.clock.monotonic();
    let deliveries = 0;
    const framesByLabel = new Map<string, MessageFrames>();
    for (const [session, sub] of room.subs) {
      if (sub.catchingUp || message.seq <= sub.cursor) continue;
      if (message.seq !== sub.cursor + 1) {
        void this.catchUp(session, sub);
        continue;
      }
      let frames = framesByLabel.get(sub.label);
      if (!frames) framesByLabel.set(sub.label, (frames = new MessageFrames(message, sub.label)));
      session.send(session.isText ? frames.forText(session.current === room.id) : frames.forJson());
      sub.cursor = message.seq;
      deliveries++;
    }
    this.deps.telemetry.fannedOut(deliveries, this.deps.clock.monotonic() - started);
  }

  /** A direct message reaches its participants' sessions even before they open it. */
  private subscribeParticipants(
    room: Room | undefined,
    message: ChatMessage,
    pair: [string, string],
  ): Room {
    const r = room ?? this.room(message.room, pair);
    for (const key of new Set(pair)) {
      const identity = this.identities.get(key);
      if (!identity?.tokenHash) continue;
      for (const s of identity.sessions) {
        if (!r.subs.has(s)) this.subscribe(s, r, labelFor(r, key), message.seq - 1, false);
      }
    }
    this.dropIfIdle(r);
    return r;
  }

  /**
   * Reads from the store what a subscriber is missing, until it is level with the room.
   * Past the bound it sends a gap marker and skips to the newest messages.
   */
  private async catchUp(session: Session, sub: Subscription): Promise<void> {
    const { room } = sub;
    const bound = this.deps.limits.historyBound;
    sub.catchingUp = true;
    try {
      for (;;) {
        if (session.closed || room.subs.get(session) !== sub) return;
        const target = room.lastSeq;
        if (target <= sub.cursor) {
          sub.catchingUp = false;
          return;
        }
        if (target - sub.cursor > bound) {
          const skipTo = target - bound;
          session.event({ type: 'gap', room: sub.label, after: sub.cursor, before: skipTo + 1 });
          session.line(`* ${skipTo - sub.cursor} older messages not shown; /history shows more`);
          sub.cursor = skipTo;
        }
        const rows = await this.deps.log.after(room.id, sub.cursor, Math.min(bound, HISTORY_MAX));
        if (session.closed || room.subs.get(session) !== sub) return;
        for (const m of rows) {
          if (m.seq <= sub.cursor) continue;
          if (m.seq !== sub.cursor + 1) break;
          const frames = new MessageFrames(m, sub.label);
          session.send(
            session.isText ? frames.forText(session.current === room.id) : frames.forJson(),
          );
          sub.cursor = m.seq;
        }
        if (rows.length === 0) {
          // The store has nothing newer yet; the next live message will try again.
          sub.catchingUp = false;
          return;
        }
      }
    } catch (e) {
      this.deps.onError(e, 'catch-up');
      closeWith(session.peer, 'RESYNC_FAILED');
    }
  }

  // ---- typing -------------------------------------------------------------------------------

  async typing(session: Session, label: string): Promise<string> {
    const r = await this.resolve(session, label);
    const sub = session.sub(r.id);
    if (!sub) throw new ChatError('NOT_IN_ROOM');
    const now = this.deps.clock.now();
    if (now - sub.lastTyping < TYPING_MIN_INTERVAL_MS) return r.label;
    sub.lastTyping = now;
    this.relayTyping(r.id, session.key, session.name);
    this.deps.bus.publish({
      kind: 'typing',
      node: this.deps.nodeId,
      room: r.id,
      key: session.key,
      name: session.name,
    });
    return r.label;
  }

  private relayTyping(id: string, key: string, name: string): void {
    const room = this.rooms.get(id);
    if (!room) return;
    const ttlMs = this.deps.limits.typingTtlMs;
    for (const [s, sub] of room.subs) {
      if (s.key === key || s.isText) continue;
      s.event({ type: 'typing', room: sub.label, name, ttlMs });
    }
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

/** The participant pair of a direct room id, or undefined for a public room. */
function pairOf(id: string): [string, string] | undefined {
  if (!id.startsWith('@')) return undefined;
  const space = id.indexOf(' ');
  return space < 0 ? undefined : [id.slice(1, space), id.slice(space + 1)];
}

function namesLimited(): ChatError {
  return new ChatError('RATE_LIMITED', 'Too many new names from your address; wait a while.');
}
