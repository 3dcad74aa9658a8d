// The in-process bus of a single node: publish calls the subscribers on the next microtask, so
// publishing never re-enters the caller.

import type { Bus, BusEvent } from './types.js';

export function createLocalBus(): Bus {
  const handlers: ((e: BusEvent) => void)[] = [];
  return {
    shared: false,
    publish(event) {
      queueMicrotask(() => {
        for (const h of handlers) h(event);
      });
    },
    subscribe(handler) {
      handlers.push(handler);
    },
    onResync() {
      // An in-process bus is never cut off.
    },
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
