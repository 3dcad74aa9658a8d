// Store reads made on a client's behalf: a failure becomes a refusal the client can retry.

import { ChatError } from '../protocol/index.js';
import type { CoreDeps } from './ports.js';

/** A store failure becomes a refusal the client can retry; the cause is logged. */
export async function readStore<T>(
  deps: Pick<CoreDeps, 'onError'>,
  f: () => Promise<T>,
): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ChatError) throw e;
    deps.onError(e, 'store');
    throw new ChatError('STORE_UNAVAILABLE', 'The history store is unavailable; try again.');
  }
}
