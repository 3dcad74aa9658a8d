// The page's checks of server events, generated at build time from the wire schemas: one
// function per event and per result, built of a few shared helpers, so the page ships no TypeBox
// and, under its Content-Security-Policy (`script-src 'self'`), compiles no code at run time.
// The page build (scripts/build.mjs) provides them as the module `parley:event-checks`;
// test/schema.test.ts checks that they accept exactly what the schemas accept.
//
// TypeBox's own compiler writes each check out in full (its repeated object, integer and array
// tests were over a kilobyte of the page, gzipped); here each distinct part is written once, and
// the error codes are looked up in the page's own table of them.

import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { Kind, OptionalKind, type TSchema } from '@sinclair/typebox';
import { ERRORS } from '../src/protocol/errors.js';
import { EVENT_SCHEMAS, RESULT_SCHEMAS } from '../src/protocol/schema.js';

export const EVENT_CHECKS_MODULE = 'parley:event-checks';

/** Where the generated module's imports resolve from: it stands among the page's modules. */
const RESOLVE_DIR = fileURLToPath(new URL('../src/client/', import.meta.url));

/** Keywords that only describe: no check depends on them. */
const ANNOTATIONS = ['$id', '$comment', 'title', 'description', 'examples', 'default'];

/** The keywords each kind of schema may use here; any other fails the build. */
const KEYWORDS: Record<string, string[]> = {
  Object: ['type', 'properties', 'required'],
  Array: ['type', 'items'],
  Tuple: ['type', 'items', 'additionalItems', 'minItems', 'maxItems'],
  Union: ['anyOf'],
  Literal: ['type', 'const'],
  String: ['type', 'minLength', 'maxLength'],
  Number: ['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  Integer: ['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  Boolean: ['type'],
};

/** What TypeBox's Value.Check asks of a bound, as a comparison with `v`. */
const BOUNDS: [keyword: string, op: string][] = [
  ['minimum', '>='],
  ['maximum', '<='],
  ['exclusiveMinimum', '>'],
  ['exclusiveMaximum', '<'],
];

/** The helpers every generated check shares. */
const PRELUDE = `import { ERRORS } from '../protocol/errors.js';
const o = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const s = (v) => typeof v === "string";
// for-of, as TypeBox does: a hole in an array is checked as undefined.
const a = (v, f) => { if (!Array.isArray(v)) return false; for (const x of v) if (!f(x)) return false; return true; };
const codes = new Set(Object.keys(ERRORS));`;

/** A union of exactly the error codes: checked against the page's own table of them. */
function isErrorCodes(options: TSchema[]): boolean {
  const codes = Object.keys(ERRORS);
  const literals = options.map((o) => (o[Kind] === 'Literal' ? o['const'] : undefined));
  return literals.length === codes.length && codes.every((c) => literals.includes(c));
}

/** Writes the checks of a set of schemas, each distinct function once. */
class Writer {
  private readonly defs: string[] = [];
  private readonly named = new Map<string, string>();

  /** A named function for `body` (an expression of `v`), one per distinct body. */
  private fn(body: string): string {
    let name = this.named.get(body);
    if (name === undefined) {
      name = `c${this.named.size}`;
      this.named.set(body, name);
      this.defs.push(`const ${name} = (v) => ${body};`);
    }
    return name;
  }

  private call(parts: string[], subject: string, join = ' && '): string {
    return `${this.fn(parts.join(join))}(${subject})`;
  }

  /** An expression that is true when `subject` (`v` or `v[...]`) is valid for `schema`. */
  expr(at: string, schema: TSchema, subject: string): string {
    const kind = String(schema[Kind]);
    const allowed = KEYWORDS[kind];
    if (!allowed) throw new Error(`event-checks: ${at} is a ${kind}, which the page cannot check`);
    for (const k of Object.keys(schema)) {
      if (!allowed.includes(k) && !ANNOTATIONS.includes(k))
        throw new Error(`event-checks: ${at} uses "${k}", which the page does not check`);
    }
    switch (kind) {
      case 'Literal':
        return `${subject} === ${JSON.stringify(schema['const'])}`;
      case 'Boolean':
        return `typeof ${subject} === "boolean"`;
      case 'String': {
        const parts = ['s(v)'];
        if (schema['minLength'] !== undefined) parts.push(`v.length >= ${schema['minLength']}`);
        if (schema['maxLength'] !== undefined) parts.push(`v.length <= ${schema['maxLength']}`);
        return parts.length === 1 ? `s(${subject})` : this.call(parts, subject);
      }
      case 'Number':
      case 'Integer': {
        const parts = [kind === 'Integer' ? 'Number.isInteger(v)' : 'Number.isFinite(v)'];
        for (const [k, op] of BOUNDS) {
          if (schema[k] !== undefined) parts.push(`v ${op} ${JSON.stringify(schema[k])}`);
        }
        return this.call(parts, subject);
      }
      case 'Union': {
        const options = schema['anyOf'] as TSchema[];
        if (isErrorCodes(options)) return `codes.has(${subject})`;
        const each = options.map((s, i) => `(${this.expr(`${at}|${i}`, s, 'v')})`);
        return this.call(each, subject, ' || ');
      }
      case 'Array': {
        const item = this.expr(`${at}[]`, schema['items'] as TSchema, 'v');
        return `a(${subject}, ${/^\w+\(v\)$/.test(item) ? item.slice(0, -3) : this.fn(item)})`;
      }
      case 'Tuple': {
        const items = (schema['items'] as TSchema[] | undefined) ?? [];
        const parts = ['Array.isArray(v)', `v.length === ${items.length}`];
        items.forEach((s, i) => parts.push(this.expr(`${at}[${i}]`, s, `v[${i}]`)));
        return this.call(parts, subject);
      }
      case 'Object': {
        const required = new Set((schema['required'] as string[] | undefined) ?? []);
        const parts = ['o(v)'];
        for (const [k, p] of Object.entries(schema['properties'] as Record<string, TSchema>)) {
          if (required.has(k) === OptionalKind in p)
            throw new Error(`event-checks: ${at}.${k} is optional in one place only`);
          const field = `v[${JSON.stringify(k)}]`;
          const check = this.expr(`${at}.${k}`, p, field);
          // As Value.Check without exact optional types: an optional field may be undefined.
          parts.push(required.has(k) ? check : `(${field} === undefined || ${check})`);
        }
        return this.call(parts, subject);
      }
      default:
        throw new Error(`event-checks: ${at}: no check for ${kind}`);
    }
  }

  /** A table of checks by key, with no prototype. */
  table(name: string, schemas: Record<string, TSchema>): string {
    const rows = Object.entries(schemas).map(
      ([key, schema]) =>
        `  ${JSON.stringify(key)}: ${this.expr(`${name}.${key}`, schema, 'v').slice(0, -3)},`,
    );
    // No prototype: a frame's `type` of "toString" must find no check.
    return `export const ${name} = Object.assign(Object.create(null), {\n${rows.join('\n')}\n});`;
  }

  get definitions(): string[] {
    return this.defs;
  }
}

/** The module's source: EVENT_CHECKS by `type`, RESULT_CHECKS by `of`. */
export function eventChecksSource(): string {
  const w = new Writer();
  const tables = [w.table('EVENT_CHECKS', EVENT_SCHEMAS), w.table('RESULT_CHECKS', RESULT_SCHEMAS)];
  return [
    '// Generated from src/protocol/schema.ts by scripts/event-checks.ts.',
    PRELUDE,
    ...w.definitions,
    ...tables,
    '',
  ].join('\n');
}

/** Provides `parley:event-checks` to an esbuild build. */
export function eventChecksPlugin(): Plugin {
  return {
    name: 'event-checks',
    setup(b) {
      b.onResolve({ filter: /^parley:event-checks$/ }, (args) => ({
        path: args.path,
        namespace: 'event-checks',
      }));
      b.onLoad({ filter: /.*/, namespace: 'event-checks' }, () => ({
        contents: eventChecksSource(),
        loader: 'js',
        resolveDir: RESOLVE_DIR,
      }));
    },
  };
}

/**
 * Marks the protocol's modules free of side effects (the layer is pure), so the page drops the
 * ones it does not use: the schemas, and the server's codec built on them.
 */
export function pureProtocolPlugin(): Plugin {
  return {
    name: 'pure-protocol',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, async (args) => {
        if (args.pluginData === PURE) return undefined;
        const r = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: PURE,
        });
        if (r.errors.length > 0) return { errors: r.errors };
        return /[\\/]src[\\/]protocol[\\/][^\\/]+\.ts$/.test(r.path)
          ? { ...r, sideEffects: false }
          : r;
      });
    },
  };
}

/** Marks the plugin's own resolve call, so it does not come back to itself. */
const PURE = Symbol('pure-protocol');
