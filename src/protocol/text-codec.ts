// The plain-text codec, for clients that ask for no subprotocol (wscat, websocat, the tutorial's
// page): a line is a message to the current room, a line starting with `/` is a command.

import { MODERATION_ACTIONS, type ModerationAction } from './moderation-actions.js';
import type { ChangeEntry, ChatMessage } from './types.js';

export type TextCommand =
  | { cmd: 'say'; text: string; me: boolean }
  | { cmd: 'nick'; name: string; key?: string }
  | { cmd: 'join'; room: string }
  | { cmd: 'part'; room?: string }
  | { cmd: 'rooms' }
  | { cmd: 'who'; room?: string }
  | { cmd: 'msg'; to: string; text: string }
  | { cmd: 'history'; limit?: number }
  | { cmd: 'search'; query: string }
  | { cmd: 'register' | 'login'; name: string; password: string }
  | { cmd: 'logout'; everywhere: boolean }
  | { cmd: 'password'; password: string; old?: string }
  | { cmd: 'topic'; text: string }
  | { cmd: 'room'; visibility?: 'public' | 'private'; guests?: boolean }
  | {
      cmd: 'moderate';
      action: ModerationAction;
      name: string;
      duration?: string;
      reason?: string;
    }
  | { cmd: 'edit'; text: string }
  | { cmd: 'delete'; seq?: number }
  | { cmd: 'react'; emoji: string }
  | { cmd: 'reply'; seq: number; text: string }
  | { cmd: 'help' }
  | { cmd: 'quit' }
  | { cmd: 'usage'; usage: string }
  | { cmd: 'unknown'; name: string };

export const TEXT_HELP = [
  'Commands:',
  '  /nick NAME [KEY]  take a name (KEY reclaims a name you took before)',
  '  /join ROOM        join a room and make it current',
  '  /join @NAME       talk with one person: your lines go to them (also /query NAME)',
  '  /part [ROOM]      leave a room (the current one by default)',
  '  /rooms            list rooms and member counts',
  '  /who [ROOM]       list who is in a room',
  '  /me ACTION        say an action: * you ACTION',
  '  /msg NAME TEXT    send a direct message',
  '  /history [N]      show the last N messages of the current room',
  '  /search TERMS     find messages with every term in the rooms you may read',
  '  /register NAME PASSWORD  make an account (a password is one word: no spaces)',
  '  /login NAME PASSWORD     sign in; /logout [all] signs out (all: every session)',
  '  /password [OLD] NEW      set or change your password',
  "  /topic TEXT       set the current room's topic",
  '  /room private|public, /room guests on|off   who may find and join the current room',
  '  /invite NAME, /kick NAME [REASON], /ban NAME [DURATION] [REASON], /unban NAME',
  '  /mute NAME [DURATION], /unmute NAME, /op NAME, /deop NAME   (DURATION: 30m, 2h, 7d)',
  '  /edit TEXT        replace the text of your last message here',
  '  /delete [N]       remove your last message here (or message N: yours, or as a moderator)',
  '  /react EMOJI      react to the last message here (again: take it back)',
  '  /reply N TEXT     answer message N',
  '  /help             this list',
  '  /quit             leave the chat',
  'Anything else is a message to the current room; start it with // to send a leading /.',
].join('\n');

const USAGE: Record<string, string> = {
  nick: '/nick NAME [KEY]',
  join: '/join ROOM',
  me: '/me ACTION',
  msg: '/msg NAME TEXT',
  query: '/query NAME [TEXT]',
  history: '/history [N]',
  search: '/search TERMS',
  register: '/register NAME PASSWORD',
  login: '/login NAME PASSWORD',
  password: '/password [OLD] NEW',
  topic: '/topic TEXT',
  room: '/room private|public|guests on|guests off',
  invite: '/invite NAME',
  kick: '/kick NAME [REASON]',
  ban: '/ban NAME [DURATION] [REASON]',
  unban: '/unban NAME',
  mute: '/mute NAME [DURATION]',
  unmute: '/unmute NAME',
  op: '/op NAME',
  deop: '/deop NAME',
  edit: '/edit TEXT',
  delete: '/delete [N]',
  react: '/react EMOJI',
  reply: '/reply N TEXT',
};

const DURATION = /^\d{1,5}[mhd]$/i;

function isAction(word: string): word is ModerationAction {
  return (MODERATION_ACTIONS as readonly string[]).includes(word);
}

/** Splits off the first word: `('a b c')` → `['a', 'b c']`. */
function firstWord(s: string): [string, string] {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(s.trimStart());
  return m ? [m[1] ?? '', m[2] ?? ''] : ['', ''];
}

