// npm run test:unit: the test files listed in test/unit-tests.json, those that need no
// PostgreSQL, Redis, nginx or browser. test/unit-tests.test.ts keeps the list true to the files.
// Three at a time: each file is its own process on port 0 with its own data directory.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** @type {string[]} */
const files = JSON.parse(readFileSync(new URL('../test/unit-tests.json', import.meta.url), 'utf8'));
const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=3', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(run.status ?? 1);
