// The other nodes: their bells, heartbeats that heal lost presence and lost messages, the
// expiry of a node gone silent, and the resync after the bus was cut off.

import type { Delivery } from './delivery.js';
import type { Bell, CoreDeps, NodeRoom } from './ports.js';
import type { Presence } from './presence.js';
import type { Room } from './room.js';
import type { ReadMarkers } from './read-markers.js';
import type { Rooms } from './rooms.js';
import { readStore } from './store-read.js';
import type { Typing } from './typing.js';

/** Every this many heartbeats, each room's members go in full whether they changed or not. */
const FULL_EVERY = 6;

export class Cluster {
  /** Other nodes, with when each was last heard from. */
  private readonly nodes = new Map<string, number>();
  /** Each room's localVersion when its members last went out in a heartbeat. */
  private readonly sentVersion = new WeakMap<Room, number>();
  private beats = 0;
  /** A node this one had not heard from appeared: it needs everyone's members at once. */
  private fullNext = true;

  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly presence: Presence,
    private readonly delivery: Delivery,
    private readonly typing: Typing,
    private readonly markers: ReadMarkers,
  ) {}

  /** Events from the bus, published by other nodes (this node's own are ignored). */
  onBell(event: Bell): void {
    if (event.node === this.deps.nodeId) return;
    if (!this.nodes.has(event.node)) this.fullNext = true;
    this.nodes.set(event.node, this.deps.clock.now());
    switch (event.kind) {
      case 'entry':
        this.delivery.deliver(event.entry);
        return;
      case 'presence':
        this.presence.remote(
          event.node,
          event.room,
          event.key,
          event.name,
          event.event,
          event.userId,
          event.quiet,
        );
        return;
      case 'typing':
        this.typing.relay(event.room, event.key, event.name);
        return;
      case 'read':
        this.markers.onBell(event);
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
   * A heartbeat is the whole truth about a node's rooms, and about the members of those it
   * lists them for: it heals lost presence and lost bells.
   */
  private applyHeartbeat(node: string, rooms: NodeRoom[]): void {
    const reported = new Set<string>();
    for (const r of rooms) {
      reported.add(r.room);
      const members = r.members;
      const room =
        this.rooms.get(r.room) ??
        (members && members.length > 0
          ? this.rooms.busRoom(
              r.room,
              members.map(([k]) => k),
            )
          : undefined);
      if (!room) continue;
      if (members) this.applyMembers(node, r.room, members, room.remoteKeys(node));
      if (r.lastSeq > room.lastSeq && room.subs.size > 0) {
        room.lastSeq = r.lastSeq;
        this.delivery.catchUpAll(room);
      }
    }
    for (const room of this.rooms.all()) {
      if (reported.has(room.id)) continue;
      for (const key of room.remoteKeys(node))
        this.presence.remote(node, room.id, key, key, 'leave');
    }
  }

  private applyMembers(
    node: string,
    room: string,
    members: [string, string][],
    before: string[],
  ): void {
    const now = new Set(members.map(([k]) => k));
    const had = new Set(before);
    for (const key of had) {
      if (!now.has(key)) this.presence.remote(node, room, key, key, 'leave');
    }
    for (const [key, name] of members) {
      if (!had.has(key)) this.presence.remote(node, room, key, name, 'join');
    }
  }

  private forgetNode(node: string): void {
    this.nodes.delete(node);
    for (const room of this.rooms.all()) {
      for (const key of room.remoteKeys(node))
        this.presence.remote(node, room.id, key, key, 'leave');
    }
  }

  /** Called on a timer by the server: publish this node's heartbeat, expire silent nodes. */
  tick(): void {
    const now = this.deps.clock.now();
    for (const [node, seen] of this.nodes) {
      if (now - seen > this.deps.limits.nodeTimeoutMs) this.forgetNode(node);
    }
    // Members unchanged since they last went out are left out: in full they were most of the
    // bus's bytes, and of every other node's work to read.
    const full = this.beats++ % FULL_EVERY === 0 || this.fullNext;
    this.fullNext = false;
    const rooms: NodeRoom[] = [];
    for (const room of this.rooms.values()) {
      // Left out, a room loses this node's members on the others; its version has moved by
      // the time it has subscribers again, so its next report names them.
      if (room.subs.size === 0) continue;
      if (!full && this.sentVersion.get(room) === room.localVersion) {
        rooms.push({ room: room.id, lastSeq: room.lastSeq });
        continue;
      }
      this.sentVersion.set(room, room.localVersion);
      rooms.push({ room: room.id, lastSeq: room.lastSeq, members: room.localMembers() });
    }
    this.deps.bus.publish({ kind: 'node', node: this.deps.nodeId, rooms });
  }

  /** After the bus was cut off: read every local room's last sequence from the store. */
  async resync(): Promise<void> {
    // Whatever other nodes missed while the bus was away, the next heartbeat tells in full.
    this.fullNext = true;
    this.markers.resync();
    // Rooms other nodes made while the bus was away are in the store.
    await this.rooms.loadIndex(true).catch(() => undefined);
    for (const room of this.rooms.all()) {
      if (room.subs.size === 0) continue;
      const last = await readStore(this.deps, () => this.deps.log.lastSeq(room.id));
      if (last > room.lastSeq) room.lastSeq = last;
      this.delivery.catchUpAll(room);
    }
    this.tick();
  }

  /** Tells the other nodes that this one is leaving, so its members leave at once. */
  goodbye(): void {
    this.deps.bus.publish({ kind: 'bye', node: this.deps.nodeId });
  }
}
