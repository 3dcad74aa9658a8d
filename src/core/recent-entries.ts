// The newest entries of recently read rooms, shared by every reader that reads up to the same
// entry. After a restart everyone rejoins at once: the catch-up and the unread count of a room
// of thousands would otherwise read the same entries from the store once per member.

import type { LogEntry } from '../protocol/index.js';
import type { CoreDeps } from './ports.js';

/** Entries a window holds: the unread count's scan, and at least the default history bound. */
export const WINDOW_ENTRIES = 500;
/**
 * Entries kept over all windows (the least recently read rooms go first): a few tens of
 * megabytes, enough for the windows of thousands of quiet rooms coming back in any order.
 */
const ENTRIES_KEPT = 50_000;

export class RecentEntries {
  /**
   * Every change to a room (an edit or a removal too) is a new entry, so a window that ends at
   * the room's newest entry holds its current state, and a read up to a later entry reads anew.
   */
  private readonly windows = new Map<
    string,
    { upTo: number; entries: Promise<LogEntry[]>; size: number }
  >();
  /** Entries held by the windows read so far. */
  private held = 0;

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
    this.drop(room);
    const w = { upTo, entries, size: 0 };
    this.windows.set(room, w);
    entries.then(
      (list) => {
        if (this.windows.get(room) !== w) return;
        w.size = list.length;
        this.held += w.size;
        this.trim();
      },
      // A failed read is not kept: the next reader asks the store again.
      () => {
        if (this.windows.get(room) === w) this.windows.delete(room);
      },
    );
    return entries;
  }

  private drop(room: string): void {
    const w = this.windows.get(room);
    if (!w) return;
    this.held -= w.size;
    this.windows.delete(room);
  }

  private trim(): void {
    for (const room of this.windows.keys()) {
      if (this.held <= ENTRIES_KEPT) return;
      this.drop(room);
    }
  }
}
