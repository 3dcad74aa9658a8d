// The cluster bus: Redis pub/sub on one channel, JSON-encoded events. Redis pub/sub is at most
// once, which is all the bus promises: a lost event shows up as a sequence gap or a resync, and
// the receiver reads the store. Two connections are needed because a subscribed connection can
// only (un)subscribe and ping; both are the caller's, who creates and ends them.

import type { Redis } from 'ioredis';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import {
  changeEntry,
  changeEvent,
  sentEntry,
  unknownEntry,
  wireMessage,
} from '../protocol/index.js';
import { compileKnownFields } from '../protocol/known-fields.js';
import { BUS_SCHEMAS } from './schema.js';
import type { Bus, BusEvent, WireBusEvent } from './types.js';

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

type Kind = keyof typeof BUS_SCHEMAS;

interface BusDecoder {
  check: TypeCheck<TSchema>;
  /** Unknown keys, at any depth, are dropped before the event reaches the node. */
  known: (event: WireBusEvent) => WireBusEvent;
}

// Compiled once per kind on first use.
const decoders = new Map<Kind, BusDecoder>();

function decoder(kind: Kind): BusDecoder {
  let d = decoders.get(kind);
  if (!d) {
    const schema: TSchema = BUS_SCHEMAS[kind];
    d = { check: TypeCompiler.Compile(schema), known: compileKnownFields<WireBusEvent>(schema) };
    decoders.set(kind, d);
  }
  return d;
}

/**
 * The payload of an event. A log entry goes as the payload its kind always had (a message as
 * `msg`), so nodes of the previous version and this one read each other.
 */
export function encodeEvent(event: BusEvent): string {
  if (event.kind !== 'entry') return JSON.stringify(event);
  const { entry } = event;
  switch (entry.kind) {
    case 'message': {
      // The sender's id goes beside the message, as it always has, not in it.
      const { fromId, ...message } = wireMessage(entry);
      return JSON.stringify({
        kind: 'msg',
        node: event.node,
        message,
        ...(fromId === undefined ? {} : { fromId }),
      });
    }
    case 'edit':
    case 'delete':
    case 'reaction': {
      const { type, ...fields } = changeEvent(entry, entry.room);
      return JSON.stringify({
        kind: type,
        node: event.node,
        ...fields,
        ...(entry.actorId === null ? {} : { fromId: entry.actorId }),
      });
    }
    default:
      return unknownEntry(entry);
  }
}

/**
 * The payload as it travels, with exactly its known fields, or undefined when it is not JSON or
 * not a well-formed payload.
 */
export function parseWireEvent(payload: string): WireBusEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || !Object.hasOwn(v, 'kind')) return undefined;
  const { kind } = v as { kind: unknown };
  if (typeof kind !== 'string' || !Object.hasOwn(BUS_SCHEMAS, kind)) return undefined;
  const d = decoder(kind as Kind);
  return d.check.Check(v) ? d.known(v as WireBusEvent) : undefined;
}

/** The event in a payload, or undefined when it is not JSON or not a well-formed event. */
export function parseEvent(payload: string): BusEvent | undefined {
  const wire = parseWireEvent(payload);
  if (!wire) return undefined;
  switch (wire.kind) {
    case 'msg':
      return {
        kind: 'entry',
        node: wire.node,
        entry: sentEntry(wire.message, wire.fromId ?? null),
      };
    case 'edit':
    case 'delete':
    case 'reaction': {
      const { kind, node, fromId, ...fields } = wire;
      const ev = { type: kind, ...fields } as Parameters<typeof changeEntry>[0];
      return { kind: 'entry', node, entry: changeEntry(ev, fromId ?? null) };
    }
    default:
      return wire;
  }
}
