// Search across the rooms a person may read. The policy picks the rooms first and the store
// looks in those only, so a page of results (and whether there is another) never depends on a
// room the reader cannot read.

import { ChatError, foldKey, isDirect, normalizeRoom } from '../protocol/index.js';
import type { AddressLimits } from './address-limits.js';
import type { Guard, Reader } from './guard.js';
import { power } from './policy.js';
import { SEARCH_CANDIDATES, type CoreDeps } from './ports.js';
import { matchRanges, searchTerms } from './search-terms.js';
import { readStore } from './store-read.js';

const SEARCH_DEFAULT = 20;
const SEARCH_MAX = 50;
/** Server moderators and up see every room, private ones included (policy.ts). */
const STAFF = 4;

export interface SearchResult {
  /** The room as the reader calls it: `dev`, or `@peer` for a direct conversation. */
  room: string;
  seq: number;
  from: string;
  text: string;
  ts: number;
  me: boolean;
  /** [start, end) offsets in UTF-16 units of the text that matched, to highlight. */
  match: [number, number][];
}

export interface SearchPage {
  results: SearchResult[];
  more: boolean;
  /** The `before` that asks for the next page, when there is one. */
  next?: string;
}

export class Search {
  constructor(
    private readonly deps: CoreDeps,
    private readonly guard: Guard,
    private readonly addresses: AddressLimits,
  ) {}

  private read<T>(f: () => Promise<T>): Promise<T> {
    return readStore(this.deps, f);
  }

  /**
   * A page of messages holding every term of the query, best first, from the rooms the reader
   * may read (or from one of them). `before` is the `next` of the page before.
   */
  async search(
    reader: Reader,
    address: string,
    query: string,
    label?: string,
    before?: string,
    limit?: number,
  ): Promise<SearchPage> {
    const terms = searchTerms(query);
    if (terms.length === 0) throw new ChatError('QUERY_INVALID');
    if (this.deps.access.guests === 'off' && !reader.claimed) throw new ChatError('GUESTS_OFF');
    if (!this.addresses.searches.take(address, this.deps.clock.now())) {
      throw new ChatError('RATE_LIMITED', 'Too many searches; wait a little.');
    }
    const offset = before === undefined ? 0 : Number(before);
    if (!Number.isSafeInteger(offset) || offset < 0 || !/^\d{1,9}$/.test(before ?? '0')) {
      throw new ChatError('QUERY_INVALID', 'That page of results is not one this server gave.');
    }
    const n = Math.min(Math.max(limit ?? SEARCH_DEFAULT, 1), SEARCH_MAX);
    const labels =
      label === undefined ? await this.readable(reader) : await this.one(reader, label);
    if (offset >= SEARCH_CANDIDATES) return { results: [], more: false };
    const page = await this.read(() =>
      this.deps.log.search({ terms, rooms: [...labels.keys()], offset, limit: n }),
    );
    const results = page.hits.map((h) => ({
      room: labels.get(h.room) ?? h.room,
      seq: h.seq,
      from: h.from,
      text: h.text,
      ts: h.ts,
      me: h.me,
      match: matchRanges(h.text, terms),
    }));
    const more = page.more && offset + n < SEARCH_CANDIDATES;
    return more ? { results, more, next: String(offset + n) } : { results, more };
  }

  /** Every room the reader may read, by id, with the label the reader knows it by. */
  private async readable(reader: Reader): Promise<Map<string, string>> {
    const { log, dir } = this.deps;
    const staff = reader.claimed && power(reader, null) >= STAFF;
    const [stored, hidden, theirs] = await this.read(() =>
      Promise.all([
        log.rooms(),
        dir.privateRooms(),
        reader.claimed ? dir.privateRoomsOf(reader.userId) : Promise.resolve([]),
      ]),
    );
    const closed = new Set(hidden);
    for (const r of theirs) closed.delete(r);
    const candidates = stored.map((r) => r.room).filter((id) => staff || !closed.has(id));
    // Each room's own standing too: a ban, a room that guests may not read.
    const allowed = await Promise.all(candidates.map((id) => this.guard.mayRead(reader, id)));
    const labels = new Map<string, string>();
    candidates.forEach((id, i) => {
      if (allowed[i]) labels.set(id, id);
    });
    if (reader.claimed) {
      for (const d of await this.read(() => log.directRooms(reader.userId))) {
        if (d.peerKey !== null) labels.set(d.room, `@${d.peerKey}`);
      }
    }
    return labels;
  }

  /** The one room asked for, if the reader may read it: else as if it did not exist. */
  private async one(reader: Reader, label: string): Promise<Map<string, string>> {
    if (isDirect(label)) {
      const key = foldKey(label.slice(1));
      const direct = reader.claimed
        ? await this.read(() => this.deps.log.directRooms(reader.userId))
        : [];
      const d = direct.find((r) => r.peerKey === key);
      if (!d) throw new ChatError('NO_SUCH_ROOM');
      return new Map([[d.room, `@${key}`]]);
    }
    const room = normalizeRoom(label);
    if (!room) throw new ChatError('ROOM_INVALID');
    await this.guard.checkRead(reader, room.key);
    return new Map([[room.key, room.key]]);
  }
}
