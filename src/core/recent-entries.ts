// The newest entries of recently read rooms, shared by every reader that reads up to the same
// entry. After a restart everyone rejoins at once: the catch-up and the unread count of a room
// of thousands would otherwise read the same entries from the store once per member.

import type { LogEntry } from '../protocol/index.js';
import type { CoreDeps } from './ports.js';

/** Entries a window holds: the unread count's scan, and at least the default history bound. */
export const WINDOW_ENTRIES = 500;
/** Rooms whose window is kept at once (the least recently read go first). */
const WINDOWS_KEPT = 64;

export class RecentEntries {
  /**
   * Every change to a room (an edit or a removal too) is a new entry, so a window that ends at
   * the room's newest entry holds its current state, and a read up to a later entry reads anew.
   */
  private readonly windows = new Map<string, { upTo: number; entries: Promise<LogEntry[]> }>();

  constructor(private readonly deps: CoreDeps) {}

  /** The room's entries after `after` up to `upTo`, oldest first; at most WINDOW_ENTRIES. */
  async between(room: string, after: number, upTo: number): Promise<LogEntry[]> {
    const all = await this.window(room, upTo);
    const first = all.findIndex((e) => e.seq > after);
    return first < 0 ? [] : all.slice(first);
  }

  private window(room: string, upTo: number): Promise<LogEntry[]> {
    const kept = this.windows.get(room);
    if (kept?.upTo === upTo) {
      // Read again: most recently used last.
      this.windows.delete(room);
      this.windows.set(room, kept);
      return kept.entries;
    }
    const from = Math.max(0, upTo - WINDOW_ENTRIES);
    const entries = this.deps.log.after(room, from, upTo - from);
    this.windows.delete(room);
    this.windows.set(room, { upTo, entries });
    // A failed read is not kept: the next reader asks the store again.
    entries.catch(() => {
      if (this.windows.get(room)?.entries === entries) this.windows.delete(room);
    });
    if (this.windows.size > WINDOWS_KEPT) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    return entries;
  }
}
