// Small DOM helpers. Text goes in through textContent only: nothing here parses HTML.

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls = '',
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function button(cls: string, text: string, label?: string): HTMLButtonElement {
  const b = el('button', cls, text);
  b.type = 'button';
  if (label) b.setAttribute('aria-label', label);
  return b;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from the page`);
  return e as T;
}

export function roomLabel(room: string): string {
  return room.startsWith('@') ? room : `#${room}`;
}

export function clock(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Local calendar day, for day separators. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(ts: number, now = Date.now()): string {
  if (dayKey(ts) === dayKey(now)) return 'Today';
  if (dayKey(ts) === dayKey(now - 86_400_000)) return 'Yesterday';
  const d = new Date(ts);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString([], {
    weekday: 'long',
    month: 'long',
    day: 'numeric',
    ...(sameYear ? {} : { year: 'numeric' }),
  });
}

/**
 * Keeps a list's children in step with `keys`, reusing each key's element so a focused button
 * stays focused while counts change around it.
 */
export function reconcile<T extends HTMLElement>(
  list: HTMLElement,
  cache: Map<string, T>,
  keys: string[],
  create: (key: string) => T,
  update: (node: T, key: string) => void,
): void {
  const wanted = new Set(keys);
  for (const [key, node] of cache) {
    if (!wanted.has(key)) {
      node.remove();
      cache.delete(key);
    }
  }
  let i = 0;
  for (const key of keys) {
    let node = cache.get(key);
    if (!node) {
      node = create(key);
      cache.set(key, node);
    }
    update(node, key);
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
    i++;
  }
}
