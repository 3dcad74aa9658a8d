// npm run build: server code with tsc into dist/, the page with esbuild into dist/public/
// (app.js, the offline service worker sw.js, minified style.css, index.html, favicon.svg), then a
// check that the page stays small: all its JS and CSS together under 100 KB gzipped, with no
// TypeBox in it (its server events are checked by code generated here, scripts/event-checks.ts).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { tsImport } from 'tsx/esm/api';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'public');
const BUDGET = 100 * 1024;

const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  { cwd: root, stdio: 'inherit' },
);
if (tsc.status !== 0) {
  console.error('build: tsc failed');
  process.exit(1);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = {
  absWorkingDir: root,
  bundle: true,
  // Class fields and other ES2022 syntax as written: every browser of the last four years runs it.
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};
const { eventChecksPlugin, pureProtocolPlugin } = await tsImport(
  './event-checks.ts',
  import.meta.url,
);
const { pageMangleProps } = await tsImport('./page-names.ts', import.meta.url);
const { pageErrorsPlugin } = await tsImport('./page-errors.ts', import.meta.url);
const page = await build({
  ...common,
  entryPoints: ['src/client/main.ts'],
  outfile: join(out, 'app.js'),
  format: 'esm',
  sourcemap: true,
  metafile: true,
  // The page's own method names, shortened: no code but the page's calls them.
  mangleProps: pageMangleProps(root),
  plugins: [eventChecksPlugin(), pureProtocolPlugin(), pageErrorsPlugin(root)],
});
// What app.js holds (the metafile's inputs also list modules tree-shaken away).
const shipped = Object.values(page.metafile.outputs).flatMap((o) =>
  Object.entries(o.inputs).flatMap(([f, i]) => (i.bytesInOutput > 0 ? [f] : [])),
);
const typebox = shipped.filter((f) => f.includes('@sinclair/typebox'));
if (typebox.length > 0) {
  console.error(`build: the page bundles TypeBox:\n  ${typebox.join('\n  ')}`);
  process.exit(1);
}
// A classic script: module service workers are not everywhere yet.
await build({
  ...common,
  entryPoints: ['src/client/sw.ts'],
  outfile: join(out, 'sw.js'),
  format: 'iife',
});
await build({ ...common, entryPoints: ['src/client/style.css'], outfile: join(out, 'style.css') });
for (const f of ['index.html', 'favicon.svg'])
  copyFileSync(join(root, 'src', 'client', f), join(out, f));

let total = 0;
for (const f of readdirSync(out).filter((n) => /\.(js|css)$/.test(n))) {
  const size = gzipSync(readFileSync(join(out, f))).length;
  total += size;
  console.log(`build: ${f} ${(size / 1024).toFixed(1)} KB gzipped`);
}
console.log(`build: page total ${(total / 1024).toFixed(1)} KB gzipped (budget 100 KB)`);
if (total > BUDGET) {
  console.error('build: the page is over its 100 KB budget');
  process.exit(1);
}
