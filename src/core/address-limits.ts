// What one client address may do, whatever number of connections it opens or reopens; and
// the instance-wide bound on new rooms, which no number of addresses gets around.

import { TEXT_MAX_BYTES } from '../protocol/index.js';
import { KeyedBuckets } from './keyed-buckets.js';
import type { Limits } from './ports.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BYTES_BURST_SHARE = 8;
/** Announced leaves a minute per address and room, past which its arrivals there are quiet. */
export const PRESENCE_NOTICES_PER_MINUTE = 4;
/** The one key of the instance-wide bucket. */
export const INSTANCE = '*';

export class AddressLimits {
  readonly requests: KeyedBuckets;
  readonly bytes: KeyedBuckets;
  readonly joins: KeyedBuckets;
  /** Keyed by address and room: the leaves announced, past which arrivals are quiet. */
  readonly presenceNotices: KeyedBuckets;
  readonly names: KeyedBuckets;
  readonly newRooms: KeyedBuckets;
  readonly instanceRooms: KeyedBuckets;
  /** Searches read many rows: a bucket of their own, besides the requests they count as. */
  readonly searches: KeyedBuckets;
  /** History pages, by the bytes they hold: each is read and encoded on the event loop. */
  readonly historyBytes: KeyedBuckets;

  constructor(l: Limits) {
    const keys = l.addressTableSize;
    this.requests = new KeyedBuckets(
      l.addressRateBurst,
      (l.addressRateBurst / l.addressRatePerSecond) * 1000,
      keys,
    );
    // An eighth of the hour's bytes at once: all of it in one burst would be megabytes fanned
    // out to every member within a second. The rate over the hour stays the same.
    const bytesBurst = Math.max(TEXT_MAX_BYTES, l.addressBytesPerHour / BYTES_BURST_SHARE);
    this.bytes = new KeyedBuckets(bytesBurst, (HOUR * bytesBurst) / l.addressBytesPerHour, keys);
    this.joins = new KeyedBuckets(l.addressJoinsPerMinute, MINUTE, keys);
    this.presenceNotices = new KeyedBuckets(PRESENCE_NOTICES_PER_MINUTE, MINUTE, keys);
    this.names = new KeyedBuckets(l.addressNamesPerHour, HOUR, keys);
    this.newRooms = new KeyedBuckets(l.addressRoomsPerHour, HOUR, keys);
    this.instanceRooms = new KeyedBuckets(l.roomsPerHour, HOUR, 1);
    this.searches = new KeyedBuckets(l.addressSearchesPerMinute, MINUTE, keys);
    // One full page at once (or a second's worth, if more): pages asked for together come back
    // to back, and 1 MiB of short messages read at once held the loop for 170 ms.
    const historyBurst = Math.max(l.historyMaxBytes, l.addressHistoryBytesPerMinute / 60);
    this.historyBytes = new KeyedBuckets(
      historyBurst,
      (MINUTE * historyBurst) / l.addressHistoryBytesPerMinute,
      keys,
    );
  }
}