export function parseLine(line: string): TextCommand {
  if (!line.startsWith('/')) return { cmd: 'say', text: line, me: false };
  if (line.startsWith('//')) return { cmd: 'say', text: line.slice(1), me: false };
  const [word, rest] = firstWord(line.slice(1));
  const name = word.toLowerCase();
  const usage = (): TextCommand => ({ cmd: 'usage', usage: USAGE[name] ?? '/help' });
  switch (name) {
    case 'nick': {
      const [n, key] = firstWord(rest);
      if (!n) return usage();
      return key ? { cmd: 'nick', name: n, key: key.trim() } : { cmd: 'nick', name: n };
    }
    case 'join': {
      const [room] = firstWord(rest);
      return room ? { cmd: 'join', room } : usage();
    }
    case 'part':
    case 'leave': {
      const [room] = firstWord(rest);
      return room ? { cmd: 'part', room } : { cmd: 'part' };
    }
    case 'rooms':
    case 'list':
      return { cmd: 'rooms' };
    case 'who':
    case 'names': {
      const [room] = firstWord(rest);
      return room ? { cmd: 'who', room } : { cmd: 'who' };
    }
    case 'me':
      return rest.trim() ? { cmd: 'say', text: rest, me: true } : usage();
    case 'msg':
    case 'query': {
      const [to, text] = firstWord(rest);
      // As in IRC clients, `/query NAME` alone opens the conversation.
      if (name === 'query' && to && !text.trim()) {
        return { cmd: 'join', room: to.startsWith('@') ? to : `@${to}` };
      }
      return to && text.trim() ? { cmd: 'msg', to, text } : usage();
    }
    case 'history': {
      const n = rest.trim();
      if (!n) return { cmd: 'history' };
      return /^\d{1,4}$/.test(n) ? { cmd: 'history', limit: Number(n) } : usage();
    }
    case 'search':
      return rest.trim() ? { cmd: 'search', query: rest.trim() } : usage();
    case 'register':
    case 'login': {
      const [n, pw] = firstWord(rest);
      const password = pw.trim();
      return n && password && !/\s/.test(password) ? { cmd: name, name: n, password } : usage();
    }
    case 'logout':
      return { cmd: 'logout', everywhere: rest.trim().toLowerCase() === 'all' };
    case 'password': {
      const words = rest.trim().split(/\s+/).filter(Boolean);
      if (words.length === 1) return { cmd: 'password', password: words[0] ?? '' };
      if (words.length === 2) return { cmd: 'password', old: words[0], password: words[1] ?? '' };
      return usage();
    }
    case 'topic':
      return { cmd: 'topic', text: rest.trim() };
    case 'room': {
      const v = rest.trim().toLowerCase().split(/\s+/).join(' ');
      if (v === 'private' || v === 'public') return { cmd: 'room', visibility: v };
      if (v === 'guests on' || v === 'guests off')
        return { cmd: 'room', guests: v === 'guests on' };
      return usage();
    }
    case 'edit':
      return rest.trim() ? { cmd: 'edit', text: rest } : usage();
    case 'delete': {
      const n = rest.trim();
      if (!n) return { cmd: 'delete' };
      return /^\d{1,15}$/.test(n) ? { cmd: 'delete', seq: Number(n) } : usage();
    }
    case 'react': {
      const emoji = rest.trim();
      return emoji ? { cmd: 'react', emoji } : usage();
    }
    case 'reply': {
      const [n, text] = firstWord(rest);
      return /^\d{1,15}$/.test(n) && text.trim() ? { cmd: 'reply', seq: Number(n), text } : usage();
    }
    case 'help':
      return { cmd: 'help' };
    case 'quit':
      return { cmd: 'quit' };
    default: {
      if (!isAction(name)) return { cmd: 'unknown', name: word };
      const [who, more] = firstWord(rest);
      if (!who) return usage();
      let [first, after] = firstWord(more);
      let duration: string | undefined;
      if ((name === 'ban' || name === 'mute') && DURATION.test(first)) {
        duration = first;
        [first, after] = firstWord(after);
      }
      const reason = [first, after].filter(Boolean).join(' ').trim();
      return {
        cmd: 'moderate',
        action: name,
        name: who,
        ...(duration !== undefined && { duration }),
        ...(reason && { reason }),
      };
    }
  }
}

/** How a text line names a room: `#dev`, or `@alice` for a direct conversation. */
export function textLabel(label: string): string {
  return label.startsWith('@') ? label : `#${label}`;
}

/** Every character a terminal or a reader may break a line at. */
const LINE_BREAK = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/;

/**
 * A message as text lines joined with `\n`. `where` is empty for the reader's current room,
 * else the label put in front (`#dev` or `@alice`). Every line after the first is marked
 * `name| `, so no message can make a line that reads as another person's `name: `.
 */
export function formatMessage(m: Pick<ChatMessage, 'from' | 'text' | 'me'>, where = ''): string {
  const prefix = where ? `[${where}] ` : '';
  const [first = '', ...rest] = m.text.split(LINE_BREAK);
  const head = m.me ? `${prefix}* ${m.from} ${first}` : `${prefix}${m.from}: ${first}`;
  return [head, ...rest.map((l) => `${prefix}${m.from}|${l ? ` ${l}` : ''}`)].join('\n');
}

/** An edit, a removal or a reaction as a readable line, marked as the server's (`* `). */
export function formatChange(e: ChangeEntry, where = ''): string {
  const prefix = where ? `[${where}] ` : '';
  switch (e.kind) {
    case 'edit': {
      const [first = '', ...rest] = e.text.split(LINE_BREAK);
      const head = `${prefix}* ${e.from} edited message ${e.target}: ${first}`;
      return [head, ...rest.map((l) => `${prefix}${e.from}|${l ? ` ${l}` : ''}`)].join('\n');
    }
    case 'delete':
      return `${prefix}* message ${e.target} was removed by ${e.from}`;
    case 'reaction':
      return e.on
        ? `${prefix}* ${e.from} reacted ${e.emoji} to message ${e.target}`
        : `${prefix}* ${e.from} took back ${e.emoji} on message ${e.target}`;
  }
}

/** A removed message as a text line: its place, and whose it was. */
export function formatRemoved(m: Pick<ChatMessage, 'from' | 'seq'>, where = ''): string {
  return `${where ? `[${where}] ` : ''}* (message ${m.seq} of ${m.from} was removed)`;
}
