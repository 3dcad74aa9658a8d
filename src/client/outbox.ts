// Sends not yet acknowledged. They are shown greyed and resent with the same cid after a
// reconnect; the server's idempotency on cid makes a resend safe. The interface is what a
// persistent (IndexedDB) outbox will implement: load its entries before connecting, write
// through on add and remove.

export interface OutboxEntry {
  cid: string;
  room: string;
  text: string;
  me: boolean;
  createdAt: number;
}

export interface Outbox {
  add(entry: OutboxEntry): void;
  remove(cid: string): OutboxEntry | undefined;
  get(cid: string): OutboxEntry | undefined;
  /** Oldest first: the order they are resent in. */
  entries(): OutboxEntry[];
}

export class MemoryOutbox implements Outbox {
  private readonly byCid = new Map<string, OutboxEntry>();

  add(entry: OutboxEntry): void {
    this.byCid.set(entry.cid, entry);
  }

  remove(cid: string): OutboxEntry | undefined {
    const entry = this.byCid.get(cid);
    this.byCid.delete(cid);
    return entry;
  }

  get(cid: string): OutboxEntry | undefined {
    return this.byCid.get(cid);
  }

  entries(): OutboxEntry[] {
    return [...this.byCid.values()];
  }
}
