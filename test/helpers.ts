// Shared test helpers: real servers on port 0 with a fresh data folder, and real clients.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startParley, type RunningServer } from '../src/server/app.js';
import type { Config } from '../src/server/config.js';
import type { ServerEvent } from '../src/protocol/index.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Stops the server and removes its data folder. */
  dispose(): Promise<void>;
}

export function tempDir(prefix = 'parley-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Every test client comes from 127.0.0.1: tests of other things get per-address limits out of
 * their way, and the tests of those limits set them (to the defaults) themselves.
 */
export const LENIENT_ADDRESS_LIMITS: Partial<Config> = {
  addressRatePerSecond: 1_000_000,
  addressRateBurst: 1_000_000,
  addressBytesPerHour: 1024 * 1024 * 1024,
  addressJoinsPerMinute: 1_000_000,
  addressNamesPerHour: 1_000_000,
  addressRoomsPerHour: 1_000_000,
  addressHandshakesPerMinute: 1_000_000,
  addressSearchesPerMinute: 1_000_000,
  addressHistoryBytesPerMinute: 1024 * 1024 * 1024,
  roomsPerHour: 1_000_000,
  // A loaded test machine's event loop runs late at times: no handshake is refused for it.
  shedLagMs: 0,
};

/**
 * Tests of other things let guests make rooms, as every connection could before accounts; the
 * tests of access start servers with the defaults (`guests: 'on'`).
 */
export const GUESTS_MAKE_ROOMS: Partial<Config> = { guests: 'open' };

/** The same, as command-line flags, for servers started as their own process. */
export const LENIENT_ADDRESS_FLAGS: string[] = [
  ['--address-rate', '--address-rate-burst', '--address-joins'],
  ['--address-names-per-hour', '--address-rooms-per-hour', '--address-handshakes'],
  ['--rooms-per-hour', '--address-searches'],
]
  .flat()
  .flatMap((flag) => [flag, '1000000'])
  .concat(['--address-bytes-per-hour', String(1024 * 1024 * 1024)])
  .concat(['--address-history-bytes', String(1024 * 1024 * 1024)])
  .concat(['--shed-lag-ms', '0'])
  .concat(['--guests', 'open']);

export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? tempDir();
  const server = await startParley({
    host: '127.0.0.1',
    httpPort: 0,
    wsPort: 0,
    logLevel: 'silent',
    ...LENIENT_ADDRESS_LIMITS,
    ...GUESTS_MAKE_ROOMS,
    ...overrides,
    dataDir,
  });
  return {
    ...server,
    dataDir,
    async dispose() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Keeps this process's event loop (the server's too: it runs in the test) late: busy for
 * `ms`, then a few ms free for timers and sockets, again and again until stopped.
 */
export function hog(ms: number): { stop(): void } {
  let on = true;
  const spin = () => {
    if (!on) return;
    const end = performance.now() + ms;
    while (performance.now() < end);
    setTimeout(spin, 5);
  };
  setTimeout(spin, 0);
  return {
    stop() {
      on = false;
    },
  };
}

/** A real WebSocket client that keeps every frame it gets, for assertions. */
export class TestClient {
  readonly frames: string[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private readonly taken = new Set<number>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.frames.push(d.toString()));
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
    ws.on('error', () => undefined);
  }

  static open(
    url: string,
    protocols?: string | string[],
    options?: WebSocket.ClientOptions,
  ): Promise<TestClient> {
    const ws = new WebSocket(url, protocols, options);
    const client = new TestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  /** A plain-text client, as wscat would be. */
  static text(server: RunningServer): Promise<TestClient> {
    return TestClient.open(server.wsUrl);
  }

  /** A JSON client on the page port's /ws, as the browser is. */
  static json(server: RunningServer): Promise<TestClient> {
    return TestClient.open(`ws://127.0.0.1:${server.httpPort}/ws`, 'parley.v1');
  }

  send(data: string | object): void {
    this.ws.send(typeof data === 'string' ? data : JSON.stringify(data));
  }

  /** Waits for the oldest frame not yet taken that matches, and takes it. */
  async next(match: (frame: string) => boolean = () => true, ms = 5000): Promise<string> {
    let found = -1;
    await waitFor(
      () => {
        found = this.frames.findIndex((f, i) => !this.taken.has(i) && match(f));
        return found >= 0;
      },
      'a matching frame',
      ms,
    );
    this.taken.add(found);
    return this.frames[found] as string;
  }

  /** Waits for the next JSON event of this type matching the predicate. */
  async event<T extends ServerEvent['type']>(
    type: T,
    match: (e: Extract<ServerEvent, { type: T }>) => boolean = () => true,
    ms = 5000,
  ): Promise<Extract<ServerEvent, { type: T }>> {
    const frame = await this.next((f) => {
      const e = JSON.parse(f) as ServerEvent;
      return e.type === type && match(e as Extract<ServerEvent, { type: T }>);
    }, ms);
    return JSON.parse(frame) as Extract<ServerEvent, { type: T }>;
  }

  /** Takes the next n events of a type, in order. */
  async take<T extends ServerEvent['type']>(
    type: T,
    n: number,
  ): Promise<Extract<ServerEvent, { type: T }>[]> {
    const out: Extract<ServerEvent, { type: T }>[] = [];
    for (let i = 0; i < n; i++) out.push(await this.event(type));
    return out;
  }

  /** Sends a request and waits for the reply that echoes its id. */
  async request(req: { type: string; [k: string]: unknown }, ms = 5000): Promise<ServerEvent> {
    const id = Math.random().toString(36).slice(2);
    this.send({ ...req, id });
    const frame = await this.next((f) => (JSON.parse(f) as { id?: string }).id === id, ms);
    return JSON.parse(frame) as ServerEvent;
  }

  events(): ServerEvent[] {
    return this.frames.map((f) => JSON.parse(f) as ServerEvent);
  }

  async closed(ms = 5000): Promise<number> {
    await waitFor(() => this.closeCode !== undefined, 'the connection to close', ms);
    return this.closeCode as number;
  }

  close(): void {
    this.ws.close();
  }
}
