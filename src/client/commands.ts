// A line from the message box: a message, or a command when it starts with `/`. The checks a
// command's words need happen here; what it does is the chat's (CommandActions).

import {
  ERRORS,
  type AccessRequest,
  TEXT_HELP,
  isDirect,
  normalizeName,
  normalizeRoom,
  parseLine,
  type TextCommand,
} from '../protocol/index.js';
import { HISTORY_PAGE } from './history-sync.js';

export interface CommandActions {
  current(): string;
  /** Queues a message (answering `replyTo`); its cid, or undefined when refused (said why). */
  say(room: string, text: string, me: boolean, replyTo?: number): string | undefined;
  /** /edit, /delete, /react on the current room's messages; false keeps the draft. */
  edit(text: string): boolean;
  remove(seq: number | undefined): boolean;
  react(emoji: string): boolean;
  /** A direct message went into the outbox: the room it was typed in follows it. */
  sentTo(cid: string, room: string): void;
  sys(text: string, cls?: string): void;
  /** Connected and greeted; else says to wait. */
  online(): boolean;
  rename(name: string, key: string | undefined): void;
  joinRoom(room: string): void;
  part(room: string): void;
  listRooms(): void;
  who(room: string): void;
  history(limit: number): void;
  /** An account or room command, as its request. */
  ask(req: AccessRequest): void;
  /** /search: shown in the search box. */
  search(query: string): void;
}

const NOT_DIRECT = 'That is for rooms; a direct conversation has no settings.';

/** False when the text could not go as it is, so the box keeps the draft. */
export function runLine(line: string, a: CommandActions): boolean {
  if (!line.trim()) return true;
  const c = parseLine(line);
  switch (c.cmd) {
    case 'say':
      return a.say(a.current(), c.text, c.me) !== undefined;
    case 'edit':
      return a.edit(c.text);
    case 'delete':
      return a.remove(c.seq);
    case 'react':
      return a.react(c.emoji);
    case 'reply':
      return a.say(a.current(), c.text, false, c.seq) !== undefined;
    case 'msg': {
      const to = normalizeName(c.to);
      if (!to) {
        a.sys(ERRORS.NAME_INVALID.message, 'error');
        return false;
      }
      const room = `@${to.key}`;
      const cid = a.say(room, c.text, false);
      if (cid === undefined) return false;
      a.sentTo(cid, room);
      return true;
    }
    case 'nick': {
      if (!normalizeName(c.name)) a.sys(ERRORS.NAME_INVALID.message, 'error');
      else if (a.online()) a.rename(c.name, c.key);
      return true;
    }
    case 'join':
      a.joinRoom(c.room);
      return true;
    case 'part':
      a.part(c.room ?? a.current());
      return true;
    case 'rooms':
      if (a.online()) a.listRooms();
      return true;
    case 'who': {
      const room = c.room ? (isDirect(c.room) ? c.room : normalizeRoom(c.room)?.key) : a.current();
      if (room === undefined) a.sys(ERRORS.ROOM_INVALID.message, 'error');
      else if (a.online()) a.who(room);
      return true;
    }
    case 'history':
      if (a.online()) a.history(c.limit ?? HISTORY_PAGE);
      return true;
    case 'search':
      if (a.online()) a.search(c.query);
      return true;
    case 'register':
    case 'login':
      if (a.online()) a.ask({ type: c.cmd, name: c.name, password: c.password });
      return true;
    case 'logout':
      if (a.online())
        a.ask(c.everywhere ? { type: 'logout', everywhere: true } : { type: 'logout' });
      return true;
    case 'password':
      if (a.online())
        a.ask({ type: 'password', password: c.password, ...(c.old && { old: c.old }) });
      return true;
    case 'topic':
    case 'room':
    case 'moderate': {
      const room = a.current();
      if (isDirect(room)) a.sys(NOT_DIRECT, 'error');
      else if (a.online()) a.ask(roomRequest(c, room));
      return true;
    }
    case 'help':
      for (const l of TEXT_HELP.split('\n')) a.sys(l, 'help');
      a.sys('In this page: /who lists the members; Enter sends, Shift+Enter is a new line.');
      a.sys(
        "Each message's ⋯ menu replies, reacts, edits and removes; Up in an empty box edits your last message.",
      );
      return true;
    case 'quit':
      a.sys('To leave, close this tab.');
      return true;
    case 'usage':
      a.sys(`Usage: ${c.usage}`, 'error');
      return false;
    case 'unknown':
      a.sys(`Unknown command /${c.name}; /help lists them.`, 'error');
      return false;
  }
}

type RoomCommand = Extract<TextCommand, { cmd: 'topic' | 'room' | 'moderate' }>;

/** A room command as its request on `room`. */
function roomRequest(c: RoomCommand, room: string): AccessRequest {
  switch (c.cmd) {
    case 'topic':
      return { type: 'settings', room, topic: c.text };
    case 'room':
      return {
        type: 'settings',
        room,
        ...(c.visibility && { visibility: c.visibility }),
        ...(c.guests !== undefined && { guests: c.guests }),
      };
    case 'moderate':
      return {
        type: 'moderate',
        room,
        action: c.action,
        name: c.name,
        ...(c.duration !== undefined && { duration: c.duration }),
        ...(c.reason !== undefined && { reason: c.reason }),
      };
  }
}
