// What the page remembers: name and token across visits (localStorage), joined rooms per tab
// (sessionStorage). Storage can be disabled or full; the chat then works without memory.

import { LOBBY } from '../protocol/index.js';

const NAME = 'parley.name';
const TOKEN = 'parley.token';
const ROOMS = 'parley.rooms';

function read(area: 'localStorage' | 'sessionStorage', key: string): string | null {
  try {
    return window[area].getItem(key);
  } catch {
    return null;
  }
}

function write(area: 'localStorage' | 'sessionStorage', key: string, value: string): void {
  try {
    window[area].setItem(key, value);
  } catch {
    // Storage unavailable: keep going without it.
  }
}

/** 32 hex digits. randomUUID exists only in secure contexts; plain http on a LAN lacks it. */
export function randomId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID().replace(/-/g, '');
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface Identity {
  name?: string;
  token: string;
}

export function loadIdentity(): Identity {
  const name = read('localStorage', NAME) ?? undefined;
  let token = read('localStorage', TOKEN) ?? '';
  if (token.length < 16) {
    token = randomId();
    write('localStorage', TOKEN, token);
  }
  return name ? { name, token } : { token };
}

export function saveIdentity(id: Identity): void {
  if (id.name) write('localStorage', NAME, id.name);
  write('localStorage', TOKEN, id.token);
}

export interface RoomList {
  rooms: string[];
  current: string;
}

export function loadRooms(): RoomList {
  try {
    const v = JSON.parse(read('sessionStorage', ROOMS) ?? 'null') as Partial<RoomList> | null;
    const rooms = Array.isArray(v?.rooms) ? v.rooms.filter((r) => typeof r === 'string') : [];
    if (rooms.length > 0) {
      const current = typeof v?.current === 'string' ? v.current : (rooms[0] ?? LOBBY);
      return { rooms, current };
    }
  } catch {
    // Fall through to the default.
  }
  return { rooms: [LOBBY], current: LOBBY };
}

export function saveRooms(list: RoomList): void {
  write('sessionStorage', ROOMS, JSON.stringify(list));
}
