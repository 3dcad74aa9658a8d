// How `npm run admin` shows times, bans and tables: plain words an operator reads at a terminal.

import { FOREVER, type UserRecord } from '../core/directory.js';

/** A moment in UTC to the minute, the same on every node and in every log. */
export function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Until when a ban lasts, in words. */
export function banSpan(until: number): string {
  return until >= FOREVER ? 'until lifted' : `until ${when(until)}`;
}

/** A user's ban in force now, in words, or "no". */
export function banned(u: UserRecord, now: number): string {
  if (u.bannedUntil === null || u.bannedUntil <= now) return 'no';
  return banSpan(u.bannedUntil) + (u.banReason ? ` (${u.banReason})` : '');
}

/** Rows under a header, each column as wide as its widest cell. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** "1 use", "3 uses". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
