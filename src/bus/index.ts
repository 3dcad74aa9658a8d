// Buses: the in-process default and Redis for clusters.
export type { Bus, BusEvent } from './types.js';
export { createLocalBus } from './local.js';
