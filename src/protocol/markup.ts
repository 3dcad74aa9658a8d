// Message text → a tree of blocks and inline spans, with no DOM (so it is unit-tested in Node):
// code spans and fenced blocks, bold, italic, strikethrough, quotes, lists, safe links, and your
// own `@name`. Each rule is a left-to-right pass with no backtracking, so any input costs time
// linear in its length. Markers that do not pair up, and everything inside code, stay as typed.
// The page draws messages from it, and the server counts mentions with it (read markers), so
// that what is counted as a mention is exactly what the page highlights.

import { foldKey } from './rules.js';

export type Token =
  | { kind: 'text'; text: string }
  /** `host` is the host the link goes to, when the text does not show it as it is resolved. */
  | { kind: 'link'; text: string; href: string; host?: string }
  | { kind: 'mention'; text: string };

export type Inline =
  Token | { kind: 'code'; text: string } | { kind: 'strong' | 'em' | 's'; children: Inline[] };

export type Block =
  | { kind: 'para'; children: Inline[] }
  | { kind: 'pre'; text: string }
  | { kind: 'quote'; children: Block[] }
  | { kind: 'ul'; items: Inline[][] }
  | { kind: 'ol'; start: number; items: Inline[][] };

/** Loop steps taken so far, so a test can check that the cost grows linearly with the input. */
export const cost = { steps: 0 };

// A URL starts after no letter or digit, and runs to the next space or character that cannot
// be in one unescaped.
const URL_RE = /(?<![\p{L}\p{N}])(?:https?:\/\/|mailto:)[^\s<>"`{}|\\^]+/giu;
// Punctuation that usually ends the sentence (or a formatting marker) rather than the URL.
const TRAILING = '.,;:!?\'"’”»)]}>*_~';
const LEADING = '([{"\'“‘«<*_~';
/** Quotes in quotes, and spans in spans, deeper than this stay as typed. */
const MAX_DEPTH = 6;
const FENCE = '```';
/** What may follow the opening fence: a language name, which is ignored. */
const LANGUAGE = /^[\w#+.-]*$/u;
const ITEM = /^(?:([-*])|(\d{1,9})[.)]) (?=\S)/u;

/** The domain of a mailto: URL, as the browser resolves it (punycode), or null. */
function mailHost(url: URL): string | null {
  const at = url.pathname.lastIndexOf('@');
  if (at < 1) return null;
  try {
    return new URL(`http://${url.pathname.slice(at + 1)}`).hostname || null;
  } catch {
    return null;
  }
}

/** The href of an http(s) or mailto URL, or null for anything else (javascript:, data:, malformed). */
export function safeHref(candidate: string): string | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol === 'mailto:') return mailHost(url) ? url.href : null;
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) return null;
  return url.href;
}

/**
 * The host a link really goes to, when its text spells it otherwise: an internationalized
 * domain (`аpple.com` in Cyrillic is xn--pple-43d.com) or fullwidth letters. The parsed
 * hostname is punycode, which is what a person can compare with a domain they know.
 */
