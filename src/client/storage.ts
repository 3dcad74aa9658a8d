// What the page remembers: name and token across visits, the rooms you are in and the direct
// conversations you closed (localStorage), the room this tab shows (sessionStorage). Storage
// can be disabled or full; the chat then works without memory.

import { LOBBY } from '../protocol/index.js';

const NAME = 'parley.name';
const TOKEN = 'parley.token';
const ROOMS = 'parley.rooms';
const CURRENT = 'parley.current';
const CLOSED = 'parley.closed';
const SKIPPED = 'parley.skipName';
const ROLE = 'parley.role';
const ROLES = ['owner', 'admin', 'moderator', 'member'] as const;

type Area = 'localStorage' | 'sessionStorage';

function read(area: Area, key: string): string | null {
  try {
    return window[area].getItem(key);
  } catch {
    return null;
  }
}

function write(area: Area, key: string, value: string): void {
  try {
    window[area].setItem(key, value);
  } catch {
    // Storage unavailable: keep going without it.
  }
}

function readList(area: Area, key: string): string[] | null {
  try {
    const v = JSON.parse(read(area, key) ?? 'null') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null;
  } catch {
    return null;
  }
}

/** 32 hex digits. randomUUID exists only in secure contexts; plain http on a LAN lacks it. */
export function randomId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID().replace(/-/g, '');
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export const GUEST_PREFIX = 'guest-';

export interface Identity {
  name?: string;
  token: string;
  /** The server role a sign-in gave (the hello does not say it). */
  role?: (typeof ROLES)[number];
}

export function loadIdentity(): Identity {
  const name = read('localStorage', NAME) ?? undefined;
  let token = read('localStorage', TOKEN) ?? '';
  if (token.length < 16) {
    token = randomId();
    write('localStorage', TOKEN, token);
  }
  const role = ROLES.find((r) => r === read('localStorage', ROLE));
  return { ...(name && { name }), token, ...(role && { role }) };
}

/** Only chosen names are kept (a guest name leaves the chosen one to try again): guest names are handed out by the server per token. */
export function saveIdentity(id: Identity): void {
  if (id.name && !id.name.startsWith(GUEST_PREFIX)) write('localStorage', NAME, id.name);
  // Signed out: no name to claim next time.
  else if (id.name === undefined) forget(NAME);
  write('localStorage', TOKEN, id.token);
  if (id.role) write('localStorage', ROLE, id.role);
  else forget(ROLE);
}

function forget(key: string): void {
  try {
    localStorage.removeItem(key);
  } catch {
    // Storage unavailable: nothing was kept.
  }
}

/** A name was chosen in this browser, so the first-visit prompt is not needed. */
export function hasChosenName(id: Identity): boolean {
  return !!id.name && !id.name.startsWith(GUEST_PREFIX);
}

/** "Later" on the name prompt: not asked again in this tab. */
export function nameSkipped(): boolean {
  return read('sessionStorage', SKIPPED) === '1';
}

export function skipName(): void {
  write('sessionStorage', SKIPPED, '1');
}

export interface RoomList {
  rooms: string[];
  current: string;
}

export function loadRooms(): RoomList {
  const rooms = readList('localStorage', ROOMS) ?? [LOBBY];
  const current = read('sessionStorage', CURRENT) ?? rooms[0] ?? LOBBY;
  return { rooms, current };
}

export function saveRooms(list: RoomList): void {
  write('localStorage', ROOMS, JSON.stringify(list.rooms));
  write('sessionStorage', CURRENT, list.current);
}

/** Direct conversations closed from the sidebar; a new message opens one again. */
export function loadClosed(): Set<string> {
  return new Set(readList('localStorage', CLOSED) ?? []);
}

export function saveClosed(closed: Set<string>): void {
  write('localStorage', CLOSED, JSON.stringify([...closed]));
}

/** The browser's storage as the chat logic sees it. */
export const browserStorage = { saveIdentity, saveRooms, saveClosed, skipName };
