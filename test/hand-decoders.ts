// The hand-written decoders that the wire schemas (src/protocol/schema.ts, src/bus/schema.ts)
// replaced, kept as they were: test/schema.test.ts checks the schema decoders against them on
// random frames, and bench/decode.ts times both.

import type {
  ChatMessage,
  ClientRequest,
  ErrorCode,
  RequestType,
  ServerEvent,
} from '../src/protocol/index.js';
import type { WireBusEvent as BusEvent } from '../src/bus/types.js';
import type { NodeRoom } from '../src/core/ports.js';

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

// The requests that had hand-written decoders; later ones were only ever decoded by the schemas.
const DECODERS: Partial<
  Record<RequestType, (o: Obj, id: string | undefined) => ClientRequest | null>
> = {
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
    const replyTo = has(o, 'replyTo') ? o['replyTo'] : undefined;
    if (room === undefined || cid === undefined || text === undefined || typeof me !== 'boolean')
      return null;
    if (replyTo !== undefined && !nonNegInt(replyTo)) return null;
    return { type: 'send', id, room, cid, text, me, replyTo };
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
    const after = str(o, 'after');
    if (room === undefined || (has(o, 'after') && (after === undefined || after.length > ID_MAX)))
      return null;
    return { type: 'who', id, room, after };
  },
  typing(o, id) {
    const room = str(o, 'room');
    return room === undefined ? null : { type: 'typing', id, room };
  },
  ping(_o, id) {
    return { type: 'ping', id };
  },
};

export function handDecodeRequest(frame: string): Decoded {
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
  const decode = DECODERS[type as RequestType];
  if (!decode) return { ok: false, code: 'UNKNOWN_TYPE', id };
  const request = decode(o, id);
  return request ? { ok: true, request } : { ok: false, code: 'BAD_REQUEST', id };
}

/**
 * The `id` of a request frame that is refused unread (over the rate limit), so the error can
 * echo it; undefined when the frame has none that a request could carry.
 */
export function handRequestId(frame: string): string | undefined {
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

/** Parses a server frame in the browser; the server is trusted to send well-formed events. */
export function handDecodeEvent(frame: string): ServerEvent | null {
  try {
    const v: unknown = JSON.parse(frame);
    return typeof v === 'object' && v !== null && typeof (v as Obj)['type'] === 'string'
      ? (v as ServerEvent)
      : null;
  } catch {
    return null;
  }
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** The message with exactly its known fields, or undefined. */
function toMessage(v: unknown): ChatMessage | undefined {
  if (!(
    isObj(v) &&
    isStr(v.room) &&
    Number.isSafeInteger(v.seq) &&
    isStr(v.from) &&
    isStr(v.text) &&
    typeof v.ts === 'number' &&
    Number.isFinite(v.ts) &&
    isStr(v.cid) &&
    typeof v.me === 'boolean'
  ))
    return undefined;
  return {
    room: v.room,
    seq: v.seq as number,
    from: v.from,
    text: v.text,
    ts: v.ts,
    cid: v.cid,
    me: v.me,
  };
}

/** The event in a payload, or undefined when it is not JSON or not a well-formed event. */
export function handParseEvent(payload: string): BusEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!isObj(v) || !isStr(v.node)) return undefined;
  switch (v.kind) {
    case 'msg': {
      const message = toMessage(v.message);
      return message ? { kind: 'msg', node: v.node, message } : undefined;
    }
    case 'presence':
      return isStr(v.room) &&
        isStr(v.key) &&
        isStr(v.name) &&
        (v.event === 'join' || v.event === 'leave')
        ? { kind: 'presence', node: v.node, room: v.room, key: v.key, name: v.name, event: v.event }
        : undefined;
    case 'typing':
      return isStr(v.room) && isStr(v.key) && isStr(v.name)
        ? { kind: 'typing', node: v.node, room: v.room, key: v.key, name: v.name }
        : undefined;
    case 'node': {
      const rooms = toNodeRooms(v.rooms);
      return rooms ? { kind: 'node', node: v.node, rooms } : undefined;
    }
    case 'bye':
      return { kind: 'bye', node: v.node };
    default:
      return undefined;
  }
}

function toNodeRooms(v: unknown): NodeRoom[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const rooms: NodeRoom[] = [];
  for (const r of v as unknown[]) {
    if (
      !isObj(r) ||
      !isStr(r.room) ||
      !Number.isSafeInteger(r.lastSeq) ||
      (r.members !== undefined && !Array.isArray(r.members))
    ) {
      return undefined;
    }
    if (r.members === undefined) {
      rooms.push({ room: r.room, lastSeq: r.lastSeq as number });
      continue;
    }
    const members: [string, string][] = [];
    for (const m of r.members as unknown[]) {
      if (!Array.isArray(m) || m.length !== 2 || !isStr(m[0]) || !isStr(m[1])) return undefined;
      members.push([m[0], m[1]]);
    }
    rooms.push({ room: r.room, lastSeq: r.lastSeq as number, members });
  }
  return rooms;
}
