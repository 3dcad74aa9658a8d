// The JSON codec: validates a client frame into a typed request, and encodes server events.
// Requests are rebuilt field by field from the parsed value, so unknown keys (`__proto__`
// included) are dropped and never reach the core.

import type { ErrorCode } from './errors.js';
import type { ClientRequest, RequestType, ServerEvent } from './types.js';

export type Decoded =
  { ok: true; request: ClientRequest } | { ok: false; code: ErrorCode; id?: string };

type Obj = Record<string, unknown>;

const ID_MAX = 64;

function str(o: Obj, k: string): string | undefined {
  const v = Object.hasOwn(o, k) ? o[k] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function has(o: Obj, k: string): boolean {
  return Object.hasOwn(o, k) && o[k] !== undefined && o[k] !== null;
}

function nonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

const DECODERS: Record<RequestType, (o: Obj, id: string | undefined) => ClientRequest | null> = {
  hello(o, id) {
    if (
      (has(o, 'name') && str(o, 'name') === undefined) ||
      (has(o, 'token') && str(o, 'token') === undefined)
    )
      return null;
    return { type: 'hello', id, name: str(o, 'name'), token: str(o, 'token') };
  },
  join(o, id) {
    const room = str(o, 'room');
    const since = has(o, 'since') ? o['since'] : undefined;
    if (room === undefined || (since !== undefined && !nonNegInt(since))) return null;
    return { type: 'join', id, room, since };
  },
  part(o, id) {
    const room = str(o, 'room');
    return room === undefined ? null : { type: 'part', id, room };
  },
  send(o, id) {
    const room = str(o, 'room');
    const cid = str(o, 'cid');
    const text = str(o, 'text');
    const me = has(o, 'me') ? o['me'] : false;
    if (room === undefined || cid === undefined || text === undefined || typeof me !== 'boolean')
      return null;
    return { type: 'send', id, room, cid, text, me };
  },
  history(o, id) {
    const room = str(o, 'room');
    const before = has(o, 'before') ? o['before'] : undefined;
    const limit = has(o, 'limit') ? o['limit'] : undefined;
    if (room === undefined) return null;
    if ((before !== undefined && !nonNegInt(before)) || (limit !== undefined && !nonNegInt(limit)))
      return null;
    return { type: 'history', id, room, before, limit };
  },
  rooms(o, id) {
    const after = has(o, 'after') ? str(o, 'after') : undefined;
    const limit = has(o, 'limit') ? o['limit'] : undefined;
    if (
      (has(o, 'after') && (after === undefined || after.length > ID_MAX)) ||
      (limit !== undefined && !nonNegInt(limit))
    )
      return null;
    return { type: 'rooms', id, after, limit };
  },
  who(o, id) {
    const room = str(o, 'room');
    return room === undefined ? null : { type: 'who', id, room };
  },
  typing(o, id) {
    const room = str(o, 'room');
    return room === undefined ? null : { type: 'typing', id, room };
  },
  ping(_o, id) {
    return { type: 'ping', id };
  },
};

export function decodeRequest(frame: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return { ok: false, code: 'BAD_JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'BAD_REQUEST' };
  }
  const o = value as Obj;
  const rawId = has(o, 'id') ? o['id'] : undefined;
  if (rawId !== undefined && (typeof rawId !== 'string' || rawId.length > ID_MAX)) {
    return { ok: false, code: 'BAD_REQUEST' };
  }
  const id = rawId;
  const type = str(o, 'type');
  if (type === undefined) return { ok: false, code: 'BAD_REQUEST', id };
  if (!Object.hasOwn(DECODERS, type)) return { ok: false, code: 'UNKNOWN_TYPE', id };
  const request = DECODERS[type as RequestType](o, id);
  return request ? { ok: true, request } : { ok: false, code: 'BAD_REQUEST', id };
}

/**
 * The `id` of a request frame that is refused unread (over the rate limit), so the error can
 * echo it; undefined when the frame has none that a request could carry.
 */
export function requestId(frame: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const id = str(value as Obj, 'id');
  return id !== undefined && id.length <= ID_MAX ? id : undefined;
}

export function encodeEvent(event: ServerEvent): string {
  return JSON.stringify(event);
}

/** Parses a server frame in the browser; the server is trusted to send well-formed events. */
export function decodeEvent(frame: string): ServerEvent | null {
  try {
    const v: unknown = JSON.parse(frame);
    return typeof v === 'object' && v !== null && typeof (v as Obj)['type'] === 'string'
      ? (v as ServerEvent)
      : null;
  } catch {
    return null;
  }
}
