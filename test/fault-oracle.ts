// The delivery contract's oracle and the fault tests' shared helpers (README, "Guarantees"):
// what every client must have at the end, whatever the faults were.

import assert from 'node:assert/strict';
import {
  FaultClient,
  stateKey,
  stateOf,
  type FaultClientStats,
  type MessageState,
} from './fault-client.js';
import type { ChatMessage } from '../src/protocol/index.js';
import { waitFor as waitUntil } from './helpers.js';

/** PARLEY_FAULT_SEED=<n> replays the random choices of a run (timing still varies). */
export const SEED = Number(process.env.PARLEY_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function short(seqs: number[]): string {
  const shown = seqs.slice(0, 12).join(',');
  return seqs.length > 12 ? `${shown},... (${seqs.length})` : shown;
}

/**
 * The oracle. Per client and room: the seqs it has are exactly 1..n, n being the lastSeq of its
 * final join, with none missing or repeated (and the live stream was never out of order: the
 * client records that as a violation). Across clients: every acked (room, cid) is exactly one
 * message of that room, at the seq its ack gave; no seq is acked for two cids; and every message
 * of a room is an acked send (nothing was made up or committed twice).
 */
export function checkContract(clients: FaultClient[]): void {
  const problems: string[] = [];
  for (const c of clients) problems.push(...c.violations);

  const lastSeq = new Map<string, number>();
  const cidAt = new Map<string, Map<number, string>>();
  for (const c of clients) {
    if (c.outbox.size > 0) problems.push(`${c.name}: ${c.outbox.size} sends never acked`);
    for (const v of c.views.values()) {
      const n = v.joinedLastSeq;
      if (n === undefined) {
        problems.push(`${c.name} ${v.room}: no final join result`);
        continue;
      }
      const agreed = lastSeq.get(v.room);
      if (agreed === undefined) lastSeq.set(v.room, n);
      else if (agreed !== n) problems.push(`${v.room}: final lastSeq ${n} vs ${agreed} elsewhere`);
      const counts = new Map<number, number>();
      for (const s of v.seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
      const missing: number[] = [];
      for (let s = 1; s <= n; s++) if (!counts.has(s) && !v.unseen.has(s)) missing.push(s);
      const repeated = [...counts].filter(([, k]) => k > 1).map(([s]) => s);
      const outside = [...counts.keys()].filter((s) => s < 1 || s > n);
      const where = `${c.name} ${v.room} (n=${n})`;
      if (missing.length > 0) problems.push(`${where}: missing seqs ${short(missing)}`);
      if (repeated.length > 0) problems.push(`${where}: repeated seqs ${short(repeated)}`);
      if (outside.length > 0) problems.push(`${where}: seqs outside 1..n ${short(outside)}`);

      let seqToCid = cidAt.get(v.room);
      if (!seqToCid) cidAt.set(v.room, (seqToCid = new Map()));
      for (const [seq, m] of [...v.messages, ...v.changes]) {
        const other = seqToCid.get(seq);
        if (other === undefined) seqToCid.set(seq, m.cid);
        else if (other !== m.cid) {
          problems.push(`${v.room} seq ${seq} is cid ${m.cid} to ${c.name}, ${other} to another`);
        }
      }
    }
  }

  // A seq a client took for a change entry (history left it out) is no message to anyone.
  for (const c of clients) {
    for (const v of c.views.values()) {
      for (const s of v.unseen) {
        if (clients.some((o) => o.views.get(v.room)?.messages.has(s))) {
          problems.push(`${c.name} ${v.room}: history left out seq ${s}, a message`);
        }
      }
    }
  }

  // cid → the seqs it was seen at, per room.
  const seqsOf = new Map<string, Map<string, number[]>>();
  for (const [room, seqToCid] of cidAt) {
    const m = new Map<string, number[]>();
    for (const [seq, cid] of seqToCid) m.set(cid, [...(m.get(cid) ?? []), seq]);
    seqsOf.set(room, m);
  }

  const ackedCid = new Map<string, string>();
  const ackedPerRoom = new Map<string, number>();
  for (const c of clients) {
    for (const a of c.acked.values()) {
      ackedPerRoom.set(a.room, (ackedPerRoom.get(a.room) ?? 0) + 1);
      const key = `${a.room}#${a.seq}`;
      const other = ackedCid.get(key);
      if (other !== undefined && other !== a.cid) {
        problems.push(`${a.room} seq ${a.seq} acked for two cids: ${other} and ${a.cid}`);
      }
      ackedCid.set(key, a.cid);
      const at = seqsOf.get(a.room)?.get(a.cid) ?? [];
      // A change entry inside every client's gap is seen only through its effect.
      const inGap =
        a.kind !== 'send' && clients.some((o) => o.views.get(a.room)?.unseen.has(a.seq));
      if (at.length === 0 && inGap) continue;
      if (at.length === 0) problems.push(`acked ${a.room}/${a.cid} (seq ${a.seq}) never delivered`);
      else if (at.length > 1) problems.push(`acked ${a.room}/${a.cid} stored at seqs ${short(at)}`);
      else if (at[0] !== a.seq)
        problems.push(`acked ${a.room}/${a.cid} as ${a.seq}, seen at ${at[0]}`);
    }
  }
  for (const [room, n] of lastSeq) {
    const acked = ackedPerRoom.get(room) ?? 0;
    if (acked !== n) problems.push(`${room}: ${n} messages but ${acked} acked sends`);
  }

  assert.equal(
    problems.length,
    0,
    `delivery contract broken (seed ${SEED}):\n${problems.slice(0, 40).join('\n')}` +
      (problems.length > 40 ? `\n... and ${problems.length - 40} more` : ''),
  );
}

/** Where every client stands, for a timeout's message. */
export function describeClients(clients: FaultClient[]): string {
  return clients
    .map((c) => {
      const rooms = [...c.views.values()]
        .map(
          (v) => `${v.room} live=${v.liveLast} joined=${v.joinedLastSeq} holes=${v.holes.length}`,
        )
        .join('; ');
      return (
        `  ${c.name}: ready=${c.isReady} epoch=${c.epoch} outbox=${c.outbox.size} ` +
        `violations=${c.violations.length} | ${rooms}`
      );
    })
    .join('\n');
}

/** waitFor from the helpers, with the clients' state (and more) in the timeout's message. */
export async function waitFor(
  cond: () => boolean,
  what: string,
  ms: number,
  clients: FaultClient[],
  more: () => string = () => '',
): Promise<void> {
  try {
    await waitUntil(cond, what, ms);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`${message} (seed ${SEED})\n${describeClients(clients)}\n${more()}`, {
      cause: e,
    });
  }
}

export function total(clients: FaultClient[], key: keyof FaultClientStats): number {
  return clients.reduce((sum, c) => sum + c.stats[key], 0);
}

export function summarize(
  label: string,
  clients: FaultClient[],
  started: number,
  extra = '',
): void {
  const acked = clients.reduce((sum, c) => sum + c.acked.size, 0);
  const reconnects = clients.reduce((sum, c) => sum + c.reconnects, 0);
  console.log(
    `[${label}] seed=${SEED} clients=${clients.length} sent=${total(clients, 'sent')} ` +
      `acked=${acked} resent=${total(clients, 'resent')} ` +
      `lostAcks=${total(clients, 'lostAcks')} idempotentResends=${total(clients, 'idempotentResends')} ` +
      `duplicateAcks=${total(clients, 'duplicateAcks')} drops=${total(clients, 'drops')} ` +
      `reconnects=${reconnects} failedConnects=${total(clients, 'failedConnects')} ` +
      `gaps=${total(clients, 'gaps')} historyPages=${total(clients, 'historyPages')}` +
      `${extra} in ${Date.now() - started} ms`,
  );
}

/** Resolves once every client's outbox is empty: each send it made was acked. */
export async function allAcked(
  clients: FaultClient[],
  ms: number,
  more?: () => string,
): Promise<void> {
  await waitFor(
    () => clients.every((c) => c.outbox.size === 0),
    'every send acked',
    ms,
    clients,
    more,
  );
}

/** Every client reconnects and joins with `since`; resolves when each has caught up. */
export async function finalResync(clients: FaultClient[], more?: () => string): Promise<void> {
  const epochs = clients.map((c) => c.epoch);
  for (const c of clients) c.drop();
  await waitFor(
    () => clients.every((c, i) => c.caughtUp(epochs[i])),
    'every client to rejoin and catch up',
    20_000,
    clients,
    more,
  );
}

/** Every message of a room in its current state, paged from the HTTP history. */
export async function storedStates(port: number, room: string): Promise<Map<number, MessageState>> {
  const out = new Map<number, MessageState>();
  let before: number | undefined;
  for (;;) {
    const q = before === undefined ? 'limit=200' : `limit=200&before=${before}`;
    const res = await fetch(`http://127.0.0.1:${port}/api/rooms/${room}/messages?${q}`);
    const page = (await res.json()) as { messages: ChatMessage[]; more: boolean };
    for (const m of page.messages) out.set(m.seq, stateOf(m));
    const first = page.messages[0];
    if (!first || !page.more) return out;
    before = first.seq;
  }
}

/**
 * Every client ends with the same state of every message, the store's: each edit, removal and
 * reaction reached it, live, replayed, or through history and `changes` after a gap.
 */
export async function checkStates(clients: FaultClient[], port: number): Promise<void> {
  const problems: string[] = [];
  const rooms = new Set(clients.flatMap((c) => c.rooms));
  for (const room of rooms) {
    const truth = await storedStates(port, room);
    for (const c of clients) {
      const v = c.views.get(room);
      if (!v) continue;
      for (const [seq, want] of truth) {
        const have = v.state.get(seq);
        if (!have) problems.push(`${c.name} ${room} seq ${seq}: no state`);
        else if (stateKey(have) !== stateKey(want)) {
          problems.push(
            `${c.name} ${room} seq ${seq}: ${stateKey(have)} vs stored ${stateKey(want)}`,
          );
        }
      }
    }
  }
  assert.equal(
    problems.length,
    0,
    `message states differ (seed ${SEED}):\n${problems.slice(0, 40).join('\n')}` +
      (problems.length > 40 ? `\n... and ${problems.length - 40} more` : ''),
  );
}

/**
 * One step of a client's traffic: mostly a send; now and then an edit or a removal of one of
 * its own acked messages, or a reaction (put or taken back) on any message it has.
 */
export function step(random: () => number, c: FaultClient, i: number): void {
  const room = pick(random, c.rooms);
  const v = c.views.get(room);
  const own = [...c.acked.values()].filter((a) => a.room === room && a.kind === 'send');
  const known = v ? [...v.messages.keys()] : [];
  const r = random();
  if (r < 0.15 && own.length > 0) {
    c.ask(room, { type: 'edit', seq: pick(random, own).seq, text: `edit ${i} by ${c.name}` });
  } else if (r < 0.2 && own.length > 0) {
    c.ask(room, { type: 'delete', seq: pick(random, own).seq });
  } else if (r < 0.35 && known.length > 0) {
    c.ask(room, {
      type: 'react',
      seq: pick(random, known),
      emoji: pick(random, ['👍', '🎉', '❤️']),
    });
  } else {
    c.send(room, `message ${i} from ${c.name}`);
  }
}
