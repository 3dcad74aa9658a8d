// Password hashing with argon2id at the OWASP password-storage parameters (19 MiB, 2 passes,
// 1 lane). The hashing runs on libuv's thread pool, never on the event loop, and one at a time:
// on a small machine a burst of logins then takes one core at most, and the event loop keeps
// the other. Hashes are PHC strings, which carry their parameters, so raising them later
// rehashes each password at its next login.

import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { ChatError } from '../protocol/index.js';
import type { Passwords } from '../core/ports.js';

/** Algorithm.Argon2id: the package declares its enum `const`, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;

export const ARGON2_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Logins waiting past this many are refused at once: a flood must not queue for minutes. */
const MAX_WAITING = 64;

export function argon2Passwords(params = ARGON2_PARAMS): Passwords {
  let tail: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  /** One at a time, in arrival order. */
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    if (waiting >= MAX_WAITING) return Promise.reject(new ChatError('LOGIN_THROTTLED'));
    waiting++;
    const run = tail.then(work, work);
    tail = run.then(
      () => (waiting--, undefined),
      () => (waiting--, undefined),
    );
    return run;
  };
  return {
    hash: (password) => serial(() => hash(password, { algorithm: ARGON2ID, ...params })),
    verify: (stored, password) => serial(() => verify(stored, password).catch(() => false)),
    needsRehash: (stored) => {
      const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
      if (!m) return true;
      return (
        Number(m[1]) < params.memoryCost ||
        Number(m[2]) < params.timeCost ||
        Number(m[3]) !== params.parallelism
      );
    },
  };
}
