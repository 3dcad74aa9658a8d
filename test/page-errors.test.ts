import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { closeNotice } from '../src/client/notices.js';
import { ERRORS, type ErrorSpec } from '../src/protocol/errors.js';
import { pageRegistry } from '../scripts/page-errors.js';
import { loadPageDecoder } from './page-decoder.js';

const closing = (Object.entries(ERRORS) as [string, ErrorSpec][]).filter(
  ([, spec]) => spec.close !== undefined,
);

test("the page's registry: every closing code and every code the page names, in the same words", async () => {
  const page = await loadPageDecoder();
  const kept = page.ERRORS as Record<string, { message?: string; close?: number }>;
  for (const [code, spec] of closing) {
    assert.deepEqual(kept[code], { message: spec.message, close: spec.close }, code);
  }
  // Named by the page's code (names.ts, commands.ts, message-acts.ts...).
  for (const code of ['NAME_INVALID', 'ROOM_INVALID', 'TEXT_INVALID', 'NOT_IN_ROOM'] as const)
    assert.deepEqual(kept[code], { message: ERRORS[code].message }, code);
  // Every code is known (the page checks an error event's code), but server-only words and
  // HTTP statuses stay out of the page.
  assert.deepEqual(Object.keys(kept).sort(), Object.keys(ERRORS).sort());
  assert.deepEqual(kept.BAD_JSON, {});
  assert.deepEqual(kept.RATE_LIMITED, {});
  for (const [code, spec] of Object.entries(kept)) assert.ok(!('status' in spec), code);
  const worded = Object.values(kept).filter((spec) => 'message' in spec);
  assert.ok(worded.length < Object.keys(ERRORS).length / 2, 'most codes have no words here');
});

test('the page words every close as it would with the whole registry', async () => {
  const page = await loadPageDecoder();
  assert.ok(closing.length > 5);
  for (const [code, spec] of closing) {
    assert.equal(page.closeNotice(spec.close ?? 0, code), closeNotice(spec.close ?? 0, code), code);
  }
  assert.equal(page.closeNotice(4000, 'SOMETHING_NEW'), closeNotice(4000, 'SOMETHING_NEW'));
});

test('the page build refuses code that looks a registry entry up by value outside the close notices', () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-page-errors-'));
  try {
    mkdirSync(join(root, 'src', 'client'), { recursive: true });
    writeFileSync(join(root, 'src', 'client', 'notices.ts'), 'ERRORS[reason];\n');
    writeFileSync(join(root, 'src', 'client', 'a.ts'), 'ERRORS.NAME_TAKEN;\n');
    assert.deepEqual(pageRegistry(root).NAME_TAKEN, { message: ERRORS.NAME_TAKEN.message });
    writeFileSync(join(root, 'src', 'client', 'b.ts'), 'const m = ERRORS[code].message;\n');
    assert.throws(() => pageRegistry(root), /b\.ts looks a code up in ERRORS by value/);
    writeFileSync(join(root, 'src', 'client', 'b.ts'), 'ERRORS.NO_SUCH_CODE;\n');
    assert.throws(() => pageRegistry(root), /ERRORS\.NO_SUCH_CODE, which is not in the registry/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
