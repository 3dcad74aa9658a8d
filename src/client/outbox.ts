// Sends not yet acknowledged, kept in IndexedDB so a reload or a crash loses none of them. They
// are shown as pending and resent with the same cid after every reconnect; the server's
// idempotency on cid makes a resend safe. An entry goes when its ack (or its own copy) arrives,
// or when the user discards a send the server refused. Edits, removals and reactions are entries
// of the room's log with a cid as messages are, so they wait here too and go exactly once.
//
// Reads are synchronous from a memory copy loaded before the page connects; writes go through
// to IndexedDB in order (one object store, so transactions apply in the order they were made).

export interface OutboxEntry {
  cid: string;
  room: string;
  text: string;
  me: boolean;
  createdAt: number;
  /** Why the server refused it; set entries wait for Retry or Discard. */
  error?: string;
  /** The message this one answers. */
  replyTo?: number;
  /** Not a message: a change to message `seq` (`text` is the new text, or the emoji). */
  act?: { kind: ChangeKind; seq: number };
}

export type ChangeKind = 'edit' | 'delete' | 'react';
const CHANGE_KINDS: ReadonlySet<unknown> = new Set<ChangeKind>(['edit', 'delete', 'react']);

export interface Outbox {
  add(entry: OutboxEntry): void;
  /** Replaces the stored entry with the same cid. */
  update(entry: OutboxEntry): void;
  remove(cid: string): OutboxEntry | undefined;
  get(cid: string): OutboxEntry | undefined;
  /** Oldest first: the order they are resent in. */
  entries(): OutboxEntry[];
  /**
   * Picks up entries another tab of this browser stored (say it was closed before they went);
   * resolves true when there were new ones.
   */
  refresh?(): Promise<boolean>;
}

export class MemoryOutbox implements Outbox {
  protected readonly byCid = new Map<string, OutboxEntry>();

  add(entry: OutboxEntry): void {
    this.byCid.set(entry.cid, entry);
  }

  update(entry: OutboxEntry): void {
    if (this.byCid.has(entry.cid)) this.byCid.set(entry.cid, entry);
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

export const OUTBOX_DB = 'parley';
export const OUTBOX_STORE = 'outbox';
const OPEN_TIMEOUT_MS = 3000;

function isEntry(v: unknown): v is OutboxEntry {
  const e = v as Partial<OutboxEntry> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.cid === 'string' &&
    typeof e.room === 'string' &&
    typeof e.text === 'string' &&
    typeof e.me === 'boolean' &&
    typeof e.createdAt === 'number' &&
    (e.replyTo === undefined || typeof e.replyTo === 'number') &&
    (e.act === undefined ||
      (typeof e.act === 'object' &&
        e.act !== null &&
        CHANGE_KINDS.has(e.act.kind) &&
        typeof e.act.seq === 'number'))
  );
}

function openDb(): Promise<IDBDatabase | null> {
  return new Promise((resolve) => {
    // Private modes and blocked storage: carry on with memory only.
    const timer = setTimeout(() => resolve(null), OPEN_TIMEOUT_MS);
    const done = (db: IDBDatabase | null): void => {
      clearTimeout(timer);
      resolve(db);
    };
    let req: IDBOpenDBRequest;
    try {
      req = indexedDB.open(OUTBOX_DB, 1);
    } catch {
      done(null);
      return;
    }
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(OUTBOX_STORE)) {
        req.result.createObjectStore(OUTBOX_STORE, { keyPath: 'cid' });
      }
    };
    req.onsuccess = () => done(req.result);
    req.onerror = () => done(null);
    req.onblocked = () => done(null);
  });
}

function readAll(db: IDBDatabase): Promise<OutboxEntry[]> {
  return new Promise((resolve) => {
    try {
      const req = db.transaction(OUTBOX_STORE, 'readonly').objectStore(OUTBOX_STORE).getAll();
      req.onsuccess = () => resolve((req.result as unknown[]).filter(isEntry));
      req.onerror = () => resolve([]);
    } catch {
      resolve([]);
    }
  });
}

/** The persistent outbox; falls back to memory when IndexedDB cannot be opened. */
export class IdbOutbox extends MemoryOutbox {
  readonly #db: IDBDatabase | null;
  readonly #onWriteError: (e: unknown) => void;

  private constructor(db: IDBDatabase | null, onWriteError: (e: unknown) => void) {
    super();
    this.#db = db;
    this.#onWriteError = onWriteError;
  }

  static async open(onWriteError: (e: unknown) => void = () => {}): Promise<IdbOutbox> {
    const db = typeof indexedDB === 'undefined' ? null : await openDb();
    const box = new IdbOutbox(db, onWriteError);
    if (db) {
      const stored = await readAll(db);
      stored.sort((a, b) => a.createdAt - b.createdAt);
      for (const e of stored) box.byCid.set(e.cid, e);
    }
    return box;
  }

  async refresh(): Promise<boolean> {
    if (!this.#db) return false;
    let added = false;
    for (const e of await readAll(this.#db)) {
      if (!this.byCid.has(e.cid)) {
        this.byCid.set(e.cid, e);
        added = true;
      }
    }
    return added;
  }

  /** False when entries live in memory only (they will not survive a reload). */
  get persistent(): boolean {
    return this.#db !== null;
  }

  override add(entry: OutboxEntry): void {
    super.add(entry);
    this.#write((s) => s.put(entry));
  }

  override update(entry: OutboxEntry): void {
    if (!this.byCid.has(entry.cid)) return;
    super.update(entry);
    this.#write((s) => s.put(entry));
  }

  override remove(cid: string): OutboxEntry | undefined {
    const entry = super.remove(cid);
    if (entry) this.#write((s) => s.delete(cid));
    return entry;
  }

  #write(op: (store: IDBObjectStore) => void): void {
    if (!this.#db) return;
    try {
      // Strict durability: an entry the user saw as pending is on disk, not just in a cache.
      const tx = this.#db.transaction(OUTBOX_STORE, 'readwrite', { durability: 'strict' });
      op(tx.objectStore(OUTBOX_STORE));
      tx.onerror = () => this.#onWriteError(tx.error);
      tx.commit();
    } catch (e) {
      this.#onWriteError(e);
    }
  }
}
