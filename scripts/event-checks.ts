// The page's checks of server events, generated at build time from the wire schemas: one
// function per event and per result, built of a few shared combinators, so the page ships no TypeBox
// and, under its Content-Security-Policy (`script-src 'self'`), compiles no code at run time.
// The page build (scripts/build.mjs) provides them as the module `parley:event-checks`;
// test/schema.test.ts checks that they accept exactly what the schemas accept.
//
// TypeBox's own compiler writes each check out in full (its repeated object, integer and array
// tests were over a kilobyte of the page, gzipped); here a check is a value built of a few
// combinators, each distinct part is written once, and the error codes are looked up in the
// page's own table of them.

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

/**
 * The helpers every generated check is built of: each check is a value made of them once, when
 * the page loads, so a shape costs its field names and little else.
 */
// The .ts source by name: beside compiled tests a compiled errors.js sits next to it.
const PRELUDE = `import { ERRORS } from '../protocol/errors.ts';
const o = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const s = (v) => typeof v === "string";
const b = (v) => typeof v === "boolean";
const f = Number.isFinite;
const i = Number.isInteger;
const codes = new Set(Object.keys(ERRORS));
const e = (v) => codes.has(v);
const L = (...c) => (v) => c.includes(v);
const U = (...c) => (v) => c.some((g) => g(v));
// for-of, as TypeBox does: a hole in an array is checked as undefined.
const A = (g) => (v) => { if (!Array.isArray(v)) return false; for (const x of v) if (!g(x)) return false; return true; };
const T = (...c) => (v) => Array.isArray(v) && v.length === c.length && c.every((g, j) => g(v[j]));
// The required fields, then the optional ones, which may also be undefined (as Value.Check
// without exact optional types).
const O = (r, p = {}) => {
  const R = Object.entries(r), P = Object.entries(p);
  return (v) => o(v) && R.every(([k, g]) => g(v[k])) && P.every(([k, g]) => v[k] === undefined || g(v[k]));
};`;

/** A union of exactly the error codes: checked against the page's own table of them. */
function isErrorCodes(options: TSchema[]): boolean {
  const codes = Object.keys(ERRORS);
  const literals = options.map((o) => (o[Kind] === 'Literal' ? o['const'] : undefined));
  return literals.length === codes.length && codes.every((c) => literals.includes(c));
}

/** Marks a reference to a part in the text until the parts are written out. */
const REF = /\0(\d+)\0/g;

/** Writes the checks of a set of schemas, each distinct part once. */
class Writer {
  readonly #parts: string[] = [];
  readonly #byCode = new Map<string, number>();
  readonly #tables: string[] = [];