function hiddenHost(text: string, href: string): string | undefined {
  const url = new URL(href);
  const mail = url.protocol === 'mailto:';
  const host = mail ? (mailHost(url) ?? '') : url.hostname;
  // The host as written: after the scheme and any user, before a port, path, query or fragment.
  const authority = mail
    ? (text.split('?')[0] ?? '')
    : (text.slice(text.indexOf('//') + 2).split(/[/?#]/u)[0] ?? '');
  const written = authority
    .slice(authority.lastIndexOf('@') + 1)
    .replace(/:\d*$/u, '')
    .toLowerCase();
  return written === host ? undefined : host;
}

function count(s: string, c: string): number {
  return s.split(c).length - 1;
}

/** Drops trailing punctuation, keeping a closing bracket its URL opened (wiki links). */
function trimUrl(s: string): string {
  // Opened minus closed brackets in s[0, end).
  let round = count(s, '(') - count(s, ')');
  let square = count(s, '[') - count(s, ']');
  let end = s.length;
  while (end > 0 && TRAILING.includes(s[end - 1] ?? '')) {
    cost.steps++;
    const c = s[end - 1];
    if ((c === ')' && round >= 0) || (c === ']' && square >= 0)) break;
    if (c === ')') round++;
    if (c === ']') square++;
    end--;
  }
  return s.slice(0, end);
}

function pushText(out: Inline[], text: string): void {
  if (!text) return;
  const last = out[out.length - 1];
  if (last?.kind === 'text') last.text += text;
  else out.push({ kind: 'text', text });
}

/** Where `word` (no spaces) is `@name` for this folded name, give or take punctuation. */
function mentionIn(word: string, nameKey: string): [number, number] | null {
  let start = 0;
  while (start < word.length && LEADING.includes(word[start] ?? '')) start++;
  if (word[start] !== '@') return null;
  // Names may end in punctuation themselves: try the whole word, then shorter, as long as
  // what is cut off is punctuation; a spelling of the name is at most a few times its length.
  let bare = word.length;
  while (bare > start + 1 && TRAILING.includes(word[bare - 1] ?? '')) bare--;
  const longest = Math.min(word.length, start + 1 + 4 * nameKey.length);
  for (let end = longest; end >= bare && end > start + 1; end--) {
    cost.steps += end - start;
    if (foldKey(word.slice(start + 1, end)) === nameKey) return [start, end];
  }
  return null;
}

function mentions(out: Token[], text: string, nameKey: string): void {
  if (!nameKey || !text.includes('@')) {
    pushText(out, text);
    return;
  }
  for (const part of text.split(/(\s+)/u)) {
    cost.steps++;
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

function tokens(text: string, nameKey: string): Token[] {
  const out: Token[] = [];
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    cost.steps++;
    const raw = trimUrl(m[0]);
    const href = safeHref(raw);
    if (!href) continue;
    const index = m.index;
    mentions(out, text.slice(at, index), nameKey);
    const host = hiddenHost(raw, href);
    out.push(host ? { kind: 'link', text: raw, href, host } : { kind: 'link', text: raw, href });
    at = index + raw.length;
  }
  mentions(out, text.slice(at), nameKey);
  return out;
}

/** Splits text into plain text, safe links, and mentions of `myName` (case-insensitive). */
export function tokenize(text: string, myName = ''): Token[] {
  return tokens(text, myName ? foldKey(myName) : '');
}

/** The parts of a paragraph: code spans (`code` set, backticks gone) and what lies between. */
function codeSpans(s: string): { from: number; to: number; code?: string }[] {
  const runs: { at: number; n: number }[] = [];
  for (let i = s.indexOf('`'); i >= 0; i = s.indexOf('`', i)) {
    cost.steps++;
    let j = i;
    while (s[j] === '`') j++;
    runs.push({ at: i, n: j - i });
    i = j;
  }
  // A span closes at the next run of as many backticks: find it for every run in one pass.
  const next: number[] = [];
  const seen = new Map<number, number>();
  for (let k = runs.length - 1; k >= 0; k--) {
    const n = runs[k]?.n ?? 0;
    next[k] = seen.get(n) ?? -1;
    seen.set(n, k);
  }
  const parts: { from: number; to: number; code?: string }[] = [];
  let at = 0;
  for (let k = 0; k < runs.length; k++) {
    cost.steps++;
    const open = runs[k];
    const close = runs[next[k] ?? -1];
    if (!open || !close) continue;
    if (open.at > at) parts.push({ from: at, to: open.at });
    let code = s.slice(open.at + open.n, close.at);
    // One space each side lets a span start or end with a backtick (`` `a` ``).
    if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && /[^ ]/u.test(code))
      code = code.slice(1, -1);
    parts.push({ from: open.at, to: close.at + close.n, code });
    at = close.at + close.n;
    k = next[k] ?? k;
  }
  if (at < s.length) parts.push({ from: at, to: s.length });
  return parts;
}

const SPACE = /\s/u;
const PUNCT = /[\p{P}\p{S}]/u;

interface Mark {
  kind: 'mark';
  text: string;
  /** Text until it pairs up. */
  role: 'text' | 'open' | 'close';
}

/** Pairs emphasis markers with a stack of openers, the way CommonMark's delimiter runs do. */
class Emphasis {
  readonly flat: (Inline | Mark)[] = [];
  private readonly stack: number[] = [];
  private readonly opened = new Map<string, number>();

  /** The marker run s[i, j) of `*`, `_` or `~`. */
  run(s: string, i: number, j: number): void {
    const c = s[i] ?? '';
    const n = j - i;
    const marks =
      c === '~'
        ? n === 2
          ? ['~~']
          : []
        : n === 1
          ? [c]
          : n === 2
            ? [c + c]
            : n === 3
              ? [c, c + c]
              : [];
    if (marks.length === 0) {
      this.flat.push({ kind: 'text', text: s.slice(i, j) });
      return;
    }
    const before = s[i - 1] ?? ' ';
    const after = s[j] ?? ' ';
    const left =
      !SPACE.test(after) && (!PUNCT.test(after) || SPACE.test(before) || PUNCT.test(before));
    const right =
      !SPACE.test(before) && (!PUNCT.test(before) || SPACE.test(after) || PUNCT.test(after));
    // `_` does not work inside a word (snake_case_names).
    const canOpen = c === '_' ? left && (!right || PUNCT.test(before)) : left;
    const canClose = c === '_' ? right && (!left || PUNCT.test(after)) : right;
    // `***` opens em then strong, and closes the inner one first (the stack is a few deep).
    if (canClose) marks.sort((a, b) => this.depth(b) - this.depth(a));
    for (const m of marks) {
      if (canClose && this.opened.get(m)) this.close(m);
      else if (canOpen && this.stack.length < MAX_DEPTH) {
        this.stack.push(this.flat.length);
        this.opened.set(m, (this.opened.get(m) ?? 0) + 1);
        this.flat.push({ kind: 'mark', text: m, role: 'text' });
      } else this.flat.push({ kind: 'text', text: m });
    }
  }

  /** How far up the stack `m` was last opened, or -1. */
  private depth(m: string): number {
    return this.stack.map((k) => (this.flat[k] as Mark).text).lastIndexOf(m);
  }

  /** Closes the innermost `m`; openers inside it cannot close any more and stay text. */
  private close(m: string): void {
    for (;;) {
      cost.steps++;
      const top = this.flat[this.stack.pop() ?? -1];
      if (top?.kind !== 'mark') return;
      this.opened.set(top.text, (this.opened.get(top.text) ?? 1) - 1);
      if (top.text !== m) continue;
      top.role = 'open';
      this.flat.push({ kind: 'mark', text: m, role: 'close' });
      return;
    }
  }

  /** The spans, nested: pairs never cross, so one pass with a stack builds them. */
  tree(): Inline[] {
    const root: Inline[] = [];
    const stack = [root];
    for (const f of this.flat) {
      cost.steps++;
      const top = stack[stack.length - 1] ?? root;
      if (f.kind === 'text' || (f.kind === 'mark' && f.role === 'text')) pushText(top, f.text);
      else if (f.kind !== 'mark') top.push(f);
      else if (f.role === 'close') stack.pop();
      else {
        const kind = f.text === '~~' ? 's' : f.text.length === 2 ? 'strong' : 'em';
        const span: Inline = { kind, children: [] };
        top.push(span);
        stack.push(span.children);
      }
    }
    return root;
  }
}

/** Marker runs in s[from, to); the rest is text. */
function markers(e: Emphasis, s: string, from: number, to: number): void {
  let text = from;
  for (let i = from; i < to;) {
    cost.steps++;
    const c = s[i];
    if (c !== '*' && c !== '_' && c !== '~') {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < to && s[j] === c) j++;
    if (i > text) e.flat.push({ kind: 'text', text: s.slice(text, i) });
    e.run(s, i, j);
    i = text = j;
  }
  if (to > text) e.flat.push({ kind: 'text', text: s.slice(text, to) });
}

/** A paragraph's spans: code first (nothing in it is formatted), then links and names, then emphasis. */
function inline(s: string, nameKey: string): Inline[] {
  const e = new Emphasis();
  for (const part of codeSpans(s)) {
    if (part.code !== undefined) {
      e.flat.push({ kind: 'code', text: part.code });
      continue;
    }
    let at = part.from;
    for (const t of tokens(s.slice(part.from, part.to), nameKey)) {
      if (t.kind === 'text') markers(e, s, at, at + t.text.length);
      else e.flat.push(t);
      at += t.text.length;
    }
  }
  return e.tree();
}

const isQuote = (line: string) => line.startsWith('> ');
const isFence = (line: string) => line.startsWith(FENCE) && LANGUAGE.test(line.slice(3).trimEnd());

function blocks(lines: string[], depth: number, nameKey: string): Block[] {
  const out: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length > 0) out.push({ kind: 'para', children: inline(para.join('\n'), nameKey) });
    para = [];
  };
  // A fence opened after the last closing one is text: knowing that, no line is scanned twice.
  let lastClose = -1;
  lines.forEach((line, i) => {
    if (line.trim() === FENCE) lastClose = i;
  });
  for (let i = 0; i < lines.length; i++) {
    cost.steps++;
    const line = lines[i] ?? '';
    if (i < lastClose && isFence(line)) {
      let j = i + 1;
      while (lines[j]?.trim() !== FENCE) {
        cost.steps++;
        j++;
      }
      flush();
      out.push({ kind: 'pre', text: lines.slice(i + 1, j).join('\n') });
      i = j;
      continue;
    }
    if (depth < MAX_DEPTH && isQuote(line)) {
      const inner: string[] = [];
      for (; i < lines.length; i++) {
        const l = lines[i] ?? '';
        if (!isQuote(l) && l !== '>') break;
        inner.push(l.slice(2));
      }
      i--;
      flush();
      out.push({ kind: 'quote', children: blocks(inner, depth + 1, nameKey) });
      continue;
    }
    const first = ITEM.exec(line);
    if (first) {
      const ordered = first[1] === undefined;
      const items: Inline[][] = [];
      let m: RegExpExecArray | null = first;
      for (; m && (m[1] === undefined) === ordered; m = ITEM.exec(lines[++i] ?? '')) {
        cost.steps++;
        items.push(inline((lines[i] ?? '').slice(m[0].length), nameKey));
      }
      i--;
      flush();
      out.push(ordered ? { kind: 'ol', start: Number(first[2]), items } : { kind: 'ul', items });
      continue;
    }
    para.push(line);
  }
  flush();
  return out;
}

/** A message's blocks, with mentions of `myName` (case-insensitive) marked. */
export function parse(text: string, myName = ''): Block[] {
  return blocks(text.split(/\r?\n/u), 0, myName ? foldKey(myName) : '');
}

function some(nodes: (Block | Inline)[], found: (n: Inline) => boolean): boolean {
  return nodes.some((n) => {
    if (n.kind === 'ul' || n.kind === 'ol') return n.items.some((item) => some(item, found));
    if ('children' in n) return some(n.children, found);
    return n.kind !== 'pre' && found(n);
  });
}

/** True when the text mentions `myName` where it shows as a mention (not inside code). */
export function mentionsName(text: string, myName: string): boolean {
  // Most messages name no one: the parse is only for those that could.
  return !!myName && text.includes('@') && some(parse(text, myName), (n) => n.kind === 'mention');
}
