// Picks the bus from a URL, as given by `--bus`: none or `local` for one node, or
// redis://[:password@]host:6379[/db][?channel=name] (rediss:// for TLS) for a cluster.
// The bus owns the connections it opens here: close() ends them.

import type { Redis } from 'ioredis';
import { createLocalBus } from './local.js';
import { createRedisBus } from './redis.js';
import type { Bus } from './types.js';
import { redactUrl, schemeOf } from '../shared/url.js';

export async function openBus(url: string | undefined): Promise<Bus> {
  if (url === undefined || url === '' || url === 'local') return createLocalBus();
  const scheme = schemeOf(url);
  if (scheme === 'redis' || scheme === 'rediss') return openRedisUrl(url);
  throw new Error(
    `unknown bus URL ${JSON.stringify(redactUrl(url))}: use local (the default, one node) ` +
      'or redis://host:6379',
  );
}

async function openRedisUrl(url: string): Promise<Bus> {
  // Loaded only for a cluster: on one node it would be a tenth of the start-up.
  const { Redis } = await import('ioredis');
  // `channel` is ours, not ioredis's: take it out before ioredis reads the URL.
  const parsed = new URL(url);
  const channel = parsed.searchParams.get('channel') ?? undefined;
  parsed.searchParams.delete('channel');
  const target = parsed.toString();

  // A command waits for at most one reconnection, then fails, instead of piling up. The short
  // disconnectTimeout bounds how long a socket that never closes cleanly keeps the process up
  // after close() (ioredis waits 2 s by default, even for a socket that never connected).
  const common = { maxRetriesPerRequest: 1, disconnectTimeout: 250 };
  const pub = new Redis(target, { ...common, enableOfflineQueue: false });
  // The subscriber keeps its offline queue so the first SUBSCRIBE may be sent before it connects.
  // The bus subscribes again itself at every reconnection and waits for the reply; ioredis's own
  // resubscription leaves its promise unhandled, which a connection cut again at once rejects.
  const sub = new Redis(target, { ...common, autoResubscribe: false });
  // Connection errors are reported as failed pings and resyncs; without a listener ioredis
  // prints every reconnection failure.
  pub.on('error', () => {});
  sub.on('error', () => {});

  const bus = createRedisBus(pub, sub, channel === undefined ? {} : { channel });
  return {
    ...bus,
    async close() {
      await bus.close();
      await Promise.all([shutdown(pub), shutdown(sub)]);
    },
  };
}

/** QUIT when connected (bounded wait), else drop the socket and stop reconnecting. */
async function shutdown(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const quitting = client.quit();
  // When the timeout wins, the disconnect below makes QUIT fail later: nobody waits for it then.
  quitting.catch(() => {});
  try {
    await Promise.race([
      quitting,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('QUIT timed out')), 1000);
      }),
    ]);
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
