// A copy of a checked value with only the fields its schema names, at every depth. Unknown keys
// never pass on, an own `__proto__` key included (TypeBox's Value.Clean keeps that one, as it
// looks keys up with `in`).

import type { TSchema } from '@sinclair/typebox';

type Obj = Record<string, unknown>;

/** `value` must already have passed a check against `schema`. */
export function knownFields<T>(schema: TSchema, value: T): T {
  return copy(schema, value) as T;
}

function copy(schema: TSchema, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items: unknown = schema['items'];
    if (Array.isArray(items)) return value.map((v, i) => copy(items[i] as TSchema, v));
    return items ? value.map((v) => copy(items as TSchema, v)) : value;
  }
  if (typeof value !== 'object' || value === null) return value;
  const properties = schema['properties'] as Record<string, TSchema> | undefined;
  if (!properties) return value;
  const out: Obj = {};
  for (const k of Object.keys(properties)) {
    if (Object.hasOwn(value, k)) out[k] = copy(properties[k] as TSchema, (value as Obj)[k]);
  }
  return out;
}
