import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS } from '../src/protocol/index.js';
import { SETTINGS } from '../src/server/config.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The rows of README's "Error codes" table, by code. */
function errorRows(): Map<string, string[]> {
  const section = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('## Guarantees'));
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const m = /^\| `([A-Z0-9_]+)`/.exec(line);
    if (m?.[1])
      rows.set(
        m[1],
        line.split('|').map((c) => c.trim()),
      );
  }
  return rows;
}

test('README lists every error code with its close code and HTTP status, and no other', () => {
  const rows = errorRows();
  for (const [code, spec] of Object.entries(ERRORS)) {
    const row = rows.get(code);
    assert.ok(row, `README has no row for ${code}`);
    const close = 'close' in spec ? String(spec.close) : '';
    assert.equal(row[2], close, `close code of ${code}`);
    assert.equal(row[3], String(spec.status), `HTTP status of ${code}`);
  }
  for (const code of rows.keys())
    assert.ok(Object.hasOwn(ERRORS, code), `${code} is not in ERRORS`);
});

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** The server's sources (the page shows codes, never raises them), without comments. */
function serverSources(): { file: string; code: string }[] {
  const out: { file: string; code: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (path !== join(SRC, 'client')) walk(path);
      } else if (e.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .replace(/(^|\s)\/\/.*$/gm, '$1');
        out.push({ file: path.slice(SRC.length), code: text });
      }
    }
  };
  walk(SRC);
  return out;
}

/**
 * The codes the server raises: the literals given to a renderer, ChatError or a close helper, the
 * codes the JSON decoder answers with, those ws closes for itself (named in connection.ts), and
 * the policy's answers.
 */
function raisedCodes(): Map<string, string> {
  const raised = new Map<string, string>();
  const note = (literal: string, file: string) => {
    if (!raised.has(literal)) raised.set(literal, file);
  };
  const helper =
    /\b(?:ChatError|errorFrame|errorLine|httpError|fail|closeWith|closeAll|stop|refuseUpgrade|refused)\(([^)]*)\)/g;
  // `refused:` is how the store's rules for changes to a message answer.
  const field = /\b(?:code|refused|WS_ERR_[A-Z0-9_]+): '([A-Z][A-Z0-9_]*)'/g;
  for (const { file, code } of serverSources()) {
    if (file === join('protocol', 'errors.ts')) continue;
    for (const m of code.matchAll(helper)) {
      for (const lit of (m[1] ?? '').matchAll(/'([A-Z][A-Z0-9_]*)'/g)) note(lit[1] ?? '', file);
    }
    for (const m of code.matchAll(field)) note(m[1] ?? '', file);
    // The policy answers with codes, which its callers raise as they are.
    if (file === join('core', 'policy.ts')) {
      for (const lit of code.matchAll(/'([A-Z][A-Z0-9_]*)'/g)) note(lit[1] ?? '', file);
    }
  }
  return raised;
}

test('every error code is raised somewhere, and every raised code is in the registry', () => {
  const raised = raisedCodes();
  for (const code of Object.keys(ERRORS)) assert.ok(raised.has(code), `${code} is never raised`);
  for (const [code, file] of raised) {
    assert.ok(Object.hasOwn(ERRORS, code), `${file} raises ${code}, which ERRORS does not have`);
  }
});

test('errors are rendered from the registry, not written by hand', () => {
  for (const { file, code } of serverSources()) {
    if (file === join('protocol', 'errors.ts')) continue;
    assert.doesNotMatch(code, /type: 'error'(?!;)/, `${file} writes an error frame by hand`);
    assert.doesNotMatch(code, /\.close\(\s*\d/, `${file} writes a close code by hand`);
    assert.doesNotMatch(code, /[`'"]! /, `${file} writes an error line by hand`);
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
