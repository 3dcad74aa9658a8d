// What one client address may do, whatever number of connections it opens or reopens; and
// the instance-wide bound on new rooms, which no number of addresses gets around.

import { KeyedBuckets } from './keyed-buckets.js';
import type { Limits } from './ports.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The one key of the instance-wide bucket. */
export const INSTANCE = '*';

export class AddressLimits {
  readonly requests: KeyedBuckets;
  readonly bytes: KeyedBuckets;
  readonly joins: KeyedBuckets;
  readonly names: KeyedBuckets;
  readonly newRooms: KeyedBuckets;
  readonly instanceRooms: KeyedBuckets;

  constructor(l: Limits) {
    const keys = l.addressTableSize;
    this.requests = new KeyedBuckets(
      l.addressRateBurst,
      (l.addressRateBurst / l.addressRatePerSecond) * 1000,
      keys,
    );
    this.bytes = new KeyedBuckets(l.addressBytesPerHour, HOUR, keys);
    this.joins = new KeyedBuckets(l.addressJoinsPerMinute, MINUTE, keys);
    this.names = new KeyedBuckets(l.addressNamesPerHour, HOUR, keys);
    this.newRooms = new KeyedBuckets(l.addressRoomsPerHour, HOUR, keys);
    this.instanceRooms = new KeyedBuckets(l.roomsPerHour, HOUR, 1);
  }
}
