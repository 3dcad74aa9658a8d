// Password hashing with argon2id at the OWASP password-storage parameters (19 MiB, 2 passes,
// 1 lane). The hashing runs on a worker thread of its own, one hash at a time, niced to the
// lowest priority: at 50 logins a second it takes more than half a core, and on a busy core
// the event loop, which delivers everyone's messages, must win. Hashes are PHC strings, which
// carry their parameters, so raising them later rehashes each password at its next login.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ChatError } from '../protocol/index.js';
import type { Passwords } from '../core/ports.js';

export const ARGON2_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Logins waiting past this many are refused at once: a flood must not queue for minutes. */
const MAX_WAITING = 64;
const HASHER_NICE = 19;

// CommonJS source run with `eval`, so the same code runs from dist/ and from src/ under tsx
// (which does not reach into workers on Node 20). Argon2id is 2 in the package's enum.
const HASHER = `
const { parentPort, workerData } = require('node:worker_threads');
try {
  // Linux: setpriority takes a thread id, so this thread alone is niced.
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid !== process.pid) require('node:os').setPriority(tid, workerData.nice);
} catch {}
const argon2 = require(workerData.driver);
const options = { algorithm: 2, ...workerData.params };
parentPort.on('message', ({ id, op, password, stored }) => {
  try {
    const result =
      op === 'hash' ? argon2.hashSync(password, options) : argon2.verifySync(stored, password);
    parentPort.postMessage({ id, result });
  } catch (err) {
    parentPort.postMessage({ id, result: op === 'hash' ? undefined : false, error: String(err) });
  }
});
`;

interface Reply {
  id: number;
  result: string | boolean | undefined;
  error?: string;
}

export function argon2Passwords(
  params: { memoryCost: number; timeCost: number; parallelism: number } = ARGON2_PARAMS,
): Passwords & { close(): Promise<void> } {
  let worker: Worker | undefined;
  let nextId = 0;
  const waiting = new Map<number, (r: Reply) => void>();
  const start = (): Worker => {
    const w = new Worker(HASHER, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('@node-rs/argon2'),
        params,
        nice: HASHER_NICE,
      },
    });
    w.on('message', (r: Reply) => {
      waiting.get(r.id)?.(r);
      waiting.delete(r.id);
      if (waiting.size === 0) w.unref();
    });
    // A dead worker fails what it held; the next request starts another.
    w.on('error', () => undefined);
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      for (const [id, done] of waiting) done({ id, result: undefined, error: 'hasher exited' });
      waiting.clear();
    });
    return w;
  };
  const ask = (msg: {
    op: 'hash' | 'verify';
    password: string;
    stored?: string;
  }): Promise<Reply> => {
    if (waiting.size >= MAX_WAITING) return Promise.reject(new ChatError('LOGIN_THROTTLED'));
    worker ??= start();
    const w = worker;
    w.ref();
    const id = ++nextId;
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      w.postMessage({ id, ...msg });
    });
  };
  return {
    hash: async (password) => {
      const r = await ask({ op: 'hash', password });
      if (typeof r.result !== 'string') throw new Error(`password hashing failed: ${r.error}`);
      return r.result;
    },
    verify: async (stored, password) =>
      (await ask({ op: 'verify', password, stored })).result === true,
    needsRehash: (stored) => {
      const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
      if (!m) return true;
      return (
        Number(m[1]) < params.memoryCost ||
        Number(m[2]) < params.timeCost ||
        Number(m[3]) !== params.parallelism
      );
    },
    close: async () => {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}
