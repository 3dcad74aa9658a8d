// The id of a user, made when the person's first name is reserved and kept for ever.

import { randomBytes } from 'node:crypto';

/** Random, so that it says nothing of the token or the name. */
export function newUserId(): string {
  return `u_${randomBytes(8).toString('hex')}`;
}
