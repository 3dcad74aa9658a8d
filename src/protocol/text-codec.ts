// The plain-text codec, for clients that ask for no subprotocol (wscat, websocat, the tutorial's
// page): a line is a message to the current room, a line starting with `/` is a command.

import type { ChatMessage } from './types.js';

export type TextCommand =
  | { cmd: 'say'; text: string; me: boolean }
  | { cmd: 'nick'; name: string; key?: string }
  | { cmd: 'join'; room: string }
  | { cmd: 'part'; room?: string }
  | { cmd: 'rooms' }
  | { cmd: 'who'; room?: string }
  | { cmd: 'msg'; to: string; text: string }
  | { cmd: 'history'; limit?: number }
  | { cmd: 'help' }
  | { cmd: 'quit' }
  | { cmd: 'usage'; usage: string }
  | { cmd: 'unknown'; name: string };

export const TEXT_HELP = [
  'Commands:',
  '  /nick NAME [KEY]  take a name (KEY reclaims a name you took before)',
  '  /join ROOM        join a room and make it current',
  '  /part [ROOM]      leave a room (the current one by default)',
  '  /rooms            list rooms and member counts',
  '  /who [ROOM]       list who is in a room',
  '  /me ACTION        say an action: * you ACTION',
  '  /msg NAME TEXT    send a direct message',
  '  /history [N]      show the last N messages of the current room',
  '  /help             this list',
  '  /quit             leave the chat',
  'Anything else is a message to the current room; start it with // to send a leading /.',
].join('\n');

const USAGE: Record<string, string> = {
  nick: '/nick NAME [KEY]',
  join: '/join ROOM',
  me: '/me ACTION',
  msg: '/msg NAME TEXT',
  history: '/history [N]',
};

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
      return to && text.trim() ? { cmd: 'msg', to, text } : usage();
    }
    case 'history': {
      const n = rest.trim();
      if (!n) return { cmd: 'history' };
      return /^\d{1,4}$/.test(n) ? { cmd: 'history', limit: Number(n) } : usage();
    }
    case 'help':
      return { cmd: 'help' };
    case 'quit':
      return { cmd: 'quit' };
    default:
      return { cmd: 'unknown', name: word };
  }
}

/**
 * A message as a text line. `where` is empty for the reader's current room, else the label
 * put in front (`#dev` or `@alice`).
 */
export function formatMessage(m: Pick<ChatMessage, 'from' | 'text' | 'me'>, where = ''): string {
  const prefix = where ? `[${where}] ` : '';
  return m.me ? `${prefix}* ${m.from} ${m.text}` : `${prefix}${m.from}: ${m.text}`;
}
