// Who is in a room: local sessions subscribing and leaving, names reported by other nodes, the
// notices members get of joins, leaves and renames, and direct rooms' participants.

import { isDirect, nameList, textLabel, type ServerEvent } from '../protocol/index.js';
import { jsonFrame, frame } from './frames.js';
import type { Identities } from './identities.js';
import type { KeyedBuckets } from './keyed-buckets.js';
import type { Member } from './member.js';
import type { CoreDeps, Frame } from './ports.js';
import { labelFor, type Room, type Subscription } from './room.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';

/**
 * While the server stays overloaded, a room's held notices go out this long after the first of
 * them. In a restart's rejoin storm every second has arrivals in nearly every room, so a flush
 * a second is a write to nearly every member a second: half the storm's writes.
 */
const HOLD_WHILE_OVERLOADED_MS = 5000;

/** A notice held while the server is overloaded, with who is to get it. */
interface HeldNotice {
  /** When it was held (the clock's ms). */
  at: number;
  to: Member[];
  json: Frame;
  text: Frame;
  /** Who came or went, for a join or leave (a run of them goes out as one notice). */
  presence?: { event: 'join' | 'leave'; name: string };
}

export class Presence {
  /** Held notices, in the order they happened, room by room. */
  private held = new Map<Room, HeldNotice[]>();

  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly identities: Identities,
    /** Announced arrivals per address and room: see quietJoin. */
    private readonly notices: KeyedBuckets,
  ) {}

  subscribe(
    session: Session,
    room: Room,
    label: string,
    cursor: number,
    catchingUp: boolean,
  ): Subscription {
    const sub: Subscription = { room, label, cursor, catchingUp, lastTyping: 0 };
    room.subs.set(session, sub);
    session.addSub(sub);
    if (!room.direct) this.rooms.index.touch(room.id, this.deps.clock.now(), false);
    const quiet = this.quietJoin(session, room);
    if (this.enterRoom(room, session.key, session.name, session.userId, quiet) && !quiet) {
      this.announce(room, session, session.name, 'join');
    }
    return sub;
  }

  /**
   * An address joining and leaving a room in a loop would make every member read a line for
   * each. Each leave announced takes one of the address's few notices a minute in the room, and
   * once they are spent its arrivals there are quiet, and so are their leaves. Arrivals alone
   * spend nothing: an office behind one address coming in is announced person by person. The
   * quiet are members all the same (`who` counts them).
   */
  private quietJoin(session: Session, room: Room): boolean {
    if (room.direct || room.displayOf(session.key) !== undefined) return false;
    return this.notices.waitMs(this.noticeKey(session, room), this.deps.clock.now()) > 0;
  }

  private noticeKey(session: Session, room: Room): string {
    return `${session.address} ${room.id}`;
  }

  /** `key` and `name` are the session's, unless it is leaving under a name it just gave up. */
  unsubscribe(
    session: Session,
    sub: Subscription,
    key = session.key,
    name = session.name,
    userId = session.userId,
  ): void {
    const { room } = sub;
    room.subs.delete(session);
    session.removeSub(room);
    // Plain lines go on to another public room, never to a direct one the client did not pick.
    if (session.current === room.id)
      session.current = session.subs.find((s) => !s.room.direct)?.room.id;
    const quiet = room.quietOf(key);
    if (this.leaveRoom(room, key, name, userId) && !quiet) {
      if (!room.direct) this.notices.take(this.noticeKey(session, room), this.deps.clock.now());
      this.announce(room, session, name, 'leave');
    }
    this.rooms.dropIfIdle(room);
  }

  /** A local session of a name enters a room; other nodes hear of the name's first one. */
  enterRoom(room: Room, key: string, name: string, userId: string, quiet = false): boolean {
    const change = room.addLocal(key, name, quiet);
    if (change.local) this.publish(room, key, name, userId, 'join', room.quietOf(key));
    return change.cluster;
  }

  /** A local session of a name leaves a room; other nodes hear of the name's last one. */
  leaveRoom(room: Room, key: string, name: string, userId: string): boolean {
    const change = room.removeLocal(key);
    if (change.local) this.publish(room, key, name, userId, 'leave');
    return change.cluster;
  }

  private publish(
    room: Room,
    key: string,
    name: string,
    userId: string,
    event: 'join' | 'leave',
    quiet = false,
  ): void {
    this.deps.bus.publish({
      kind: 'presence',
      node: this.deps.nodeId,
      room: room.id,
      key,
      name,
      event,
      ...(quiet && { quiet }),
      // Another node takes a direct room's name only for a user the store says is in it.
      ...(room.direct ? { userId } : {}),
    });
  }

  /** Tells local members that a name came or went; `actor` (if local) is not told. */
  announce(room: Room, actor: Member | undefined, name: string, event: 'join' | 'leave'): void {
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
      { event, name },
    );
  }

  announceRename(room: Room, actor: Member, from: string, to: string): void {
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
  private notice(
    room: Room,
    actor: Member | undefined,
    event: ServerEvent,
    line: string,
    presence?: HeldNotice['presence'],
  ): void {
    if (room.memberCount > this.deps.limits.presenceNoticeLimit) return;
    const json = jsonFrame(event);
    const text = frame(line);
    // In a restart's rejoin storm each arrival is told to everyone already back: held, a
    // member's arrivals in a room go out together (see flushDueNotices), in one write.
    if (this.deps.overloaded?.()) {
      const to = [...room.subs.keys()].filter((s) => s !== actor);
      const at = this.deps.clock.now();
      const held: HeldNotice = { at, to, json, text, ...(presence && { presence }) };
      const list = this.held.get(room);
      if (list) list.push(held);
      else this.held.set(room, [held]);
      return;
    }
    // Those held before go first, so that a room's notices keep their order.
    if (this.held.has(room)) this.flushNotices(room);
    for (const s of room.subs.keys()) {
      if (s !== actor) s.send(s.isText ? text : json);
    }
  }

  /**
   * The regular flush: once the overload is over, everything held; while it lasts, the rooms
   * whose first held notice has waited its time.
   */
  flushDueNotices(): void {
    if (!this.deps.overloaded?.()) return this.flushNotices();
    const due = this.deps.clock.now() - HOLD_WHILE_OVERLOADED_MS;
    for (const [room, list] of this.held) {
      if ((list[0]?.at ?? due) <= due) this.flushNotices(room);
    }
  }

  /** Sends the held notices (of one room, or of all), to those of their members still in it. */
  flushNotices(only?: Room): void {
    const rooms = only ? [only] : [...this.held.keys()];
    for (const room of rooms) {
      const list = this.held.get(room);
      this.held.delete(room);
      if (list) this.sendHeld(room, list);
    }
  }

  /**
   * Each member gets the notices it was in the room for, in order; a run of joins (or of
   * leaves) among them goes as one notice naming them all.
   */
  private sendHeld(room: Room, list: readonly HeldNotice[]): void {
    const told = new Map<Member, number[]>();
    list.forEach((n, i) => {
      for (const s of n.to) {
        if (!room.subs.has(s)) continue;
        const mine = told.get(s);
        if (mine) mine.push(i);
        else told.set(s, [i]);
      }
    });
    // Most members of a room are told the same stretch of the list: they share its frame.
    const shared = new Map<string, Frame>();
    for (const [s, mine] of told) {
      for (const run of runsOf(list, mine)) {
        const f = runFrame(room, list, run, s.isText, shared);
        if (f) s.send(f);
      }
    }
  }

  /**
   * Puts the connected sessions of a direct room's participants in it, as a message to them
   * would: whoever opens a conversation sees at once whether the other person is connected,
   * even before either has written in it. They start level with the room's last message.
   */
  addParticipants(room: Room): void {
    for (const user of new Set(room.direct)) {
      const label = labelFor(room, user);
      if (label === undefined) continue;
      for (const s of this.identities.sessionsOf(user)) {
        if (!room.subs.has(s)) this.subscribe(s, room, label, room.lastSeq, false);
      }
    }
  }

  /**
   * A name another node has in a room came or went. In a direct room, a name not known here
   * to be a participant's comes in once the store says it is `userId`'s and the room theirs.
   */
  remote(
    node: string,
    id: string,
    key: string,
    name: string,
    event: 'join' | 'leave',
    userId?: string,
    quiet = false,
  ): void {
    const room = this.rooms.busRoom(id, [key]);
    if (!room) {
      if (event === 'join' && userId !== undefined && isDirect(id)) {
        void this.remoteDirect(node, id, key, name, userId);
      }
      return;
    }
    if (event === 'join') {
      if (!room.direct) this.rooms.index.touch(id, this.deps.clock.now(), false);
      if (room.addRemote(key, name, node, quiet) && !quiet) {
        this.announce(room, undefined, name, 'join');
      }
      if (room.direct) void this.addParticipantsFromStore(room);
    } else {
      const display = room.displayOf(key) ?? name;
      const wasQuiet = room.quietOf(key);
      if (room.removeRemote(key, node) && !wasQuiet) {
        this.announce(room, undefined, display, 'leave');
      }
    }
    this.rooms.dropIfIdle(room);
  }

  private async remoteDirect(
    node: string,
    id: string,
    key: string,
    name: string,
    userId: string,
  ): Promise<void> {
    let room: Room | undefined;
    try {
      room = await this.rooms.busDirect(id, key, userId);
    } catch (e) {
      this.deps.onError(e, 'store');
      return;
    }
    // Known now: the name comes in as any known participant's does.
    if (room?.keys.get(userId) === key) this.remote(node, id, key, name, 'join');
    else if (room) this.rooms.dropIfIdle(room);
  }

  /**
   * Another node's participant opened a direct room: this node's participants join it too,
   * level with the room's last message. The one who came is known to be a participant: from
   * the store (busDirect) or from this node's own resolve.
   */
  private async addParticipantsFromStore(room: Room): Promise<void> {
    const pair = room.direct;
    if (!pair) return;
    const local = pair.some((u) => this.identities.sessionsOf(u).some((s) => !room.subs.has(s)));
    if (!local) return;
    let latest: number;
    try {
      latest = await this.deps.log.lastSeq(room.id);
    } catch (e) {
      // Presence only: the next message to them subscribes them anyway.
      this.deps.onError(e, 'store');
      return;
    }
    // The room may have emptied and gone meanwhile; the one in the map is the live one.
    const live = this.rooms.room(room.id, pair, room.keys);
    if (!live.direct) return;
    live.lastSeq = Math.max(live.lastSeq, latest);
    this.addParticipants(live);
    this.rooms.dropIfIdle(live);
  }
}

