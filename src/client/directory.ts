// The sidebar's "Browse rooms" list, from a rooms result.

import { isDirect, type RoomInfo } from '../protocol/index.js';
import type { DirectoryItem } from './view.js';

export const NO_ROOMS = 'No rooms yet. Type a name below to start one.';

export function directoryItems(
  rooms: RoomInfo[],
  joined: (room: string) => boolean,
): DirectoryItem[] {
  // Read only the fields every version of the result has.
  return rooms
    .filter((x) => typeof x.room === 'string' && !isDirect(x.room))
    .map((x) => ({
      name: x.room,
      members: typeof x.members === 'number' ? x.members : 0,
      joined: joined(x.room),
    }));
}
