// Buses: the in-process default and Redis for clusters.
export type { Bus, BusEvent } from './types.js';
export { createLocalBus } from './local.js';
export { openBus } from './open-bus.js';
export { createRedisBus } from './redis.js';
export type { RedisBusOptions } from './redis.js';
