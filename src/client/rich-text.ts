// Message text → tokens → DOM nodes. Only http: and https: URLs become links, and only your own
// `@name` becomes a highlight; everything else is a text node. Nothing is ever parsed as HTML.
// `tokenize` is pure (no DOM) so it is unit-tested in Node.

import { foldKey } from '../protocol/index.js';

export type Token =
  | { kind: 'text'; text: string }
  /** `host` is the host the link goes to, when the text does not show it as it is resolved. */
  | { kind: 'link'; text: string; href: string; host?: string }
  | { kind: 'mention'; text: string };

// A URL runs to the next space or character that cannot be in one unescaped.
const URL_RE = /\bhttps?:\/\/[^\s<>"`{}|\\^]+/giu;
// Punctuation that usually ends the sentence rather than the URL or name.
const TRAILING = '.,;:!?\'"’”»)]}>';
const LEADING = '([{"\'“‘«<';

/** The href of an http(s) URL, or null for anything else (javascript:, data:, malformed). */
export function safeHref(candidate: string): string | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) return null;
  return url.href;
}

/**
 * The host a link really goes to, when its text spells it otherwise: an internationalized
 * domain (`аpple.com` in Cyrillic is xn--pple-43d.com) or fullwidth letters. The parsed
 * hostname is punycode, which is what a person can compare with a domain they know.
 */
function hiddenHost(text: string, href: string): string | undefined {
  const host = new URL(href).hostname;
  // The host as written: after the scheme and any user, before a port, path, query or fragment.
  const authority = text.slice(text.indexOf('//') + 2).split(/[/?#]/u)[0] ?? '';
  const written = authority
    .slice(authority.lastIndexOf('@') + 1)
    .replace(/:\d*$/u, '')
    .toLowerCase();
  return written === host ? undefined : host;
}

/** Drops trailing punctuation, keeping a closing bracket its URL opened (wiki links). */
function trimUrl(s: string): string {
  let end = s.length;
  while (end > 0 && TRAILING.includes(s[end - 1] ?? '')) {
    const c = s[end - 1];
    const open = c === ')' ? '(' : c === ']' ? '[' : undefined;
    if (open) {
      const body = s.slice(0, end);
      if (body.split(open).length - 1 >= body.split(c ?? '').length - 1) break;
    }
    end--;
  }
  return s.slice(0, end);
}

function pushText(out: Token[], text: string): void {
  if (!text) return;
  const last = out[out.length - 1];
  if (last?.kind === 'text') last.text += text;
  else out.push({ kind: 'text', text });
}

/** True when `word` (no spaces) is `@name` for this folded name, give or take punctuation. */
function mentionIn(word: string, nameKey: string): [number, number] | null {
  let start = 0;
  while (start < word.length && LEADING.includes(word[start] ?? '')) start++;
  if (word[start] !== '@') return null;
  // Names may end in punctuation themselves: try the whole word, then shorter.
  for (let end = word.length; end > start + 1; end--) {
    if (foldKey(word.slice(start + 1, end)) === nameKey) return [start, end];
    if (!TRAILING.includes(word[end - 1] ?? '')) return null;
  }
  return null;
}

function mentions(out: Token[], text: string, nameKey: string): void {
  if (!nameKey || !text.includes('@')) {
    pushText(out, text);
    return;
  }
  for (const part of text.split(/(\s+)/u)) {
    const m = part.includes('@') ? mentionIn(part, nameKey) : null;
    if (!m) {
      pushText(out, part);
      continue;
    }
    pushText(out, part.slice(0, m[0]));
    out.push({ kind: 'mention', text: part.slice(m[0], m[1]) });
    pushText(out, part.slice(m[1]));
  }
}

/** Splits a message into text, safe links, and mentions of `myName` (case-insensitive). */
export function tokenize(text: string, myName = ''): Token[] {
  const out: Token[] = [];
  const nameKey = myName ? foldKey(myName) : '';
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    const raw = trimUrl(m[0]);
    const href = safeHref(raw);
    if (!href) continue;
    const index = m.index ?? 0;
    mentions(out, text.slice(at, index), nameKey);
    const host = hiddenHost(raw, href);
    out.push(host ? { kind: 'link', text: raw, href, host } : { kind: 'link', text: raw, href });
    at = index + raw.length;
  }
  mentions(out, text.slice(at), nameKey);
  return out;
}

/** True when the text mentions `myName`. */
export function mentionsName(text: string, myName: string): boolean {
  return !!myName && tokenize(text, myName).some((t) => t.kind === 'mention');
}

/**
 * The nodes of a message: text nodes, `<a>` built from a parsed URL, `<mark>` for mentions. A
 * link whose real host the text hides is followed by that host, in brackets, and titled with it.
 */
export function richText(text: string, myName: string): Node[] {
  return tokenize(text, myName).flatMap((t): Node[] => {
    if (t.kind === 'text') return [document.createTextNode(t.text)];
    if (t.kind === 'mention') {
      const mark = document.createElement('mark');
      mark.className = 'mention';
      mark.textContent = t.text;
      return [mark];
    }
    const a = document.createElement('a');
    a.href = t.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = t.text;
    if (!t.host) return [a];
    a.title = `Goes to ${t.host}`;
    const host = document.createElement('span');
    host.className = 'link-host';
    host.textContent = ` [${t.host}]`;
    return [a, host];
  });
}
