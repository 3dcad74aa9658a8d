// Who is in a room: local sessions subscribing and leaving, names reported by other nodes, the
// notices members get of joins, leaves and renames, and direct rooms' participants.

import { textLabel, type ServerEvent } from '../protocol/index.js';
import { jsonFrame, frame } from './frames.js';
import type { Identities } from './identities.js';
import type { Member } from './member.js';
import type { CoreDeps } from './ports.js';
import { labelFor, type Room, type Subscription } from './room.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';

export class Presence {
  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly identities: Identities,
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
    if (this.enterRoom(room, session.key, session.name)) {
      this.announce(room, session, session.name, 'join');
    }
    return sub;
  }

  /** `key` and `name` are the session's, unless it is leaving under a name it just gave up. */
  unsubscribe(session: Session, sub: Subscription, key = session.key, name = session.name): void {
    const { room } = sub;
    room.subs.delete(session);
    session.removeSub(room);
    // Plain lines go on to another public room, never to a direct one the client did not pick.
    if (session.current === room.id)
      session.current = session.subs.find((s) => !s.room.direct)?.room.id;
    if (this.leaveRoom(room, key, name)) this.announce(room, session, name, 'leave');
    this.rooms.dropIfIdle(room);
  }

  /** A local session of a name enters a room; other nodes hear of the name's first one. */
  enterRoom(room: Room, key: string, name: string): boolean {
    const change = room.addLocal(key, name);
    if (change.local) this.publish(room, key, name, 'join');
    return change.cluster;
  }

  /** A local session of a name leaves a room; other nodes hear of the name's last one. */
  leaveRoom(room: Room, key: string, name: string): boolean {
    const change = room.removeLocal(key);
    if (change.local) this.publish(room, key, name, 'leave');
    return change.cluster;
  }

  private publish(room: Room, key: string, name: string, event: 'join' | 'leave'): void {
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
  private notice(room: Room, actor: Member | undefined, event: ServerEvent, line: string): void {
    if (room.memberCount > this.deps.limits.presenceNoticeLimit) return;
    const json = jsonFrame(event);
    const text = frame(line);
    for (const s of room.subs.keys()) {
      if (s !== actor) s.send(s.isText ? text : json);
    }
  }

  /**
   * Puts the connected sessions of a direct room's participants in it, as a message to them
   * would: whoever opens a conversation sees at once whether the other person is connected,
   * even before either has written in it. They start level with the room's last message.
   */
  addParticipants(room: Room, pair: [string, string]): void {
    for (const key of new Set(pair)) {
      const identity = this.identities.get(key);
      if (!identity?.tokenHash) continue;
      for (const s of identity.sessions) {
        if (!room.subs.has(s)) this.subscribe(s, room, labelFor(room, key), room.lastSeq, false);
      }
    }
  }

  /** A name another node has in a room came or went. */
  remote(node: string, id: string, key: string, name: string, event: 'join' | 'leave'): void {
    const room = this.rooms.busRoom(id, [key]);
    if (!room) return;
    if (event === 'join') {
      if (!room.direct) this.rooms.index.touch(id, this.deps.clock.now(), false);
      if (room.addRemote(key, name, node)) this.announce(room, undefined, name, 'join');
      if (room.direct) void this.addParticipantsFromStore(room, room.direct, key);
    } else {
      const display = room.displayOf(key) ?? name;
      if (room.removeRemote(key, node)) this.announce(room, undefined, display, 'leave');
    }
    this.rooms.dropIfIdle(room);
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
    const live = this.rooms.room(room.id, pair);
    live.lastSeq = Math.max(live.lastSeq, latest);
    this.addParticipants(live, pair);
    this.rooms.dropIfIdle(live);
  }
}
