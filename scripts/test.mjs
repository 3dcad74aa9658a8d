// npm run test:all and npm run test:unit: the tests, compiled first.
//
// Each test file is its own process, and loading the code through tsx's loader thread cost
// about 0.6 s of CPU per process (and per server a test starts), more than many tests take.
// So the TypeScript of src/, test/ and scripts/ is compiled by esbuild (what tsx itself runs,
// file by file, so the code is the same) into .test-build/, a mirror of the repository: every
// other file there is a link to the real one, so paths taken from import.meta.url still find
// the README, the fixtures, dist/ and the .ts sources that some tests read.
//
//   --unit   only the files in test/unit-tests.json (no browser, PostgreSQL, Redis or nginx),
//            four at a time; without it, every test file, one at a time (they share services).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, '.test-build');
const COMPILED = new Set(['src', 'test', 'scripts']);
/** Not mirrored: the repository's history, and the mirror itself. */
const SKIPPED = new Set(['.git', '.test-build']);

const unit = process.argv.includes('--unit');

/** Links every file under `dir` (relative to root) into the mirror; returns its .ts files. */
function mirror(dir) {
  const sources = [];
  mkdirSync(join(out, dir), { recursive: true });
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources.push(...mirror(path));
    else {
      symlinkSync(join(root, path), join(out, path));
      if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) sources.push(path);
    }
  }
  return sources;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
mkdirSync(join(root, 'test-artifacts'), { recursive: true });
const sources = [];
for (const entry of readdirSync(root)) {
  if (SKIPPED.has(entry)) continue;
  if (COMPILED.has(entry)) sources.push(...mirror(entry));
  else symlinkSync(join(root, entry), join(out, entry));
}
buildSync({
  absWorkingDir: root,
  entryPoints: sources,
  outdir: out,
  outbase: '.',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Node 20 reads `with { type: 'json' }`; esbuild would otherwise drop it for this target.
  supported: { 'import-attributes': true },
  sourcemap: 'inline',
  logLevel: 'warning',
});

const files = unit
  ? JSON.parse(readFileSync(join(root, 'test', 'unit-tests.json'), 'utf8'))
  : readdirSync(join(root, 'test'))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `test/${f}`);
const run = spawnSync(
  process.execPath,
  [
    '--enable-source-maps',
    '--test',
    `--test-concurrency=${unit ? 4 : 1}`,
    ...files.map((f) => f.replace(/\.ts$/, '.js')),
  ],
  { cwd: out, stdio: 'inherit' },
);
process.exit(run.status ?? 1);
