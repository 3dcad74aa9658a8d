// The scenarios (what load, how many clients, which rooms) and the sides each one compares:
// the servers, or in the cluster scenario one node against two.

import { FLOOR_KINDS, type Options, type ServerKind } from './options.js';

export interface Scenario {
  name: string;
  title: string;
  clients: number;
  /** 0: everyone in the one room the server puts them in (the lobby); K: K rooms via /join. */
  rooms: number;
  /** Messages per second, all senders together. */
  rate: number;
  sendersPerRoom: number;
  idle: boolean;
  /**
   * Parley alone on PostgreSQL + Redis: one node, then two nodes with the clients (and the
   * senders) split evenly between them, compared with each other instead of with plain ws.
   */
  cluster?: boolean;
  /** Message text length in bytes. */
  messageBytes: number;
  /**
   * Clients that connect before each window and stop reading as it starts (slow consumers);
   * the others are measured. Each such window is paired with one of `baseline`, the same load
   * without them, run beside it in the same server process.
   */
  stalled: number;
  baseline?: string;
  /** Windows (pairs) to count at the least, whatever --windows says. */
  minWindows?: number;
  /**
   * Idle scenarios: the clients come from this many loopback addresses (127.0.0.2 and on), so
   * that no one source address runs short of ports, and the memory is also measured when half
   * of them are connected: the second half's cost per connection is the margin, without what
   * the first connections cost once (the young generation growing, code compiled).
   */
  sourceAddresses?: number;
  /** Idle scenarios: the bare `ws` and `net` servers (bench/floor-server.ts) run too, as floors. */
  floor?: boolean;
}

export function scenarios(quick: boolean): Scenario[] {
  const q = (full: number, small: number) => (quick ? small : full);
  const one2 = q(2000, 400);
  const one1 = q(1000, 200);
  const rooms = q(50, 10);
  const perRoom = q(40, 20);
  const idle = q(10_000, 2000);
  // The file limit is 20,000 a process: 19,000 and the server's own leave room to spare.
  const idleMax = q(19_000, 4000);
  const cluster = q(1000, 200);
  const slow = q(500, 100);
  const stalled = q(10, 2);
  const common = { messageBytes: 100, stalled: 0 };
  return [
    {
      name: 'one-room-2000',
      title: `${one2} clients in one room, 10 senders, 100 msg/s in all`,
      clients: one2,
      rooms: 0,
      rate: 100,
      sendersPerRoom: 10,
      idle: false,
      ...common,
    },
    {
      name: 'one-room-1000',
      title: `${one1} clients in one room, 10 senders, 50 msg/s in all`,
      clients: one1,
      rooms: 0,
      rate: 50,
      sendersPerRoom: 10,
      idle: false,
      ...common,
    },
    {
      name: 'rooms-50x40',
      title: `${rooms} rooms of ${perRoom} clients, 2 senders a room, ${rooms * 5} msg/s in all`,
      clients: rooms * perRoom,
      rooms,
      rate: rooms * 5,
      sendersPerRoom: 2,
      idle: false,
      ...common,
    },
    // 2,000 messages a second, 80,000 deliveries: a load the server can take with headroom, at
    // which no message should be held to gather.
    {
      name: 'rooms-50x40-2000',
      title: `${rooms} rooms of ${perRoom} clients, 2 senders a room, ${rooms * 40} msg/s in all`,
      clients: rooms * perRoom,
      rooms,
      rate: rooms * 40,
      sendersPerRoom: 2,
      idle: false,
      ...common,
    },
    {
      name: 'idle-10000',
      title: `${idle} idle connections`,
      clients: idle,
      rooms: 0,
      rate: 0,
      sendersPerRoom: 0,
      idle: true,
      ...common,
    },
    {
      name: 'idle-19000',
      title:
        `${idleMax} idle connections from 8 loopback addresses, measured at half and at all; ` +
        'beside a bare net server as the floor',
      clients: idleMax,
      rooms: 0,
      rate: 0,
      sendersPerRoom: 0,
      idle: true,
      sourceAddresses: 8,
      floor: true,
      ...common,
    },
    {
      name: 'cluster-2',
      title:
        `${cluster} clients in one room, 10 senders, 50 msg/s in all, Parley on PostgreSQL + Redis: ` +
        '1 node, then 2 nodes with the clients and senders split evenly',
      clients: cluster,
      rooms: 0,
      rate: 50,
      sendersPerRoom: 10,
      idle: false,
      cluster: true,
      ...common,
    },
    // 4 KiB messages, so that a client that stops reading fills the kernel's buffers and then
    // the server's own within a window (200 KiB/s each).
    {
      name: 'slow-base',
      title:
        `${slow} clients in one room, 10 senders, 50 msg/s of 4 KiB in all ` +
        '(the baseline of slow-stalled: run with it, one window of each in turn)',
      clients: slow,
      rooms: 0,
      rate: 50,
      sendersPerRoom: 10,
      idle: false,
      messageBytes: 4096,
      stalled: 0,
    },
    {
      name: 'slow-stalled',
      title: `slow-base with ${stalled} more clients that connect before each window and stop reading as it starts`,
      clients: slow,
      rooms: 0,
      rate: 50,
      sendersPerRoom: 10,
      idle: false,
      messageBytes: 4096,
      stalled,
      baseline: 'slow-base',
      // A 10 s window's p99 here moves by up to 2x from one window to the next, with or without
      // stalled clients: the ratio needs more pairs than the other scenarios need windows.
      minWindows: 5,
    },
  ];
}

const SERVER_NAMES: Record<ServerKind, string> = {
  parley: 'Parley',
  plain: 'plain ws',
  prefab: 'prefab ref',
  ws: 'bare ws',
  net: 'bare net',
};

/** One column of a scenario's table: a server, or in the cluster scenario a number of nodes. */
export interface SideSpec {
  /** Key in the results: parley, plain or prefab; 1-node or 2-nodes in the cluster scenario. */
  key: string;
  label: string;
  /** How the ratio column calls it when it is the base. */
  short: string;
  kind: ServerKind;
  /** Parley nodes on PostgreSQL + Redis; 0: one server on its own store (Parley: SQLite). */
  nodes: number;
}

export const NODE_NAMES = ['A', 'B', 'C', 'D'];

/** The sides of a scenario, and the one the others are divided by (if it runs). */
export function sideSpecs(
  sc: Scenario,
  opts: Options,
): { specs: SideSpec[]; base: string | undefined } {
  if (sc.cluster) {
    if (!opts.servers.includes('parley')) return { specs: [], base: undefined };
    return {
      specs: [1, 2].map((n) => ({
        key: n === 1 ? '1-node' : `${n}-nodes`,
        label: n === 1 ? '1 node' : `${n} nodes`,
        short: n === 1 ? '1 node' : `${n} nodes`,
        kind: 'parley',
        nodes: n,
      })),
      base: '1-node',
    };
  }
  // The floor servers only hold connections; the floor scenarios run them whatever --servers says.
  const kinds = opts.servers.filter((k) => !FLOOR_KINDS.includes(k) || sc.idle);
  if (sc.floor) for (const k of FLOOR_KINDS) if (!kinds.includes(k)) kinds.push(k);
  return {
    specs: kinds.map((k) => ({
      key: k,
      label: SERVER_NAMES[k],
      short: k,
      kind: k,
      nodes: 0,
    })),
    base: opts.servers.includes('plain') ? 'plain' : undefined,
  };
}