/** A member's notices cut into runs: joins in a row together, leaves in a row together. */
function runsOf(list: readonly HeldNotice[], mine: readonly number[]): number[][] {
  const runs: number[][] = [];
  let last: string | undefined;
  for (const i of mine) {
    const kind = list[i]?.presence?.event;
    const run = runs[runs.length - 1];
    if (run && kind !== undefined && kind === last) run.push(i);
    else runs.push([i]);
    last = kind;
  }
  return runs;
}

/** The frame of one run: the notice itself when it is alone, else one naming them all. */
function runFrame(
  room: Room,
  list: readonly HeldNotice[],
  run: readonly number[],
  text: boolean,
  shared: Map<string, Frame>,
): Frame | undefined {
  const first = run[0] === undefined ? undefined : list[run[0]];
  if (!first) return undefined;
  if (run.length === 1 || !first.presence) return text ? first.text : first.json;
  const from = run[0] ?? 0;
  const to = run[run.length - 1] ?? 0;
  // A run with nothing between its ends is named by them; any other is this member's alone.
  const key = to - from === run.length - 1 ? `${text ? 't' : 'j'}${from}-${to}` : undefined;
  const known = key === undefined ? undefined : shared.get(key);
  if (known) return known;
  const { event } = first.presence;
  const names = run.map((i) => list[i]?.presence?.name ?? '');
  const [name = '', ...others] = names;
  const f = text
    ? frame(`* ${nameList(names)} ${event === 'join' ? 'joined' : 'left'} #${room.id}`)
    : jsonFrame({ type: 'presence', room: room.id, name, event, others });
  if (key !== undefined) shared.set(key, f);
  return f;
}
