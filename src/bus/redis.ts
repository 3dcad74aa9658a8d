// The cluster bus: Redis pub/sub on one channel, JSON-encoded events. Redis pub/sub is at most
// once, which is all the bus promises: a lost event shows up as a sequence gap or a resync, and
// the receiver reads the store. Two connections are needed because a subscribed connection can
// only (un)subscribe and ping; both are the caller's, who creates and ends them.

import type { Redis } from 'ioredis';
import { messageEntry, unknownEntry, wireMessage, type ChatMessage } from '../protocol/index.js';
import type { Bus, BusEvent } from './types.js';
import type { NodeRoom } from '../core/ports.js';

export interface RedisBusOptions {
  /** The pub/sub channel every node of one cluster shares; `parley:events` by default. */
  channel?: string;
}

export const DEFAULT_CHANNEL = 'parley:events';

export function createRedisBus(pub: Redis, sub: Redis, options: RedisBusOptions = {}): Bus {
  const channel = options.channel ?? DEFAULT_CHANNEL;
  const handlers: ((event: BusEvent) => void)[] = [];
  const resyncHandlers: (() => void)[] = [];
  let closed = false;
  // Set when the subscriber connection closes (or its first attempt fails); the next 'ready'
  // then means events may have been missed in between.
  let lost = false;

  const onMessage = (ch: string, payload: string) => {
    if (closed || ch !== channel) return;
    const event = parseEvent(payload);
    if (event === undefined) return; // not ours, or malformed: never let it into the node
    for (const h of handlers) callSafely(h, event);
  };

  const onClose = () => {
    lost = true;
  };

  const onReady = () => {
    if (closed || !lost) return;
    lost = false;
    // ioredis emits 'ready' before it resubscribes. Subscribing again (harmless when already
    // subscribed) and waiting for the reply means the channel is live again before the
    // receivers read the store, so nothing committed after their read can slip between.
    sub.subscribe(channel).then(
      () => {
        if (closed) return;
        for (const h of resyncHandlers) callSafely(h, undefined);
      },
      () => {
        // Cut off again before the reply: the next 'ready' tries once more.
        lost = true;
      },
    );
  };

  sub.on('message', onMessage);
  sub.on('close', onClose);
  sub.on('ready', onReady);
  // Queued by ioredis until the connection is up when it is not yet.
  sub.subscribe(channel).catch(() => {
    lost = true;
  });

  return {
    shared: true,
    publish(event) {
      if (closed) return;
      try {
        pub.publish(channel, encodeEvent(event)).catch(() => {
          // Redis down or slow: the event is lost, as at-most-once allows.
        });
      } catch {
        // Not even sendable (e.g. the client was ended): same as lost.
      }
    },
    subscribe(handler) {
      handlers.push(handler);
    },
    onResync(handler) {
      resyncHandlers.push(handler);
    },
    async ping() {
      // A node whose subscriber is down receives nothing, so it is not ready either.
      if (sub.status !== 'ready')
        throw new Error(`redis subscriber is not connected (${sub.status})`);
      await pub.ping();
    },
    async close() {
      if (closed) return;
      closed = true;
      sub.off('message', onMessage);
      sub.off('close', onClose);
      sub.off('ready', onReady);
      if (sub.status === 'ready') await sub.unsubscribe(channel).catch(() => {});
    },
  };
}

/**
 * A handler that throws must not stop the others nor unwind into the Redis client's reader; its
 * error is rethrown on its own, as the in-process bus would let it surface.
 */
function callSafely<T>(handler: (arg: T) => void, arg: T): void {
  try {
    handler(arg);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** The message with exactly its known fields, or undefined. */
function toMessage(v: unknown): ChatMessage | undefined {
  if (!(
    isObj(v) &&
    isStr(v.room) &&
    Number.isSafeInteger(v.seq) &&
    isStr(v.from) &&
    isStr(v.text) &&
    typeof v.ts === 'number' &&
    Number.isFinite(v.ts) &&
    isStr(v.cid) &&
    typeof v.me === 'boolean'
  ))
    return undefined;
  return {
    room: v.room,
    seq: v.seq as number,
    from: v.from,
    text: v.text,
    ts: v.ts,
    cid: v.cid,
    me: v.me,
  };
}

/**
 * The payload of an event. A log entry goes as the payload its kind always had (a message as
 * `msg`), so nodes of the previous version and this one read each other.
 */
export function encodeEvent(event: BusEvent): string {
  if (event.kind !== 'entry') return JSON.stringify(event);
  const { entry } = event;
  switch (entry.kind) {
    case 'message':
      return JSON.stringify({ kind: 'msg', node: event.node, message: wireMessage(entry) });
    default:
      return unknownEntry(entry.kind);
  }
}

/** The event in a payload, or undefined when it is not JSON or not a well-formed event. */
export function parseEvent(payload: string): BusEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!isObj(v) || !isStr(v.node)) return undefined;
  switch (v.kind) {
    case 'msg': {
      const message = toMessage(v.message);
      return message ? { kind: 'entry', node: v.node, entry: messageEntry(message) } : undefined;
    }
    case 'presence':
      return isStr(v.room) &&
        isStr(v.key) &&
        isStr(v.name) &&
        (v.event === 'join' || v.event === 'leave')
        ? { kind: 'presence', node: v.node, room: v.room, key: v.key, name: v.name, event: v.event }
        : undefined;
    case 'typing':
      return isStr(v.room) && isStr(v.key) && isStr(v.name)
        ? { kind: 'typing', node: v.node, room: v.room, key: v.key, name: v.name }
        : undefined;
    case 'node': {
      const rooms = toNodeRooms(v.rooms);
      return rooms ? { kind: 'node', node: v.node, rooms } : undefined;
    }
    case 'bye':
      return { kind: 'bye', node: v.node };
    default:
      return undefined;
  }
}

function toNodeRooms(v: unknown): NodeRoom[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const rooms: NodeRoom[] = [];
  for (const r of v as unknown[]) {
    if (
      !isObj(r) ||
      !isStr(r.room) ||
      !Number.isSafeInteger(r.lastSeq) ||
      !Array.isArray(r.members)
    ) {
      return undefined;
    }
    const members: [string, string][] = [];
    for (const m of r.members as unknown[]) {
      if (!Array.isArray(m) || m.length !== 2 || !isStr(m[0]) || !isStr(m[1])) return undefined;
      members.push([m[0], m[1]]);
    }
    rooms.push({ room: r.room, lastSeq: r.lastSeq as number, members });
  }
  return rooms;
}
