// Copies of checked values with only the fields their schemas name, at every depth. Unknown keys
// never pass on, an own `__proto__` key included (TypeBox's Value.Clean keeps that one: it looks
// keys up with `in`). Each copier is generated code, as TypeBox's compiled checkers are: an
// object literal costs next to nothing, while copying key by key costs about 30 ns a field.
// Server only: the page's Content-Security-Policy forbids generated code, and the page needs no
// copies.

import type { TSchema } from '@sinclair/typebox';

type Obj = Record<string, unknown>;

/** The property names of an object schema, or undefined when it is not one. */
function propertiesOf(schema: TSchema): Record<string, TSchema> | undefined {
  const p: unknown = schema['properties'];
  return typeof p === 'object' && p !== null ? (p as Record<string, TSchema>) : undefined;
}

/** An expression that copies the value of `at` (an expression) as `schema` shapes it. */
function copyExpr(schema: TSchema, at: string, depth: number): string {
  const items: unknown = schema['items'];
  if (Array.isArray(items))
    return `[${items.map((s, i) => copyExpr(s as TSchema, `${at}[${i}]`, depth)).join(', ')}]`;
  if (typeof items === 'object' && items !== null) {
    const e = `e${depth}`;
    return `${at}.map((${e}) => (${copyExpr(items as TSchema, e, depth + 1)}))`;
  }
  const props = propertiesOf(schema);
  if (!props) return at;
  const required = new Set(schema['required'] as string[] | undefined);
  const fields = Object.entries(props).map(([k, s]) => {
    const key = JSON.stringify(k);
    const value = copyExpr(s, `${at}[${key}]`, depth);
    return required.has(k)
      ? `${key}: ${value}`
      : `...(Object.hasOwn(${at}, ${key}) ? { ${key}: ${value} } : {})`;
  });
  return `{ ${fields.join(', ')} }`;
}

/**
 * A function that copies a value already checked against `schema` (objects, arrays, tuples and
 * leaves; no unions of objects) with only the fields the schema names.
 */
export function compileKnownFields<T>(schema: TSchema): (value: T) => T {
  return new Function('v', `return ${copyExpr(schema, 'v', 0)};`) as (value: T) => T;
}

/**
 * A function that rebuilds a flat request object from a parsed frame: each field the schema
 * names, read only when it is the frame's own and not null, else undefined or its default, so
 * the copy has every field of its shape and nothing else.
 */
export function compileRequestFields(schema: TSchema): (o: Obj) => Obj {
  const props = propertiesOf(schema) ?? {};
  const fields = Object.entries(props).map(([k, s]) => {
    const key = JSON.stringify(k);
    const absent = s.default === undefined ? '' : ` ?? ${JSON.stringify(s.default)}`;
    return `${key}: (Object.hasOwn(o, ${key}) && o[${key}] !== null ? o[${key}] : undefined)${absent}`;
  });
  return new Function('o', `return { ${fields.join(', ')} };`) as (o: Obj) => Obj;
}
