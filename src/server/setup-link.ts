// The links that let a person in without a password yet: the owner's setup, invites, resets.
// Each is a random code whose hash alone is stored; the code rides in the page address's
// fragment (after #), which browsers never send to a server or write into its logs.

import { createHash, randomBytes } from 'node:crypto';
import type { Directory, TicketKind } from '../core/directory.js';

const DAY = 24 * 60 * 60 * 1000;

export function ticketHash(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/** Makes a ticket and returns its link: `PAGE/#KIND=CODE`. */
export async function makeLink(
  dir: Directory,
  pageUrl: string,
  kind: TicketKind,
  opts: { uses?: number; days?: number; userId?: string; createdBy?: string } = {},
): Promise<{ link: string; code: string; expires: number }> {
  const code = randomBytes(24).toString('base64url');
  const now = Date.now();
  const expires = now + (opts.days ?? (kind === 'invite' ? 7 : 1)) * DAY;
  await dir.addTicket(ticketHash(code), {
    kind,
    userId: opts.userId ?? null,
    uses: opts.uses ?? 1,
    expires,
    createdBy: opts.createdBy ?? null,
    created: now,
  });
  return { link: `${pageUrl.replace(/\/+$/, '')}/#${kind}=${code}`, code, expires };
}

/** A fresh setup link while the instance has no owner; undefined once it has one. */
export async function ownerSetupLink(dir: Directory, pageUrl: string): Promise<string | undefined> {
  if (await dir.hasOwner()) return undefined;
  return (await makeLink(dir, pageUrl, 'setup')).link;
}
