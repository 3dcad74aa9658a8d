// Typing indicators: throttled per subscription, relayed to the room's other JSON clients here
// and on other nodes; each lasts `typingTtlMs` unless renewed (the client expires it). A room
// past the presence-notice limit relays one a second, whoever types: in a room of thousands a
// notice per typist would cost as much as the messages themselves, and says little more.

import { ChatError } from '../protocol/index.js';
import type { Guard } from './guard.js';
import { jsonFrame } from './frames.js';
import type { CoreDeps, Frame } from './ports.js';
import type { Rooms } from './rooms.js';
import type { Session } from './session.js';

const TYPING_MIN_INTERVAL_MS = 1000;

export class Typing {
  constructor(
    private readonly deps: CoreDeps,
    private readonly rooms: Rooms,
    private readonly guard: Guard,
  ) {}

  async typing(session: Session, label: string): Promise<string> {
    const r = await this.rooms.resolve(session, label);
    const sub = session.sub(r.id);
    if (!sub) throw new ChatError('NOT_IN_ROOM');
    this.guard.checkSend(session, sub);
    const now = this.deps.clock.now();
    if (now - sub.lastTyping < TYPING_MIN_INTERVAL_MS) return r.label;
    sub.lastTyping = now;
    const room = this.rooms.get(r.id);
    if (room && room.memberCount > this.deps.limits.presenceNoticeLimit) {
      if (now - room.lastTyping < TYPING_MIN_INTERVAL_MS) return r.label;
      room.lastTyping = now;
    }
    this.relay(r.id, session.key, session.name);
    this.deps.bus.publish({
      kind: 'typing',
      node: this.deps.nodeId,
      room: r.id,
      key: session.key,
      name: session.name,
    });
    return r.label;
  }

  /** Tells the room's local JSON clients, all but the typist's own sessions. */
  relay(id: string, key: string, name: string): void {
    const room = this.rooms.get(id);
    if (!room) return;
    // In a direct room, only a name known here to be one of the two.
    if (room.direct && ![...room.keys.values()].includes(key)) return;
    const ttlMs = this.deps.limits.typingTtlMs;
    // Encoded once per label, as a message is: a room calls itself the same for everyone.
    const frames = new Map<string, Frame>();
    for (const [s, sub] of room.subs) {
      if (s.key === key || s.isText) continue;
      let f = frames.get(sub.label);
      if (!f)
        frames.set(sub.label, (f = jsonFrame({ type: 'typing', room: sub.label, name, ttlMs })));
      s.send(f);
    }
  }
}
