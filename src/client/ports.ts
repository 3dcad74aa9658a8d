// What the chat logic needs from the page around it, as interfaces: the view it renders into
// and the storage it remembers with. The page passes the DOM view and localStorage; tests pass
// fakes, so the logic runs without a browser.

import type { ChatMessage } from '../protocol/index.js';
import type { OlderState, SysAction, SysOptions } from './messages.js';
import type { OutboxEntry } from './outbox.js';
import type { Identity, RoomList } from './storage.js';
import type { DirectoryItem, MemberPresence, RoomItem } from './view.js';

/** A line of the log the chat wrote itself (connection, presence, command output). */
export interface LogLine {
  /** Still in the log (old lines are trimmed). */
  readonly isConnected: boolean;
}

export interface ChatLog {
  setMyName(name: string): void;
  sys(room: string, text: string, cls?: string, opts?: SysOptions): LogLine;
  setSysText(line: LogLine, text: string, action?: SysAction): void;
  isLast(line: LogLine): boolean;
  /** Shows the messages not shown yet, in seq order; returns those it added. */
  insert(room: string, messages: ChatMessage[], live: boolean): ChatMessage[];
  oldestSeq(room: string): number | undefined;
  setOlder(room: string, state: OlderState): void;
  remove(room: string): void;
  clear(room: string): void;
  scrollToBottom(): void;
}

export interface ChatView {
  readonly log: ChatLog;
  readonly nameInput: { focus(): void };
  readonly namePromptOpen: boolean;
  setMe(name: string): void;
  setUnseen(n: number): void;
  showRoom(room: string): void;
  setRooms(items: RoomItem[], current: string): void;
  setMembers(
    room: string,
    names: string[],
    me: string,
    presence: (name: string) => MemberPresence,
  ): void;
  setTyping(names: string[]): void;
  setPending(entries: OutboxEntry[], me: string, online: boolean): void;
  setDirectory(note: string, rooms: DirectoryItem[]): void;
  announce(text: string): void;
  openNamePrompt(prefill: string, firstVisit: boolean, error?: string): void;
  closeNamePrompt(): void;
  setNameError(text: string): void;
  setNameBusy(busy: boolean, note?: string): void;
}

/** What the page remembers across reloads. */
export interface ChatStorage {
  saveIdentity(id: Identity): void;
  saveRooms(list: RoomList): void;
  saveClosed(closed: Set<string>): void;
  /** "Later" on the name prompt: not asked again in this tab. */
  skipName(): void;
}
