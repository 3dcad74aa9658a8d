// What a search query means: a few literal terms, each found in a message's text as a
// substring, case aside. Nothing of the query is ever syntax for a store: quotes group words
// into one term and are otherwise plain characters, and operators (AND, NEAR, *, -) are words.

/** Longest query read, in characters (code points); the rest is dropped. */
export const SEARCH_MAX_CHARS = 200;
/** Most terms one query has; the rest are dropped. */
export const SEARCH_MAX_TERMS = 8;
/** Terms shorter than this (in code points) are not in the trigram index: stores scan for them. */
export const INDEXED_TERM_CHARS = 3;
/** Most ranges to highlight in one message. */
const MAX_RANGES = 32;

/** The text folded for comparison, one code point at a time, so offsets map back. */
export function foldCase(s: string): string {
  let text = '';
  for (const c of s) text += c.toLowerCase();
  return text;
}

/** Code points of a string (a term's length as the trigram tokenizer counts it). */
export function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate and its low one are one code point.
    if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) n++;
  }
  return n;
}

/**
 * The terms of a query, folded, without duplicates, at most SEARCH_MAX_TERMS: words split at
 * white space, and "quoted words" as one term (an unbalanced quote runs to the end).
 */
export function searchTerms(query: string): string[] {
  // No message holds control characters (but tabs and newlines, which split words anyway); FTS5
  // would end a string at a NUL, and PostgreSQL refuses one.
  const q = [...query]
    .slice(0, SEARCH_MAX_CHARS)
    .join('')
    .replace(/\p{Cc}/gu, ' ');
  const terms: string[] = [];
  const seen = new Set<string>();
  const add = (raw: string) => {
    const t = foldCase(raw.trim().replace(/\s+/gu, ' '));
    if (!t || seen.has(t) || terms.length >= SEARCH_MAX_TERMS) return;
    seen.add(t);
    terms.push(t);
  };
  const parts = q.split('"');
  parts.forEach((part, i) => {
    // Odd parts were between quotes; a last odd part is an unbalanced quote's rest.
    if (i % 2 === 1) add(part);
    else for (const w of part.split(/\s+/u)) add(w);
  });
  return terms;
}

/** Whether every term is in the text, case aside. */
export function containsAll(text: string, terms: readonly string[]): boolean {
  const folded = foldCase(text);
  return terms.every((t) => folded.includes(t));
}

/**
 * Where the terms are in the text: [start, end) offsets in UTF-16 units, sorted, overlapping
 * ones merged, at most MAX_RANGES.
 */
export function matchRanges(text: string, terms: readonly string[]): [number, number][] {
  const { text: folded, starts, ends } = fold(text);
  const found: [number, number][] = [];
  for (const term of terms) {
    if (!term) continue;
    for (let at = folded.indexOf(term); at >= 0; at = folded.indexOf(term, at + term.length)) {
      found.push([starts[at] ?? 0, ends[at + term.length - 1] ?? text.length]);
      if (found.length > MAX_RANGES * SEARCH_MAX_TERMS) break;
    }
  }
  found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const r of found) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged.slice(0, MAX_RANGES);
}

/**
 * The folded text, and for each of its UTF-16 units the offsets in the original of the code
 * point it came from (lower-casing may change a code point's length).
 */
function fold(s: string): { text: string; starts: number[]; ends: number[] } {
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  let i = 0;
  for (const c of s) {
    const f = c.toLowerCase();
    text += f;
    for (let k = 0; k < f.length; k++) {
      starts.push(i);
      ends.push(i + c.length);
    }
    i += c.length;
  }
  return { text, starts, ends };
}
