// Handshakes refused while the event loop runs late: a script is told 503 and Retry-After, a
// browser (a handshake with an Origin) gets the connection closed at once with 1013 and the
// wait; once the loop keeps time again, handshakes are taken.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { hog, startTestServer, TestClient, type TestServer } from './helpers.js';
import { httpGet } from './http-helpers.js';
import { createShedding } from '../src/server/shedding.js';

/** How a handshake ended: 101 (and the close that followed, if one came), or a status. */
function handshake(
  s: TestServer,
  options: WebSocket.ClientOptions = {},
): Promise<{
  status: number;
  retryAfter?: string;
  close?: number;
  reason?: string;
  frames: number;
}> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.wsPort}`, 'parley.v1', options);
    let frames = 0;
    let opened = false;
    ws.on('message', () => {
      frames++;
      // A connection taken: its welcome came.
      ws.close();
    });
    ws.once('open', () => (opened = true));
    ws.once('close', (code, reason) =>
      resolve({ status: opened ? 101 : 0, close: code, reason: reason.toString(), frames }),
    );
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], frames });
      res.resume();
      ws.terminate();
    });
    ws.once('error', (e) => {
      if (!opened) reject(e);
    });
  });
}

async function metrics(s: TestServer): Promise<string> {
  return (await httpGet(s.httpPort, '/metrics')).body;
}

let server: TestServer;
before(async () => {
  server = await startTestServer({ shedLagMs: 50 });
});
after(() => server.dispose());

test('a handshake while the event loop is late gets 503 with a Retry-After, and nothing else', async () => {
  const h = hog(150);
  let r;
  try {
    r = await handshake(server);
  } finally {
    h.stop();
  }
  assert.equal(r.status, 503);
  assert.ok(Number(r.retryAfter) >= 1 && Number(r.retryAfter) <= 10, `Retry-After ${r.retryAfter}`);
  assert.match(await metrics(server), /parley_handshakes_refused_total\{reason="busy"\} [1-9]/);
  // The loop keeps time again: taken.
  await new Promise((r) => setTimeout(r, 50));
  const ok = await handshake(server);
  assert.equal(ok.status, 101);
  assert.equal(ok.frames, 1, 'the welcome came');
});

test("a browser's handshake (it has an Origin) is closed at once with 1013 and the wait", async () => {
  const origin = `http://127.0.0.1:${server.httpPort}`;
  const h = hog(150);
  let r;
  try {
    r = await handshake(server, { origin });
  } finally {
    h.stop();
  }
  assert.equal(r.status, 101);
  assert.equal(r.close, 1013);
  assert.match(r.reason ?? '', /^SERVER_BUSY ([1-9]|10)$/);
  assert.equal(r.frames, 0, 'no welcome, no session');
  await new Promise((r) => setTimeout(r, 50));
  const ok = await handshake(server, { origin });
  assert.equal(ok.frames, 1);
});

test('handshakes told to wait take nothing from their address: the next ones are let in', async () => {
  const s = await startTestServer({
    shedLagMs: 50,
    connectionsPerAddress: 3,
    addressHandshakesPerMinute: 3,
  });
  try {
    const h = hog(150);
    try {
      for (let i = 0; i < 5; i++) assert.equal((await handshake(s)).status, 503);
    } finally {
      h.stop();
    }
    await new Promise((r) => setTimeout(r, 50));
    const kept = await Promise.all([0, 1, 2].map(() => TestClient.json(s)));
    for (const c of kept) assert.equal((await c.event('welcome')).type, 'welcome');
    for (const c of kept) c.close();
  } finally {
    await s.dispose();
  }
});

test('with --shed-lag-ms 0 a late loop still takes handshakes', async () => {
  const s = await startTestServer({ shedLagMs: 0 });
  try {
    const h = hog(150);
    let r;
    try {
      r = await handshake(s);
    } finally {
      h.stop();
    }
    assert.equal(r.status, 101);
    assert.equal(r.frames, 1);
  } finally {
    await s.dispose();
  }
});

test('the wait asked for grows with the lag, a second per second of it, up to 10', () => {
  let t = 0;
  const shedding = createShedding(100, () => t);
  try {
    assert.equal(shedding.retryAfter(), 0);
    t = 100;
    assert.equal(shedding.retryAfter(), 0, 'within the bound');
    t = 500;
    assert.equal(shedding.retryAfter(), 1);
    t = 2600;
    assert.equal(shedding.retryAfter(), 3);
    t = 60_000;
    assert.equal(shedding.retryAfter(), 10);
  } finally {
    shedding.stop();
  }
});
