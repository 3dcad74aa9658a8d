// A SQLite store's searches on a thread of their own, with their own read connection. A search
// of a room of a million messages takes 5-20 ms of CPU; on the event loop every delivery waits
// behind it (in the mixed bench, one searcher raised the others' p50 five times). In WAL mode
// a reader sees every commit made before its query starts, so an acked message is found at
// once. The thread is niced a little, so that on a busy core deliveries come first.

import { Worker } from 'node:worker_threads';
import { ChatError } from '../protocol/index.js';
import type { SearchHit, SearchQuery } from '../core/ports.js';

type Result = { hits: SearchHit[]; more: boolean };

/** Searches waiting past this many are refused at once rather than queued for seconds. */
const MAX_WAITING = 32;
const SEARCH_NICE = 5;

// CommonJS run with `eval` loads the search module: from dist/ as JavaScript, and from src/
// under tsx after registering tsx in this thread (tsx does not reach into workers on Node 20).
const LOADER = `
const { workerData } = require('node:worker_threads');
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid !== process.pid) require('node:os').setPriority(tid, workerData.nice);
} catch {}
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  (await import(workerData.module)).serveSearches(workerData.file);
})().catch((err) => {
  console.error('search thread failed to start:', err);
  process.exit(1);
});
`;

interface Reply {
  id: number;
  result?: Result;
  error?: string;
}

export interface SearchThread {
  search(q: SearchQuery): Promise<Result>;
  close(): Promise<void>;
}

export function startSearchThread(file: string): SearchThread {
  const fromSource = import.meta.url.endsWith('.ts');
  const moduleUrl = new URL(`./search-serve.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  let worker: Worker | undefined;
  let nextId = 0;
  const waiting = new Map<number, (r: Reply) => void>();
  const start = (): Worker => {
    const w = new Worker(LOADER, {
      eval: true,
      workerData: {
        file,
        module: moduleUrl,
        nice: SEARCH_NICE,
        tsx: fromSource ? import.meta.resolve('tsx/esm/api') : undefined,
      },
    });
    w.on('message', (r: Reply) => {
      waiting.get(r.id)?.(r);
      waiting.delete(r.id);
      if (waiting.size === 0) w.unref();
    });
    // A dead thread fails what it held; the next search starts another.
    w.on('error', () => undefined);
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      for (const [id, done] of waiting) done({ id, error: 'the search thread exited' });
      waiting.clear();
    });
    return w;
  };
  return {
    search: async (q) => {
      if (waiting.size >= MAX_WAITING) {
        throw new ChatError('RATE_LIMITED', 'Too many searches at once; try again in a moment.');
      }
      worker ??= start();
      const w = worker;
      w.ref();
      const id = ++nextId;
      const reply = await new Promise<Reply>((resolve) => {
        waiting.set(id, resolve);
        w.postMessage({ id, query: q });
      });
      if (!reply.result) throw new Error(`search failed: ${reply.error ?? 'no result'}`);
      return reply.result;
    },
    close: async () => {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}
