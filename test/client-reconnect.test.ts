// The page's connection (src/client/connection.ts) against a real server that is catching up:
// told to wait (close 1013, `SERVER_BUSY <seconds>`) it waits that long before trying again,
// without counting the refused attempt as a connection; once let in, it is connected at the
// welcome. The page runs here on Node with the `ws` client in place of the browser's
// WebSocket, sending an Origin as a browser does.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { hog, startTestServer, waitFor, type TestServer } from './helpers.js';
import { busyDelay, busyWait, Connection, type ConnState } from '../src/client/connection.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({ shedLagMs: 50 });
  const origin = `http://127.0.0.1:${server.httpPort}`;
  class BrowserSocket extends WebSocket {
    constructor(url: string, protocols: string) {
      super(url, protocols, { origin });
    }
  }
  (globalThis as { WebSocket?: unknown }).WebSocket = BrowserSocket;
});
after(() => server.dispose());

test('told the server is busy, the page waits the time it was given, then connects', async () => {
  const states: { state: ConnState; retryAt: number; at: number }[] = [];
  let opened = 0;
  let failed = 0;
  let closed = 0;
  const frames: string[] = [];
  const conn = new Connection(`ws://127.0.0.1:${server.httpPort}/ws`, {
    state: (state, retryAt) => states.push({ state, retryAt, at: Date.now() }),
    open: () => opened++,
    close: () => closed++,
    failed: () => failed++,
    frame: (f) => frames.push(f),
  });
  const h = hog(150);
  try {
    conn.start();
    await waitFor(() => states.some((s) => s.state === 'offline'), 'the refusal', 5000);
  } finally {
    h.stop();
  }
  const offline = states.find((s) => s.state === 'offline');
  assert.ok(offline);
  const wait = offline.retryAt - offline.at;
  // The server asked for 1 s (its loop was a fraction of a second late): 1 to 2 s with jitter,
  // where the backoff of a first failure would be under 0.5 s.
  assert.ok(wait >= 1000 && wait <= 2000, `waited ${wait} ms`);
  assert.equal(opened, 0, 'a refused handshake is not a connection');
  assert.equal(closed, 0, 'nor is its close');
  assert.equal(failed, 1);
  await waitFor(() => conn.state === 'connected', 'the second attempt', 5000);
  assert.equal(opened, 1);
  assert.equal((JSON.parse(frames[0] ?? '{}') as { type?: string }).type, 'welcome');
  const second = states.filter((s) => s.state === 'connecting')[1];
  assert.ok(second && second.at >= offline.retryAt - 5, 'not before the time it was given');
  conn.stop();
});

test('the wait is read only from a 1013 that says SERVER_BUSY', () => {
  assert.equal(busyWait(1013, 'SERVER_BUSY 3'), 3);
  assert.equal(busyWait(1013, 'SLOW_CONSUMER'), 0);
  assert.equal(busyWait(1006, 'SERVER_BUSY 3'), 0);
  assert.equal(busyWait(1013, 'SERVER_BUSY 3; more'), 0);
  assert.equal(
    busyDelay(3, () => 0),
    3000,
  );
  assert.equal(
    busyDelay(3, () => 0.999),
    5997,
  );
});
