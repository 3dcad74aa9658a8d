// The rooms the room list shows, kept in name order as they change, so that a page of the list
// costs a binary search and a slice, never a sort of every room ever stored.

interface Entry {
  /** When the room last had a message or a member. */
  at: number;
  /** It has messages in the store (else it is listed only while someone is in it). */
  stored: boolean;
}

export class RoomIndex {
  /** Room ids in code point order, the order the stores list them in. */
  private sorted: string[] = [];
  private readonly entries = new Map<string, Entry>();

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get size(): number {
    return this.sorted.length;
  }

  /** Records activity in a room, listing it if it was not. */
  touch(id: string, at: number, stored: boolean): void {
    const e = this.entries.get(id);
    if (e) {
      if (at > e.at) e.at = at;
      if (stored) e.stored = true;
      return;
    }
    this.entries.set(id, { at, stored });
    this.sorted.splice(this.position(id), 0, id);
  }

  isStored(id: string): boolean {
    return this.entries.get(id)?.stored ?? false;
  }

  remove(id: string): void {
    if (!this.entries.delete(id)) return;
    const i = this.position(id);
    if (this.sorted[i] === id) this.sorted.splice(i, 1);
  }

  /** At most `limit` ids after `after` (from the start when undefined), and how many follow. */
  page(
    after: string | undefined,
    limit: number,
    hidden?: (id: string) => boolean,
  ): { ids: string[]; remaining: number } {
    let start = 0;
    if (after !== undefined) {
      start = this.position(after);
      if (this.sorted[start] === after) start++;
    }
    if (!hidden) {
      const ids = this.sorted.slice(start, start + limit);
      return { ids, remaining: Math.max(0, this.sorted.length - start - ids.length) };
    }
    // Rooms the reader may not see are not counted either: the count would tell of them.
    const ids: string[] = [];
    let remaining = 0;
    for (let i = start; i < this.sorted.length; i++) {
      const id = this.sorted[i] as string;
      if (hidden(id)) continue;
      if (ids.length < limit) ids.push(id);
      else remaining++;
    }
    return { ids, remaining };
  }

  /** Unlists the rooms `keep` does not keep whose last activity is older than `before`. */
  expire(before: number, keep: (id: string) => boolean): void {
    const gone = this.sorted.filter((id) => {
      const e = this.entries.get(id) as Entry;
      return e.at < before && !keep(id);
    });
    if (gone.length === 0) return;
    for (const id of gone) this.entries.delete(id);
    this.sorted = this.sorted.filter((id) => this.entries.has(id));
  }

  /** The first index whose id is not less than `id`. */
  private position(id: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] as string) < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
