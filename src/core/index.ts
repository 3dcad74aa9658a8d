// The chat itself, free of I/O: the server gives it a store, a bus, a clock and connections.
export { Chat } from './chat.js';
export { addressKey } from './address.js';
export { KeyedBuckets } from './keyed-buckets.js';
export { PRESENCE_NOTICES_PER_MINUTE } from './address-limits.js';
export type { Session } from './session.js';
export type { Reader } from './guard.js';
export type * from './directory.js';
export type {
  Bell,
  BellPort,
  Clock,
  CoreDeps,
  Frame,
  Limits,
  Log,
  Peer,
  Telemetry,
} from './ports.js';
export { DEFAULT_LIMITS } from './ports.js';
export { serveJson } from './json-requests.js';
export { serveText, startText } from './text-commands.js';
