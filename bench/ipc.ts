// Messages between bench/run.ts and the load generator (bench/loadgen.ts), over Node's IPC channel.

export interface ConnectCommand {
  cmd: 'connect';
  /** One URL per node: client i connects to `urls[i % urls.length]` and is on node i mod that. */
  urls: string[];
  n: number;
  /** Handshakes in flight at once. */
  concurrency: number;
  /** 0: everyone stays where the server puts them; K: client i sends `/join room<i % K>`. */
  rooms: number;
  /** WebSocket subprotocol to ask for; none gives Parley's text mode. */
  protocol?: string;
  /** How long to wait for every client's first frame (or join confirmation). */
  readyTimeoutMs: number;
  /** `raw`: a minimal WebSocket client on net.Socket (light); `ws`: the ws package's client. */
  client: 'raw' | 'ws';
  /** Client i connects from 127.0.0.(2 + i mod this) (loopback); unset: from the default. */
  sourceAddresses?: number;
}

export interface SettleCommand {
  cmd: 'settle';
  /** Done once no frame arrived for this long. */
  quietMs: number;
  maxMs: number;
}

export interface RunCommand {
  cmd: 'run';
  /** 0-9, embedded in every message so that stragglers of another window are not counted. */
  phase: number;
  /** Messages per second, all senders together. */
  rate: number;
  /** Senders per room, spread evenly over the nodes the room's clients are on. */
  sendersPerRoom: number;
  durationMs: number;
  /**
   * After the last send, wait for the deliveries still in flight: until all are in, or no frame
   * at all came for `quietMs`, or `drainMs` passed. An overloaded server delivers its backlog
   * late; only what has not come by then is counted as loss.
   */
  drainMs: number;
  quietMs: number;
  /** Message text length in bytes (the marker and padding). */
  messageBytes: number;
}

/**
 * The last `n` clients (never senders: those are the first ready ones) stop reading their
 * sockets for good, as a client on a dead network or a frozen tab does. They are left out of
 * the expected deliveries from then on.
 */
export interface StallCommand {
  cmd: 'stall';
  n: number;
}

/**
 * The stalled clients are closed from this side (paused, they do not see the server close them
 * either), as a dead peer's connection is at last torn down, so the next window starts without
 * them.
 */
export interface ReleaseCommand {
  cmd: 'release';
}

export interface CloseCommand {
  cmd: 'close';
}

export type Command =
  ConnectCommand | SettleCommand | RunCommand | StallCommand | ReleaseCommand | CloseCommand;

export interface ConnectResult {
  opened: number;
  failed: number;
  errors: string[];
  /** From the first handshake started to the last one completed. */
  handshakeMs: number;
  /** Clients whose first frame (or join confirmation) arrived. */
  ready: number;
  readyMs: number;
  /** Every frame received while connecting (welcome, presence lines, ...). */
  frames: number;
}

export interface SettleResult {
  ms: number;
  frames: number;
  quiet: boolean;
}

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Deliveries of one kind: sender and receiver on the same node, or on different nodes. */
export interface DeliveryClass {
  /** Deliveries of this kind that the window's sends called for. */
  expected: number;
  /** Deliveries of this kind received (duplicates included). */
  received: number;
  latency: LatencySummary;
}

export interface RunResult {
  sent: number;
  expected: number;
  received: number;
  /** Frames with this window's marker beyond the expected count (duplicates). */
  extra: number;
  /** Clients in the senders' rooms that got none of this window's messages. */
  silentClients: number;
  sendMs: number;
  /** From the first send to the last delivery of this window. */
  spanMs: number;
  drained: boolean;
  latency: LatencySummary;
  /** How far the send schedule slipped at worst (the load generator's own lag). */
  maxScheduleSlipMs: number;
  /** Senders per node (index = node). */
  sendersPerNode: number[];
  /** Deliveries expected and received, by the node of the message's sender (index = node). */
  bySenderNode: { expected: number; received: number }[];
  /** The deliveries split by where the sender and the receiver are connected. */
  sameNode: DeliveryClass;
  crossNode: DeliveryClass;
  /** Clients that stopped reading (left out of `expected`). */
  stalled: number;
}

export type Request = Command & { id: number };
export type Reply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Commands to bench/server-hook.mjs inside a server under test. */
export type HookCommand =
  { cmd: 'gc' } | { cmd: 'prof-start'; intervalUs?: number } | { cmd: 'prof-stop'; file: string };
