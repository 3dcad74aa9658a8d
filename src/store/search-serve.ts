// The search thread's side: one read-only connection to the store's file and its searches.

import Database from 'better-sqlite3';
import { parentPort } from 'node:worker_threads';
import type { SearchQuery } from '../core/ports.js';
import { sqliteSearch } from './search-index.js';

export function serveSearches(file: string): void {
  const port = parentPort;
  if (!port) throw new Error('serveSearches runs on a worker thread');
  const db = new Database(file, { fileMustExist: true });
  db.pragma('query_only = ON');
  db.pragma('busy_timeout = 5000');
  const search = sqliteSearch(db);
  port.on('message', ({ id, query }: { id: number; query: SearchQuery }) => {
    try {
      port.postMessage({ id, result: search(query) });
    } catch (err) {
      port.postMessage({ id, error: String(err) });
    }
  });
}
