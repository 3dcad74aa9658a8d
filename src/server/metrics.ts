// Prometheus metrics on /metrics. The core reports through its Telemetry port; the gateway
// counts connections, slow consumers and refused handshakes.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Telemetry } from '../core/index.js';

export interface Metrics {
  registry: Registry;
  telemetry: Telemetry;
  connections: Gauge;
  slowConsumers: Counter;
  handshakesRefused: Counter<'reason'>;
  httpRefused: Counter<'reason'>;
  socketsRefused: Counter;
  /** Where each scrape reads the fan-out's gather window (ms) and frame counts from. */
  watchFanout(read: () => FanoutState): void;
  /** Where each scrape reads the store's checkpoint counts from (SQLite only). */
  watchCheckpoints(read: () => { ok: number; failed: number }): void;
}

/** The fan-out's FlushSchedule as a scrape reads it. */
export interface FanoutState {
  windowMs: number;
  /** Frames written at the end of the turn that queued them, and held to gather with later ones. */
  promptFrames: number;
  heldFrames: number;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  let fanout: () => FanoutState = () => ({ windowMs: 0, promptFrames: 0, heldFrames: 0 });
  new Gauge({
    name: 'parley_fanout_gather_window_seconds',
    help: 'How long a busy socket gathers frames into one write now: 0 unless near saturation',
    registers: [registry],
    collect() {
      this.set(fanout().windowMs / 1000);
    },
  });
  new Counter({
    name: 'parley_fanout_frames_total',
    help: 'Frames written, by when: at the end of the turn that made them, or held to gather',
    labelNames: ['when'],
    registers: [registry],
    collect() {
      const f = fanout();
      this.reset();
      this.inc({ when: 'turn' }, f.promptFrames);
      this.inc({ when: 'held' }, f.heldFrames);
    },
  });
  let checkpoints: (() => { ok: number; failed: number }) | undefined;
  new Counter({
    name: 'parley_sqlite_checkpoints_total',
    help: 'Checkpoints of the SQLite WAL by the checkpoint thread, by result (ok, failed)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      if (!checkpoints) return;
      const { ok, failed } = checkpoints();
      this.reset();
      this.inc({ result: 'ok' }, ok);
      this.inc({ result: 'failed' }, failed);
    },
  });
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  const messagesIn = new Counter({
    name: 'parley_messages_in_total',
    help: 'Send requests received',
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'parley_deliveries_total',
    help: 'Messages written to connections',
    labelNames: ['kind'],
    registers: [registry],
  });
  const fanoutTime = new Histogram({
    name: 'parley_fanout_seconds',
    help: 'Time to hand one committed message to every local member',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [registry],
  });
  const commit = new Histogram({
    name: 'parley_store_commit_seconds',
    help: 'Time of one group commit to the store',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  const committed = new Counter({
    name: 'parley_messages_committed_total',
    help: 'Messages committed',
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'parley_refusals_total',
    help: 'Requests refused, by error code (RATE_LIMITED, validation codes, ...)',
    labelNames: ['code'],
    registers: [registry],
  });
  const live = deliveries.labels('live');
  const replay = deliveries.labels('replay');
  return {
    registry,
    telemetry: {
      messageIn: () => messagesIn.inc(),
      committed: (count, ms) => {
        committed.inc(count);
        commit.observe(ms / 1000);
      },
      fannedOut: (n, ms) => {
        live.inc(n);
        fanoutTime.observe(ms / 1000);
      },
      replayed: (n) => replay.inc(n),
      refused: (code) => refusals.inc({ code }),
    },
    connections: new Gauge({
      name: 'parley_connections',
      help: 'Open WebSocket connections',
      registers: [registry],
    }),
    slowConsumers: new Counter({
      name: 'parley_slow_consumers_total',
      help: 'Connections closed with 1013 because their send buffer was full',
      registers: [registry],
    }),
    handshakesRefused: new Counter({
      name: 'parley_handshakes_refused_total',
      help: 'Upgrades refused, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    httpRefused: new Counter({
      name: 'parley_http_refused_total',
      help: 'HTTP requests refused before any route, by reason (rate, host, metrics)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    socketsRefused: new Counter({
      name: 'parley_sockets_refused_total',
      help: 'TCP connections closed at accept: too many open from one address',
      registers: [registry],
    }),
    watchFanout(read) {
      fanout = read;
    },
    watchCheckpoints(read) {
      checkpoints = read;
    },
  };
}
