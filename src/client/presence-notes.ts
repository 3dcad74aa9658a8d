// The lines a room's log shows for people coming and going, kept few: consecutive joins,
// leaves and renames share one line ("ada and bob joined; carl left."); a leave waits a little
// and is dropped when the same name joins again (a reload or a reconnect); a guest who takes a
// name soon after joining reads as one join under that name.

import { foldKey, nameList } from '../protocol/index.js';
import type { ChatLog, LogLine } from './ports.js';

/** How long a leave waits for the same name to come back before it is said. */
export const LEAVE_GRACE_MS = 10_000;
/** A rename this soon after the join shows as the join under the new name. */
const RENAME_FOLDS_MS = 5 * 60_000;
/** A run of presence lines stays one line for at most this long. */
const RUN_MS = 5 * 60_000;

interface Run {
  room: string;
  line: LogLine;
  start: number;
  joined: string[];
  left: string[];
  renamed: [string, string][];
}

function runText(r: Run): string {
  const parts: string[] = [];
  if (r.joined.length) parts.push(`${nameList(r.joined)} joined`);
  if (r.left.length) parts.push(`${nameList(r.left)} left`);
  for (const [from, to] of r.renamed) parts.push(`${from} is now known as ${to}`);
  return `${parts.join('; ')}.`;
}

export class PresenceNotes {
  readonly #runs = new Map<string, Run>();
  readonly #leaving = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #joins = new Map<string, { run: Run; at: number }>();

  readonly #log: ChatLog;

  constructor(log: ChatLog) {
    this.#log = log;
  }

  join(room: string, name: string): void {
    const k = key(room, name);
    const held = this.#leaving.get(k);
    if (held !== undefined) {
      // Gone and back within the grace: a reconnect, nothing to tell.
      clearTimeout(held);
      this.#leaving.delete(k);
      return;
    }
    const run = this.#run(room);
    run.joined.push(name);
    const now = Date.now();
    for (const [n, j] of this.#joins) if (now - j.at >= RENAME_FOLDS_MS) this.#joins.delete(n);
    this.#joins.set(k, { run, at: now });
    this.#render(run);
  }

  leave(room: string, name: string): void {
    const k = key(room, name);
    if (this.#leaving.has(k)) return;
    this.#leaving.set(
      k,
      setTimeout(() => {
        this.#leaving.delete(k);
        const run = this.#run(room);
        run.left.push(name);
        this.#render(run);
      }, LEAVE_GRACE_MS),
    );
  }

  rename(room: string, from: string, to: string): void {
    const k = key(room, from);
    const j = this.#joins.get(k);
    this.#joins.delete(k);
    const i = j ? j.run.joined.indexOf(from) : -1;
    if (j && i >= 0 && Date.now() - j.at < RENAME_FOLDS_MS && j.run.line.isConnected) {
      j.run.joined[i] = to;
      this.#joins.set(key(room, to), j);
      this.#render(j.run);
      return;
    }
    const run = this.#run(room);
    run.renamed.push([from, to]);
    this.#render(run);
  }

  /** The connection is gone: what comes next is a fresh member list, not news. */
  reset(): void {
    for (const t of this.#leaving.values()) clearTimeout(t);
    this.#leaving.clear();
    this.#runs.clear();
    this.#joins.clear();
  }

  /** The room's open run, when nothing else came after its line; else a new one. */
  #run(room: string): Run {
    const r = this.#runs.get(room);
    if (r && this.#log.isLast(r.line) && Date.now() - r.start < RUN_MS) return r;
    const line = this.#log.sys(room, '', 'presence');
    const run: Run = { room, line, start: Date.now(), joined: [], left: [], renamed: [] };
    this.#runs.set(room, run);
    return run;
  }

  #render(r: Run): void {
    this.#log.setSysText(r.line, runText(r));
  }
}

function key(room: string, name: string): string {
  return `${room}\n${foldKey(name)}`;
}
