// Names: which hello the handshake sends at each step, and what the name prompt accepts.

import { ERRORS, normalizeName, type HelloRequest } from '../protocol/index.js';
import { sameName } from './room-state.js';
import { GUEST_PREFIX, hasChosenName, randomId, type Identity } from './storage.js';

/** A name the person chose (guest names are handed out by the server). */
export function isChosen(name: string): boolean {
  return !!name && !name.startsWith(GUEST_PREFIX);
}

/**
 * The handshake's hello at `step`: 0 claims the stored name, 1 the token alone, 2 a fresh token
 * (the identity to keep changes then).
 */
export function handshakeHello(
  step: number,
  identity: Identity,
): { identity: Identity; req: HelloRequest } {
  const id = step === 2 ? { token: randomId() } : identity;
  const { name, token } = id;
  // Guest names are handed out per token and cannot be claimed; ask again for a chosen one.
  const claim = step === 0 && hasChosenName(id) ? name : undefined;
  return {
    identity: id,
    req: claim ? { type: 'hello', name: claim, token } : { type: 'hello', token },
  };
}

/** What the name prompt makes of its text: an error to show, no change, or the name to take. */
export type PromptName = { error: string } | { same: true } | { take: string };

export function promptName(raw: string, myName: string): PromptName {
  const n = normalizeName(raw);
  if (!n) return { error: ERRORS.NAME_INVALID.message };
  if (n.key.startsWith(GUEST_PREFIX)) {
    return { error: 'Names starting with guest- are given by the server; pick another.' };
  }
  if (sameName(n.display, myName) && n.display === myName) return { same: true };
  return { take: n.display };
}