  /** A reference to the check `code`: one part per distinct code. */
  #part(code: string): string {
    let i = this.#byCode.get(code);
    if (i === undefined) {
      i = this.#parts.length;
      this.#parts.push(code);
      this.#byCode.set(code, i);
    }
    return `\0${i}\0`;
  }

  /** An expression whose value is the check of `schema`. */
  check(at: string, schema: TSchema): string {
    const kind = String(schema[Kind]);
    const allowed = KEYWORDS[kind];
    if (!allowed) throw new Error(`event-checks: ${at} is a ${kind}, which the page cannot check`);
    for (const k of Object.keys(schema)) {
      if (!allowed.includes(k) && !ANNOTATIONS.includes(k))
        throw new Error(`event-checks: ${at} uses "${k}", which the page does not check`);
    }
    switch (kind) {
      case 'Literal':
        return `L(${JSON.stringify(schema['const'])})`;
      case 'Boolean':
        return 'b';
      case 'String': {
        const parts = ['s(v)'];
        if (schema['minLength'] !== undefined) parts.push(`v.length >= ${schema['minLength']}`);
        if (schema['maxLength'] !== undefined) parts.push(`v.length <= ${schema['maxLength']}`);
        return parts.length === 1 ? 's' : this.#part(`(v) => ${parts.join(' && ')}`);
      }
      case 'Number':
      case 'Integer': {
        const test = kind === 'Integer' ? 'i' : 'f';
        const parts = [`${test}(v)`];
        for (const [k, op] of BOUNDS) {
          if (schema[k] !== undefined) parts.push(`v ${op} ${JSON.stringify(schema[k])}`);
        }
        return parts.length === 1 ? test : this.#part(`(v) => ${parts.join(' && ')}`);
      }
      case 'Union': {
        const options = schema['anyOf'] as TSchema[];
        if (isErrorCodes(options)) return 'e';
        if (options.every((o) => o[Kind] === 'Literal'))
          return this.#part(`L(${options.map((o) => JSON.stringify(o['const'])).join(', ')})`);
        return this.#part(`U(${options.map((s, i) => this.check(`${at}|${i}`, s)).join(', ')})`);
      }
      case 'Array':
        return this.#part(`A(${this.check(`${at}[]`, schema['items'] as TSchema)})`);
      case 'Tuple': {
        const items = (schema['items'] as TSchema[] | undefined) ?? [];
        return this.#part(`T(${items.map((s, i) => this.check(`${at}[${i}]`, s)).join(', ')})`);
      }
      case 'Object': {
        const required = new Set((schema['required'] as string[] | undefined) ?? []);
        const req: string[] = [];
        const opt: string[] = [];
        for (const [k, p] of Object.entries(schema['properties'] as Record<string, TSchema>)) {
          if (required.has(k) === OptionalKind in p)
            throw new Error(`event-checks: ${at}.${k} is optional in one place only`);
          // Quoted: these are wire names, never to be renamed by a minifier.
          (required.has(k) ? req : opt).push(
            `${JSON.stringify(k)}: ${this.check(`${at}.${k}`, p)}`,
          );
        }
        const args = [`{ ${req.join(', ')} }`];
        if (opt.length > 0) args.push(`{ ${opt.join(', ')} }`);
        return this.#part(`O(${args.join(', ')})`);
      }
      default:
        throw new Error(`event-checks: ${at}: no check for ${kind}`);
    }
  }

  /** A table of checks by key, with no prototype. */
  table(name: string, schemas: Record<string, TSchema>): void {
    const rows = Object.entries(schemas).map(
      ([key, schema]) => `  ${JSON.stringify(key)}: ${this.check(`${name}.${key}`, schema)},`,
    );
    // No prototype: a frame's `type` of "toString" must find no check.
    this.#tables.push(
      `export const ${name} = Object.assign(Object.create(null), {\n${rows.join('\n')}\n});`,
    );
  }

  /**
   * The parts and the tables as code: a part used in more than one place is a named constant
   * (written before its first use), a part used once is written where it is used.
   */
  code(): string[] {
    const uses = new Map<string, number>();
    for (const t of [...this.#parts, ...this.#tables])
      for (const [, i = ''] of t.matchAll(REF)) uses.set(i, (uses.get(i) ?? 0) + 1);
    const shared = (i: string): boolean => (uses.get(i) ?? 0) > 1;
    const resolve = (t: string): string =>
      t.replace(REF, (_, i: string) =>
        shared(i) ? `c${i}` : resolve(this.#parts[Number(i)] ?? ''),
      );
    const named = this.#parts.flatMap((p, i) =>
      shared(String(i)) ? [`const c${i} = ${resolve(p)};`] : [],
    );
    return [...named, ...this.#tables.map(resolve)];
  }
}

/** The module's source: EVENT_CHECKS by `type`, RESULT_CHECKS by `of`. */
export function eventChecksSource(): string {
  const w = new Writer();
  w.table('EVENT_CHECKS', EVENT_SCHEMAS);
  w.table('RESULT_CHECKS', RESULT_SCHEMAS);
  return [
    '// Generated from src/protocol/schema.ts by scripts/event-checks.ts.',
    PRELUDE,
    ...w.code(),
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
