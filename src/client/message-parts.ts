// The parts of a message line that act on it: the quote of what a reply answers, the reaction
// chips, the message menu (react, reply, edit, remove, with a confirm for remove) and the
// editor in place. Elements and text nodes only: a message's text never becomes HTML.

import type { ChatMessage } from '../protocol/index.js';
import { button, el } from './dom.js';
import { firstLine, reacted, reactionWho, type Reaction } from './message-state.js';

/** The emoji the menu offers at once; any other can be typed or pasted beside them. */
export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '👀', '✅'];

/** What a quote says of the message it stands for (undefined: not known yet). */
function quoteWords(target: ChatMessage | undefined): { from: string; text: string } {
  if (!target) return { from: '', text: 'an earlier message' };
  return { from: target.from, text: target.removed ? 'message removed' : firstLine(target.text) };
}

/** The quote at the top of a reply; activating it shows the message it answers. */
export function quoteButton(open: () => void): HTMLButtonElement {
  const b = button('quote', '');
  b.dataset['key'] = 'quote';
  b.addEventListener('click', open);
  return b;
}

export function fillQuote(b: HTMLButtonElement, target: ChatMessage | undefined): void {
  const { from, text } = quoteWords(target);
  const who = el('span', 'quote-from', from);
  who.dir = 'auto';
  const what = el('span', 'quote-text', text);
  what.dir = 'auto';
  b.classList.toggle('gone', !!target?.removed);
  b.replaceChildren(...(from ? [who, ' '] : []), what);
  b.setAttribute('aria-label', `Reply to ${from ? `${from}: ` : ''}${text}. Show that message`);
  b.title = 'Show the message this answers';
}

/** The chips under a message: one per emoji, pressed when mine, naming who on hover and focus. */
export function reactionChips(
  list: readonly Reaction[],
  me: string,
  toggle: (emoji: string) => void,
  more: () => void,
): HTMLElement {
  const box = el('div', 'reactions');
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', 'Reactions');
  for (const r of list) {
    const on = reacted(r, me);
    const b = button(on ? 'chip mine' : 'chip', '');
    b.append(el('span', 'emoji', r.emoji), el('span', 'n', String(r.count)));
    const who = reactionWho(r, me);
    b.dataset['key'] = `chip ${r.emoji}`;
    b.dataset['who'] = who;
    b.title = who;
    b.setAttribute('aria-pressed', String(on));
    b.setAttribute(
      'aria-label',
      `${r.emoji} ${r.count}: ${who}. ${on ? 'Press to take yours back.' : 'Press to add yours.'}`,
    );
    b.addEventListener('click', () => toggle(r.emoji));
    box.append(b);
  }
  const add = button('chip add', '+', 'Add a reaction');
  add.dataset['key'] = 'chip +';
  add.title = 'Add a reaction';
  add.addEventListener('click', more);
  box.append(add);
  return box;
}

export interface MenuActs {
  /** Whose message, for the menu's name. */
  from: string;
  canEdit: boolean;
  canRemove: boolean;
  react(emoji: string): boolean;
  reply(): void;
  edit(): void;
  remove(): void;
  close(): void;
}

/** Arrow keys move between the buttons of a row or a menu. */
function arrows(box: HTMLElement): void {
  box.addEventListener('keydown', (e) => {
    if (!['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'].includes(e.key)) return;
    if (e.target instanceof HTMLInputElement) return;
    const all = [...box.querySelectorAll<HTMLElement>('button')];
    const i = all.indexOf(document.activeElement as HTMLElement);
    if (i < 0) return;
    e.preventDefault();
    const step = e.key === 'ArrowLeft' || e.key === 'ArrowUp' ? -1 : 1;
    all[(i + step + all.length) % all.length]?.focus();
  });
}

