// The page's checks of server events, generated at build time from the wire schemas: one
// straight-line function per event and per result, so the page ships no TypeBox and, under its
// Content-Security-Policy (`script-src 'self'`), compiles no code at run time. The page build
// (scripts/build.mjs) provides them as the module `parley:event-checks`; test/schema.test.ts
// checks that they accept exactly what the schemas accept.

import type { Plugin } from 'esbuild';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { EVENT_SCHEMAS, RESULT_SCHEMAS } from '../src/protocol/schema.js';

export const EVENT_CHECKS_MODULE = 'parley:event-checks';

/**
 * One check as a JavaScript expression. The generated code's registries (custom kinds, formats,
 * hashing for uniqueItems) are not in the page: a schema that would need them fails the build.
 */
function checkExpression(name: string, schema: TSchema): string {
  const code = TypeCompiler.Code(schema, { language: 'javascript' });
  if (/\b(kind|format|hash)\(/.test(code))
    throw new Error(`event-checks: ${name} needs a TypeBox registry the page does not ship`);
  return `(function () {\n${code}\n})()`;
}

function table(name: string, schemas: Record<string, TSchema>): string {
  const rows = Object.entries(schemas).map(
    ([key, schema]) => `  ${JSON.stringify(key)}: ${checkExpression(`${name}.${key}`, schema)},`,
  );
  // No prototype: a frame's `type` of "toString" must find no check.
  return `export const ${name} = Object.assign(Object.create(null), {\n${rows.join('\n')}\n});`;
}

/** The module's source: EVENT_CHECKS by `type`, RESULT_CHECKS by `of`. */
export function eventChecksSource(): string {
  return [
    '// Generated from src/protocol/schema.ts by scripts/event-checks.ts.',
    table('EVENT_CHECKS', EVENT_SCHEMAS),
    table('RESULT_CHECKS', RESULT_SCHEMAS),
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
