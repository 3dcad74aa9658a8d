// test/unit-tests.json lists the test files `npm run test:unit` runs: those that start no
// browser and reach no PostgreSQL, Redis or nginx. This keeps the list true to what each file
// imports, so a new test cannot land in the wrong run unnoticed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const listed = JSON.parse(
  readFileSync(new URL('unit-tests.json', import.meta.url), 'utf8'),
) as string[];
const testFiles = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/${f}`)
  .sort();

/** Modules whose import means a browser or a service: the helpers and the clients themselves. */
const NEEDS_MORE = [
  './browser-helpers.js',
  './services.js',
  './nginx.js',
  'playwright-core',
  'pg',
  'ioredis',
];
/** cluster-harness.js also starts processes that need none; these of its exports need one. */
const HARNESS_NEEDS_MORE = ['OwnRedis', 'freshSchema'];

/** What in a test file's source says it needs a browser or a service, if anything. */
function needsOf(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/^import\s+(type\s+)?([^'"]*?)\s*from\s*'([^']+)'/gm)) {
    const [, typeOnly, names = '', from = ''] = m;
    const specifiers = names
      .replace(/[{}]/g, '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    // Types are erased: importing one starts nothing.
    if (typeOnly || specifiers.every((n) => n.startsWith('type '))) continue;
    if (NEEDS_MORE.includes(from)) found.push(from);
    if (from === './cluster-harness.js')
      for (const n of HARNESS_NEEDS_MORE)
        if (specifiers.some((s) => s.split(/\s+/)[0] === n)) found.push(n);
  }
  return found;
}

test('the unit list names test files that exist, once each, in order', () => {
  for (const f of listed) assert.ok(testFiles.includes(f), `${f} is listed but not there`);
  assert.deepEqual(listed, [...new Set(listed)].sort());
});

test('every listed test needs no browser or service, and every other test needs one', () => {
  const misfiled: string[] = [];
  for (const f of testFiles) {
    const needs = needsOf(readFileSync(`${root}/${f}`, 'utf8'));
    if (listed.includes(f) && needs.length > 0)
      misfiled.push(`${f} imports ${needs.join(', ')}: take it out of test/unit-tests.json`);
    if (!listed.includes(f) && needs.length === 0)
      misfiled.push(`${f} needs no browser or service: add it to test/unit-tests.json`);
  }
  assert.deepEqual(misfiled, []);
});

test('an import of a service or browser helper counts, a type-only import does not', () => {
  assert.deepEqual(needsOf("import { requirePostgres } from './services.js';"), ['./services.js']);
  assert.deepEqual(needsOf("import { chromium } from 'playwright-core';"), ['playwright-core']);
  assert.deepEqual(needsOf("import { OwnRedis, freshSchema } from './cluster-harness.js';"), [
    'OwnRedis',
    'freshSchema',
  ]);
  assert.deepEqual(needsOf("import { spawnNode } from './cluster-harness.js';"), []);
  assert.deepEqual(needsOf("import type pg from 'pg';"), []);
  assert.deepEqual(needsOf("import { type Page } from 'playwright-core';"), []);
  assert.deepEqual(needsOf("import {\n  POSTGRES_URL,\n  uniqueSuffix,\n} from './services.js';"), [
    './services.js',
  ]);
  assert.deepEqual(needsOf("import { startTestServer } from './helpers.js';"), []);
});
