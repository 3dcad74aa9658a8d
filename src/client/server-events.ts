// The page's reading of server frames, with the checks generated at build time from the wire
// schemas (scripts/event-checks.ts): the same answers as the server's decodeEvent, without
// TypeBox in the page.

import { EVENT_CHECKS, RESULT_CHECKS } from 'parley:event-checks';
import { byKind, parseObject, type ServerEvent } from '../protocol/index.js';

/** The event when the frame is one of the protocol's, well formed, else null. */
export function decodeServerEvent(frame: string): ServerEvent | null {
  const v = parseObject(frame);
  if (!v) return null;
  const check = byKind(v, EVENT_CHECKS, RESULT_CHECKS);
  return check?.(v) ? (v as unknown as ServerEvent) : null;
}
