// The copy of Parley's code that every scenario of a run starts, and the scratch folders of runs
// that were killed.

import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { root, snapshotDir } from './paths.js';

export function removeStaleRunDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = /^parley-bench-(\d+)$/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

/**
 * Others may rebuild dist/ or edit src/ while the bench runs, so Parley runs from a copy taken
 * at the start, in a temporary folder with the project's package.json and a link to its
 * node_modules (so that the module type and the packages resolve as they do in place).
 * Returns a hash of the copied code, to tell runs of different code apart.
 */
export function snapshotParley(from: 'dist' | 'src'): string {
  rmSync(snapshotDir, { recursive: true, force: true });
  mkdirSync(snapshotDir, { recursive: true });
  cpSync(join(root, from), join(snapshotDir, from), {
    recursive: true,
    filter: (src) => !src.endsWith('.map') && !src.includes(`${from}/client`),
  });
  copyFileSync(join(root, 'package.json'), join(snapshotDir, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(snapshotDir, 'node_modules'), 'dir');
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const d of entries) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else hash.update(relative(snapshotDir, p)).update(readFileSync(p));
    }
  };
  walk(join(snapshotDir, from));
  return hash.digest('hex').slice(0, 16);
}

/** dist/ is usable when its entry exists and no file under src/server, core, protocol, store or bus is newer. */
export function distIsFresh(): boolean {
  const entry = join(root, 'dist', 'server', 'main.js');
  if (!existsSync(entry)) return false;
  const built = statSync(entry).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((d) => {
      const p = join(dir, d.name);
      if (d.isDirectory()) return d.name !== 'client' && newer(p);
      return d.name.endsWith('.ts') && statSync(p).mtimeMs > built;
    });
  return !newer(join(root, 'src'));
}
