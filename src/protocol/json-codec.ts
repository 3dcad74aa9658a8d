// The JSON codec: validates a client frame into a typed request, and encodes server events.
// Every shape is the one in schema.ts. Requests are rebuilt field by field from the parsed value,
// so unknown keys (`__proto__` included) are dropped and never reach the core.

import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Check } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import type { ErrorCode } from './errors.js';
import { byKind, parseObject } from './event-kind.js';
import { compileRequestFields } from './known-fields.js';
import {
  EVENT_SCHEMAS,
  REQUEST_SCHEMAS,
  RESULT_SCHEMAS,
  RequestIdSchema,
  type FlatSchema,
} from './schema.js';
import type { ClientRequest, RequestType, ServerEvent } from './types.js';

export type Decoded =
  { ok: true; request: ClientRequest } | { ok: false; code: ErrorCode; id?: string };

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An own field's value; null reads as absent, as it always has for optional fields. */
function field(o: Obj, k: string): unknown {
  return Object.hasOwn(o, k) && o[k] !== null ? o[k] : undefined;
}

interface RequestDecoder {
  /** The request's own fields named by its schema: nothing else of the frame comes through. */
  fields: (o: Obj) => Obj;
  check: TypeCheck<FlatSchema>;
}

// Compiled on first use, on the server: the page never decodes requests, and its
// Content-Security-Policy forbids the code generation these need.
const decoders = new Map<RequestType, RequestDecoder>();

function decoder(type: RequestType): RequestDecoder {
  let d = decoders.get(type);
  if (!d) {
    const schema: FlatSchema = REQUEST_SCHEMAS[type];
    d = {
      fields: compileRequestFields(schema),
      check: TypeCompiler.Compile(schema),
    };
    decoders.set(type, d);
  }
  return d;
}

let idChecker: TypeCheck<typeof RequestIdSchema> | undefined;

function isRequestId(v: unknown): v is string {
  idChecker ??= TypeCompiler.Compile(RequestIdSchema);
  return idChecker.Check(v);
}

export function decodeRequest(frame: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return { ok: false, code: 'BAD_JSON' };
  }
  if (!isObj(value)) return { ok: false, code: 'BAD_REQUEST' };
  // The id first: an error may echo it only once it is one a request could carry.
  const rawId = field(value, 'id');
  if (rawId !== undefined && !isRequestId(rawId)) return { ok: false, code: 'BAD_REQUEST' };
  const id = rawId;
  const type = field(value, 'type');
  if (typeof type !== 'string') return { ok: false, code: 'BAD_REQUEST', id };
  if (!Object.hasOwn(REQUEST_SCHEMAS, type)) return { ok: false, code: 'UNKNOWN_TYPE', id };
  const d = decoder(type as RequestType);
  const request = d.fields(value);
  return d.check.Check(request)
    ? { ok: true, request: request as unknown as ClientRequest }
    : { ok: false, code: 'BAD_REQUEST', id };
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
  if (!isObj(value)) return undefined;
  const id = field(value, 'id');
  return isRequestId(id) ? id : undefined;
}

export function encodeEvent(event: ServerEvent): string {
  return JSON.stringify(event);
}

/**
 * Parses a server frame: the event when it is one of the protocol's, well formed, else null.
 * Checked without compiling. The page uses checks generated from the same schemas at build time
 * (scripts/event-checks.ts).
 */
export function decodeEvent(frame: string): ServerEvent | null {
  const v = parseObject(frame);
  if (!v) return null;
  const schema = byKind<TSchema>(v, EVENT_SCHEMAS, RESULT_SCHEMAS);
  return schema && Check(schema, v) ? (v as unknown as ServerEvent) : null;
}