/** The message menu: emoji to react with (or any one typed), then reply, edit and remove. */
export function messageMenu(a: MenuActs): HTMLElement {
  const menu = el('div', 'msg-menu');
  menu.setAttribute('role', 'group');
  menu.setAttribute('aria-label', `Actions on the message of ${a.from}`);
  menu.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    e.preventDefault();
    e.stopPropagation();
    a.close();
  });
  const row = el('div', 'menu-emoji');
  row.setAttribute('role', 'group');
  row.setAttribute('aria-label', 'React');
  for (const emoji of QUICK_EMOJI) {
    const b = button('emoji', emoji, `React with ${emoji}`);
    b.dataset['key'] = `react ${emoji}`;
    b.addEventListener('click', () => {
      if (a.react(emoji)) a.close();
    });
    row.append(b);
  }
  arrows(row);
  const other = el('form', 'menu-other');
  const input = el('input', 'any-emoji');
  input.placeholder = 'Any emoji';
  input.maxLength = 32;
  input.autocomplete = 'off';
  input.setAttribute('aria-label', 'React with any emoji: type or paste it, then Enter');
  input.dataset['key'] = 'any';
  const go = button('quiet', 'React');
  go.type = 'submit';
  other.append(input, go);
  other.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value.trim() && a.react(input.value)) a.close();
    else input.setAttribute('aria-invalid', 'true');
  });
  const acts = el('div', 'menu-acts');
  const reply = button('quiet', 'Reply');
  reply.dataset['key'] = 'reply';
  reply.addEventListener('click', () => a.reply());
  acts.append(reply);
  if (a.canEdit) {
    const edit = button('quiet', 'Edit');
    edit.dataset['key'] = 'edit';
    edit.addEventListener('click', () => a.edit());
    acts.append(edit);
  }
  if (a.canRemove) {
    const remove = button('quiet danger', 'Remove…');
    remove.dataset['key'] = 'remove';
    remove.addEventListener('click', () => confirmRemove(menu, a));
    acts.append(remove);
  }
  arrows(acts);
  menu.append(row, other, acts);
  return menu;
}

/** Removing asks first, in the menu itself; Cancel has the focus, so Enter twice is no accident. */
function confirmRemove(menu: HTMLElement, a: MenuActs): void {
  const ask = el('p', 'confirm', 'Remove this message for everyone? This cannot be undone.');
  ask.id = `confirm-${Math.random().toString(36).slice(2)}`;
  const yes = button('danger', 'Remove');
  yes.dataset['key'] = 'confirm';
  yes.addEventListener('click', () => {
    a.remove();
    a.close();
  });
  const no = button('quiet', 'Cancel');
  no.addEventListener('click', () => a.close());
  const bar = el('div', 'menu-acts');
  bar.append(no, yes);
  arrows(bar);
  menu.setAttribute('role', 'alertdialog');
  menu.setAttribute('aria-describedby', ask.id);
  menu.replaceChildren(ask, bar);
  no.focus();
}

/** The editor of one's own message, in place: Enter saves, Shift+Enter is a new line, Esc cancels. */
export function messageEditor(
  text: string,
  save: (text: string) => void,
  cancel: () => void,
): { box: HTMLElement; input: HTMLTextAreaElement } {
  const box = el('div', 'editor');
  const input = el('textarea', 'edit-box');
  input.value = text;
  input.rows = 1;
  input.dir = 'auto';
  input.setAttribute('aria-label', 'Edit your message');
  const hint = el('span', 'edit-hint', 'Enter saves · Esc cancels');
  hint.id = `edit-hint-${Math.random().toString(36).slice(2)}`;
  input.setAttribute('aria-describedby', hint.id);
  const grow = (): void => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 240)}px`;
  };
  const done = (): void => {
    const t = input.value;
    if (!t.trim()) {
      input.setAttribute('aria-invalid', 'true');
      hint.textContent = 'A message cannot be empty: Remove takes it away. Esc cancels.';
      return;
    }
    save(t);
  };
  input.addEventListener('input', grow);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      done();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      cancel();
    }
  });
  const no = button('quiet', 'Cancel');
  no.addEventListener('click', cancel);
  const yes = button('quiet save', 'Save');
  yes.addEventListener('click', done);
  const bar = el('div', 'edit-bar');
  bar.append(hint, no, yes);
  box.append(input, bar);
  requestAnimationFrame(grow);
  return { box, input };
}
