// A message as the page holds it, and the change entries applied to it. Pure: the log shows what
// these return. An entry may reach the page twice (live, then in a page of history or a
// `changes` answer that already holds it, or replayed on a resume), so applying one is
// idempotent: an edit older than the text held changes nothing, a removal stays, and a
// reaction is one per name.

import { foldKey, type ChatMessage, type LifecycleEvent } from '../protocol/index.js';

export type ChangeEvent = LifecycleEvent;
export type Reaction = NonNullable<ChatMessage['reactions']>[number];

function same(a: string, b: string): boolean {
  return !!a && !!b && foldKey(a) === foldKey(b);
}

/** The message after a change entry; `m` itself when the entry changes nothing. */
export function applyChange(m: ChatMessage, e: ChangeEvent): ChatMessage {
  if (e.target !== m.seq || m.removed) return m;
  switch (e.type) {
    case 'edit':
      if (m.edited !== undefined && e.ts < m.edited) return m;
      if (m.edited === e.ts && m.text === e.text) return m;
      return { ...m, text: e.text, edited: e.ts };
    case 'delete': {
      const gone: ChatMessage = { ...m, text: '', removed: true };
      delete gone.reactions;
      return gone;
    }
    case 'reaction':
      return react(m, e.emoji, e.from, e.on);
  }
}

function react(m: ChatMessage, emoji: string, from: string, on: boolean): ChatMessage {
  const list = m.reactions ?? [];
  const i = list.findIndex((r) => r.emoji === emoji);
  const had = list[i];
  const mine = had?.by.some((n) => same(n, from)) ?? false;
  if (on === mine) return m;
  let next: Reaction[];
  if (on) {
    next = had
      ? list.map((r, j) => (j === i ? { emoji, count: r.count + 1, by: [...r.by, from] } : r))
      : [...list, { emoji, count: 1, by: [from] }];
  } else {
    const by = (had?.by ?? []).filter((n) => !same(n, from));
    next =
      by.length === 0
        ? list.filter((_, j) => j !== i)
        : list.map((r, j) =>
            j === i ? { emoji, count: Math.max(by.length, r.count - 1), by } : r,
          );
  }
  const out: ChatMessage = { ...m, reactions: next };
  if (next.length === 0) delete out.reactions;
  return out;
}

/** Whether `name` has this reaction on. */
export function reacted(r: Reaction, name: string): boolean {
  return r.by.some((n) => same(n, name));
}

/** Who the page is: its display name and, once a hello or a sign-in said it, its user id. */
export interface Self {
  name: string;
  /** The user id no rename changes; undefined until the server said it. */
  id?: string | undefined;
}

/**
 * Whether the message is mine: by user id where the message and I both have one (a rename
 * changes neither), else by display name (a message stored before ids, or no id said yet).
 */
export function isMine(m: ChatMessage, self: Self): boolean {
  if (m.fromId !== undefined && self.id !== undefined) return m.fromId === self.id;
  return same(m.from, self.name);
}

/** The server's edit window (`ms`, 0: none) as it stands at `now`. */
export interface EditWindow {
  ms: number;
  now: number;
}

/** What the message menu offers on a message: what the server would allow. */
export function allowed(
  m: ChatMessage,
  self: Self,
  moderator: boolean,
  window?: EditWindow,
): { edit: boolean; remove: boolean } {
  if (m.removed) return { edit: false, remove: false };
  // The server ties a message to its sender by user id alone: one stored before ids is no
  // one's to edit or remove but a moderator's. Without my id (not said yet), names decide.
  const own = self.id !== undefined ? m.fromId === self.id : same(m.from, self.name);
  const fresh = !window || window.ms <= 0 || m.ts >= window.now - window.ms;
  return { edit: own && fresh, remove: own || moderator };
}

/** The newest message `pick` accepts, from a list in seq order. */
export function newest(
  list: readonly ChatMessage[],
  pick: (m: ChatMessage) => boolean,
): ChatMessage | undefined {
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i];
    if (m && pick(m)) return m;
  }
  return undefined;
}

/** The first line with text in it, cut at `max` characters: what a reply quotes. */
export function firstLine(text: string, max = 100): string {
  const line = text.split(/\r\n|[\n\r\v\f\u0085\u2028\u2029]/).find((l) => l.trim()) ?? '';
  const t = line.trim();
  return t.length > max ? `${t.slice(0, max).trimEnd()}…` : t;
}

/** Who reacted, in words: "You, ada and bob reacted with 👍". */
export function reactionWho(r: Reaction, me: string, shown = 12): string {
  const names = r.by.map((n) => (same(n, me) ? 'You' : n));
  // You first, then in the order they reacted.
  names.sort((a, b) => Number(b === 'You') - Number(a === 'You'));
  const others = Math.max(0, r.count - Math.min(names.length, shown));
  const listed = names.slice(0, shown);
  if (others > 0) listed.push(others === 1 ? '1 other' : `${others} others`);
  const who =
    listed.length <= 1
      ? (listed[0] ?? 'Someone')
      : `${listed.slice(0, -1).join(', ')} and ${listed[listed.length - 1] ?? ''}`;
  return `${who} reacted with ${r.emoji}`;
}
