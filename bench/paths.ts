// Where the bench keeps its files: the tree it measures, its results, and this run's scratch
// folder.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const benchDir = join(root, 'bench');
export const resultsDir = join(benchDir, 'results');
export const hook = join(benchDir, 'server-hook.mjs');
/**
 * This run's scratch folder, outside the tree (so linters never see it): the copy of Parley's
 * code and the servers' data folders. Removed at exit; a run that was killed leaves its folder,
 * and the next run removes it.
 */
export const runDir = join(tmpdir(), `parley-bench-${process.pid}`);
export const snapshotDir = join(runDir, 'snapshot');
