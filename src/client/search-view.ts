// The search box in the header and its results: each result a button that opens the message in
// its room, with what matched marked. Text goes in as text nodes: the marks are <mark> elements
// made here, never HTML from a message.

import { button, byId, clock, el, roomLabel } from './dom.js';
import type { SearchHit, SearchView } from './ports.js';

/** Characters of a result's text shown, around its first match. */
const SNIPPET = 240;
/** Characters kept before the first match. */
const LEAD = 60;

export interface SearchHooks {
  /** Runs the query: the first page, or the one `next` names. */
  search(query: string, next?: string): void;
  /** Opens the message in its room. */
  jump(room: string, seq: number): void;
}

export class SearchBox implements SearchView {
  readonly #form = byId<HTMLFormElement>('search-form');
  readonly #input = byId<HTMLInputElement>('search-input');
  readonly #panel = byId('search-panel');
  readonly #status = byId('search-status');
  readonly #list = byId<HTMLOListElement>('search-results');
  readonly #more = byId<HTMLButtonElement>('search-more');
  #query = '';
  #next: string | undefined;

  readonly #hooks: SearchHooks;

  constructor(hooks: SearchHooks) {
    this.#hooks = hooks;
    this.#form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#run(this.#input.value);
    });
    this.#more.addEventListener('click', () => {
      if (this.#next !== undefined) this.#hooks.search(this.#query, this.#next);
    });
    byId('search-close').addEventListener('click', () => this.#close());
    this.#panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.#close();
    });
    this.#input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.#close();
    });
  }

  #run(raw: string): void {
    const query = raw.trim();
    if (!query) return;
    this.#query = query;
    this.#panel.hidden = false;
    this.#status.textContent = 'Searching…';
    this.#hooks.search(query);
  }

  #close(): void {
    this.#panel.hidden = true;
    this.#input.focus();
  }

  showQuery(query: string): void {
    this.#input.value = query;
    this.#run(query);
  }

  showResults(results: SearchHit[], next: string | undefined, added: boolean): void {
    this.#panel.hidden = false;
    if (!added) this.#list.replaceChildren();
    for (const hit of results) this.#list.append(this.#item(hit));
    const n = this.#list.children.length;
    this.#status.textContent =
      n === 0
        ? `Nothing found for “${this.#query}”.`
        : `${n}${next ? '+' : ''} found for “${this.#query}”.`;
    this.#next = next;
    this.#more.hidden = next === undefined;
  }

  searchNote(text: string): void {
    this.#panel.hidden = false;
    this.#status.textContent = text;
  }

  #item(hit: SearchHit): HTMLLIElement {
    const li = el('li');
    const b = button('hit', '');
    const where = el('span', 'hit-where');
    const from = el('b', '', hit.from);
    from.dir = 'auto';
    where.append(roomLabel(hit.room), ' · ', from, ' · ', clock(hit.ts));
    const text = el('span', 'hit-text');
    text.dir = 'auto';
    text.append(...marked(hit.text, hit.match));
    b.append(where, text);
    b.addEventListener('click', () => {
      // Out of the way of the message it opens.
      this.#panel.hidden = true;
      this.#hooks.jump(hit.room, hit.seq);
    });
    li.append(b);
    return li;
  }
}

/** The text around its first match as text nodes, each match in a <mark>. */
export function marked(text: string, ranges: [number, number][]): Node[] {
  let start = Math.max(0, (ranges[0]?.[0] ?? 0) - LEAD);
  // Never half a surrogate pair at either end.
  if (start > 0 && isLow(text.charCodeAt(start))) start--;
  let end = Math.min(text.length, start + SNIPPET);
  if (end < text.length && isLow(text.charCodeAt(end))) end++;
  const out: Node[] = [];
  if (start > 0) out.push(document.createTextNode('…'));
  let at = start;
  for (const [a, b] of ranges) {
    const from = Math.max(a, at);
    const to = Math.min(b, end);
    if (to <= from) continue;
    if (from > at) out.push(document.createTextNode(text.slice(at, from)));
    out.push(el('mark', '', text.slice(from, to)));
    at = to;
  }
  if (at < end) out.push(document.createTextNode(text.slice(at, end)));
  if (end < text.length) out.push(document.createTextNode('…'));
  return out;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
