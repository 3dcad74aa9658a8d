import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS } from '../src/protocol/index.js';
import { SETTINGS } from '../src/server/config.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('README lists every error code with its close code', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\``));
    assert.ok(row, `README has no row for ${code}`);
    const close = 'close' in spec ? String(spec.close) : '';
    assert.equal(row.split('|')[2]?.trim(), close, `close code of ${code}`);
  }
});

test('README lists every setting with its flag and variable', () => {
  for (const s of SETTINGS) {
    assert.ok(readme.includes(`\`--${s.flag}\``), s.flag);
    assert.ok(readme.includes(`\`${s.env}\``), s.env);
  }
});

test('README starts with the two commands a new user needs', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  assert.match(firstBlock, /^npm ci && npm start/m);
  assert.match(firstBlock, /^npm test/m);
});
