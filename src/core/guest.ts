// Guests: the name the server gives, and the id that goes with it.

import { nameSkeleton } from '../protocol/skeleton.js';

export const GUEST_PREFIX = 'guest-';
export const GUEST_SKELETON = nameSkeleton(GUEST_PREFIX);

/**
 * A guest's user id, from the same suffix as its name (the token's keyed hash, or a random one
 * before hello), so that a reconnecting guest is the same person without anything stored.
 */
export function guestId(suffix: string): string {
  return `g_${suffix}`;
}
