// Confusable skeletons (Unicode TR39, section 4): two names that look alike have the same
// skeleton. The mapping is Unicode's confusables.txt as the unhomoglyph package ships it.
// Server-side only: the table is large, and the page has no need of it.

import confusables from 'unhomoglyph/data.json' with { type: 'json' };
import { foldKey } from './rules.js';

/**
 * Names what nameSkeleton computes: the table's Unicode version and the folding around it. The
 * stores keep each reserved name's skeleton and recompute them all on open when this changes.
 */
export const SKELETON_VERSION = 'confusables-13.0.0/nfkc-lower-soft-dotted';

const PROTOTYPES: Readonly<Record<string, string>> = confusables;

/** TR39's skeleton(X): NFD, each code point replaced by its prototype, NFD again. */
export function skeleton(s: string): string {
  let out = '';
  for (const c of s.normalize('NFD')) out += PROTOTYPES[c] ?? c;
  return out.normalize('NFD');
}

/**
 * What two names are compared by: the skeleton of the folded name. A dot above on an i or j is
 * dropped first: it takes the letter's own dot's place and cannot be seen (`İ` folds to i + dot).
 */
export function nameSkeleton(name: string): string {
  return skeleton(
    foldKey(name)
      .normalize('NFD')
      .replace(/(?<=\p{Soft_Dotted}\p{Mn}*)\u0307/gu, ''),
  );
}
