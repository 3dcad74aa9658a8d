// The page's copy of the error registry: every code, but the words only of those its code can
// reach, and no HTTP statuses. The page names a few codes (`ERRORS.NAME_INVALID`) and looks up
// the reason of a close, always a closing code; the rest of the words are the server's.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'esbuild';
import { ERRORS, type ErrorSpec } from '../src/protocol/errors.js';

const TABLE =
  /^export const ERRORS = \{$[\s\S]*?^\} as const satisfies Record<string, ErrorSpec>;$/m;

/** Where the page may look a code up by value: the reason of a close, a closing code. */
const LOOKS_UP_CLOSES = 'notices.ts';

/** The codes named in the page's sources as `ERRORS.CODE`. */
function namedByPage(clientDir: string): Set<string> {
  const named = new Set<string>();
  for (const f of readdirSync(clientDir, { recursive: true, encoding: 'utf8' })) {
    if (!f.endsWith('.ts')) continue;
    const source = readFileSync(join(clientDir, f), 'utf8');
    if (f !== LOOKS_UP_CLOSES && /\bERRORS\[/.test(source))
      throw new Error(
        `src/client/${f} looks a code up in ERRORS by value: the page's registry keeps only the codes it names and the closing ones`,
      );
    for (const m of source.matchAll(/\bERRORS\.([A-Z_]+)/g)) if (m[1]) named.add(m[1]);
  }
  return named;
}

export function pageRegistry(root: string): Record<string, { message?: string; close?: number }> {
  const named = namedByPage(join(root, 'src', 'client'));
  const kept: Record<string, { message?: string; close?: number }> = {};
  for (const code of named)
    if (!Object.hasOwn(ERRORS, code))
      throw new Error(`the page names ERRORS.${code}, which is not in the registry`);
  for (const [code, spec] of Object.entries(ERRORS) as [string, ErrorSpec][]) {
    // Every code stays, as the page's checks of error events take the codes from here.
    if (spec.close !== undefined) kept[code] = { message: spec.message, close: spec.close };
    else kept[code] = named.has(code) ? { message: spec.message } : {};
  }
  return kept;
}

export function pageErrorsPlugin(root: string): Plugin {
  return {
    name: 'page-errors',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]protocol[\\/]errors\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!TABLE.test(source)) throw new Error('page-errors: the ERRORS table was not found');
        const table = `export const ERRORS = ${JSON.stringify(pageRegistry(root))};`;
        return { contents: source.replace(TABLE, table), loader: 'ts' };
      });
    },
  };
}
