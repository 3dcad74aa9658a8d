// What the chat logic needs from the page around it, as interfaces: the view it renders into
// and the storage it remembers with. The page passes the DOM view and localStorage; tests pass
// fakes, so the logic runs without a browser.

import type { ChatMessage } from '../protocol/index.js';
import type { Self } from './message-state.js';
import type { OlderState, SysAction, SysOptions } from './messages.js';
import type { OutboxEntry } from './outbox.js';
import type { ResultOf } from './requests.js';
import type { Identity, RoomList } from './storage.js';
import type { DirectoryItem, MemberPresence, RoomItem } from './view.js';

/** A line of the log the chat wrote itself (connection, presence, command output). */
export interface LogLine {
  /** Still in the log (old lines are trimmed). */
  readonly isConnected: boolean;
}

export interface ChatLog {
  /** Who I am: my messages are told apart by it. */
  setSelf(self: Self): void;
  /** The server's edit window in ms (0: none): an older message of mine offers no edit. */
  setEditWindow(ms: number): void;
  sys(room: string, text: string, cls?: string, opts?: SysOptions): LogLine;
  setSysText(line: LogLine, text: string, action?: SysAction): void;
  isLast(line: LogLine): boolean;
  /** Shows the messages not shown yet, in seq order; returns those it added. */
  insert(room: string, messages: ChatMessage[], live: boolean): ChatMessage[];
  oldestSeq(room: string): number | undefined;
  /** Scrolls to a shown message of the current room and marks it; false when it is not shown. */
  reveal(room: string, seq: number): boolean;
  /** A message's state as shown, or as held for a reply's quote; undefined when neither. */
  message(room: string, seq: number): ChatMessage | undefined;
  /** The newest shown message that `pick` accepts. */
  latest(room: string, pick: (m: ChatMessage) => boolean): ChatMessage | undefined;
  /** Shows a message's new state in place (text, removal, reactions), and in quotes of it. */
  update(room: string, m: ChatMessage): void;
  /** Holds a message that a reply quotes and the log does not show. */
  quoted(room: string, m: ChatMessage): void;
  /** Opens the editor on a shown message of the current room; false when it is not shown. */
  startEdit(room: string, seq: number): boolean;
  setOlder(room: string, state: OlderState): void;
  remove(room: string): void;
  clear(room: string): void;
  scrollToBottom(): void;
  /** The room shown is scrolled to its newest line. */
  atBottom(): boolean;
  /** Shows the "new" line above the first message of someone else after `after`; or none. */
  markNew(room: string, after: number | undefined): void;
}

export interface ChatView {
  readonly log: ChatLog;
  readonly nameInput: { focus(): void };
  readonly namePromptOpen: boolean;
  setMe(self: Self): void;
  setUnseen(n: number): void;
  showRoom(room: string): void;
  setRooms(items: RoomItem[], current: string): void;
  setMembers(
    room: string,
    names: string[],
    me: string,
    presence: (name: string) => MemberPresence,
    /** How many are present, when more than `names` lists. */
    count?: number,
  ): void;
  setTyping(names: string[]): void;
  setPending(entries: OutboxEntry[], me: string, online: boolean): void;
  /** The message the next one sent answers, shown above the message box (none: undefined). */
  setReplying(target: ChatMessage | undefined): void;
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

export type SearchHit = ResultOf<'search'>['results'][number];

/** The search box and its results. */
export interface SearchView {
  /** A page of results: the first replaces what is shown, a later one (`added`) goes below. */
  showResults(results: SearchHit[], next: string | undefined, added: boolean): void;
  /** Says why there are no results (offline, refused). */
  searchNote(text: string): void;
  /** Shows the box with this query (from /search). */
  showQuery(query: string): void;
}

export type ServerRole = ResultOf<'login'>['role'];
export type SessionInfo = ResultOf<'sessions'>['sessions'][number];
export type UserInfo = ResultOf<'users'>['users'][number];
export type AuditEntry = ResultOf<'audit'>['entries'][number];
export type RoomInfo = ResultOf<'room'>;

/** What a person may do in a room: moderate (topic, invite, kick, ban, mute) and own (op). */
export interface Powers {
  moderate: boolean;
  own: boolean;
}

/** The sign-in form's kinds: sign in, sign up (with an invite), the owner's setup, a reset. */
export type AuthMode = 'signin' | 'signup' | 'setup' | 'reset';

/** The page's account, room settings and admin parts. */
export interface AccessView {
  /** Who the page is: a name and server role, or a guest (null). */
  setAccount(name: string, role: ServerRole | null): void;
  openAuth(mode: AuthMode): void;
  /** Signed in: the form closes. */
  authDone(): void;
  authError(text: string): void;
  setSessions(list: SessionInfo[]): void;
  accountNote(text: string, error?: boolean): void;
  /** Signed out: the account menu closes. */
  signedOut(): void;
  /** The room shown: its topic in the header, its settings and people, what I may do there. */
  setRoomAccess(room: string, info: RoomInfo | undefined, can: Powers): void;
  roomNote(text: string, error?: boolean): void;
  setUsers(users: UserInfo[]): void;
  setAudit(entries: AuditEntry[], more: boolean, older: boolean): void;
  setInvite(link: string, uses: number, expires: number): void;
  adminNote(text: string, error?: boolean): void;
}
