// The tutorial's promises and the gateway's defences, against a real server on port 0.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { startTestServer, TestClient, waitFor, type TestServer } from './helpers.js';
import { httpGet } from './http-helpers.js';
import { ERRORS } from '../src/protocol/index.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({
    allowedOrigins: ['https://chat.example.com'],
    heartbeatMs: 200,
  });
});
after(() => server.dispose());

async function metrics(): Promise<string> {
  return (await httpGet(server.httpPort, '/metrics')).body;
}

test('a plain client gets the welcome first, and its lines reach everyone, itself included', async () => {
  const a = await TestClient.text(server);
  const b = await TestClient.text(server);
  assert.equal(await a.next(), 'Welcome to the chat!!!');
  assert.equal(await b.next(), 'Welcome to the chat!!!');
  a.send('hello from a');
  const mine = await a.next((f) => f.endsWith(': hello from a'));
  const theirs = await b.next((f) => f.endsWith(': hello from a'));
  assert.equal(mine, theirs);
  assert.match(mine, /^guest-[0-9a-f]+: hello from a$/);
  a.close();
  b.close();
});

test("the page's port takes the upgrade at /ws, and only there", async () => {
  const c = await TestClient.open(`ws://127.0.0.1:${server.httpPort}/ws`);
  assert.equal(await c.next(), 'Welcome to the chat!!!');
  c.close();
  await assert.rejects(TestClient.open(`ws://127.0.0.1:${server.httpPort}/elsewhere`), /404/);
});

test('a message over the size limit closes with 1009; others are unaffected', async () => {
  const bad = await TestClient.text(server);
  const good = await TestClient.text(server);
  await good.next((f) => f === 'Welcome to the chat!!!');
  bad.send('x'.repeat(64 * 1024 + 1));
  assert.equal(await bad.closed(), 1009);
  assert.equal(ERRORS.MESSAGE_TOO_BIG.close, 1009, 'ws closes as the registry says');
  // ws counts it before its close frame leaves.
  assert.match(await metrics(), /parley_refusals_total\{code="MESSAGE_TOO_BIG"\} [1-9]/);
  good.send('still here');
  await good.next((f) => f.endsWith(': still here'));
  good.close();
});

test('invalid UTF-8 closes with 1007', async () => {
  const c = await TestClient.text(server);
  await c.next();
  // A text frame whose payload is not UTF-8; ws sends Buffers as they are.
  c.ws.send(Buffer.from([0xc3, 0x28, 0xff]), { binary: false });
  assert.equal(await c.closed(), 1007);
  assert.equal(ERRORS.INVALID_UTF8.close, 1007, 'ws closes as the registry says');
  // ws counts it before its close frame leaves.
  assert.match(await metrics(), /parley_refusals_total\{code="INVALID_UTF8"\} [1-9]/);
});

test('a binary frame closes with 1003', async () => {
  const c = await TestClient.text(server);
  await c.next();
  c.ws.send(Buffer.from('binary'), { binary: true });
  assert.equal(await c.closed(), 1003);
  assert.equal(c.closeReason, 'BINARY_UNSUPPORTED');
});

function originTest(origin: string | undefined): Promise<TestClient> {
  return TestClient.open(server.wsUrl, undefined, origin === undefined ? {} : { origin });
}

test("the page's own origin, an allowed one, and no origin at all are let in", async () => {
  for (const origin of [
    `http://127.0.0.1:${server.httpPort}`,
    'https://chat.example.com',
    undefined,
  ]) {
    const c = await originTest(origin);
    assert.equal(await c.next(), 'Welcome to the chat!!!', String(origin));
    c.close();
  }
});

test('foreign, look-alike and null origins get no upgrade', async () => {
  for (const origin of [
    'http://evil.example',
    `http://127.0.0.1:${server.httpPort}.evil.example`,
    `http://127.0.0.1:${server.wsPort}`,
    'https://chat.example.com.evil.example',
    'http://chat.example.com',
    'null',
  ]) {
    await assert.rejects(originTest(origin), /403/, origin);
  }
});

test('a garbage upgrade request ends only its own socket', async () => {
  const sock = net.connect(server.wsPort, '127.0.0.1');
  sock.on('error', () => undefined);
  await new Promise((r) => sock.once('connect', r));
  sock.write(
    'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  );
  const reply = await new Promise<string>((r) => sock.once('data', (d) => r(d.toString())));
  assert.match(reply, /^HTTP\/1\.1 400/);
  sock.destroy();
  const c = await TestClient.text(server);
  assert.equal(await c.next(), 'Welcome to the chat!!!');
  c.close();
});

test('the heartbeat spreads its pings over the interval rather than pinging everyone at once', async () => {
  const clients = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const ws = new WebSocket(server.wsUrl);
      await new Promise((r) => ws.once('open', r));
      return ws;
    }),
  );
  // The first ping each client gets from now on; the interval here is 200 ms.
  const from = performance.now();
  const pinged = await Promise.all(
    clients.map((ws) => new Promise<number>((r) => ws.once('ping', () => r(performance.now())))),
  );
  const spread = Math.max(...pinged) - Math.min(...pinged);
  assert.ok(Math.max(...pinged) - from <= 400, 'everyone pinged within one interval or so');
  assert.ok(spread >= 80, `pings spread over ${spread.toFixed(0)} ms of a 200 ms interval`);
  for (const ws of clients) ws.close();
});

test('a peer that pings and stops reading is dropped once its pongs queue up', async () => {
  // The heartbeat would drop it too (it stops answering): not within this test's time.
  const own = await startTestServer({ heartbeatMs: 60_000 });
  try {
    const connections = async () =>
      Number(
        /^parley_connections (\d+)/m.exec((await httpGet(own.httpPort, '/metrics')).body)?.[1],
      );
    const ws = new WebSocket(own.wsUrl);
    ws.on('error', () => undefined);
    await new Promise((r) => ws.once('open', r));
    assert.equal(await connections(), 1);
    // It reads nothing more: the pongs fill the kernel's buffers, then the server's.
    (ws as unknown as { _socket: net.Socket })._socket.pause();
    const payload = Buffer.alloc(125, 0x61);
    let dropped = false;
    for (let i = 0; i < 200_000 && !dropped; i++) {
      ws.ping(payload);
      if (i % 1000 === 999) {
        await new Promise((r) => setImmediate(r));
        dropped = (await connections()) === 0;
      }
    }
    assert.ok(dropped, 'the server dropped it');
    ws.terminate();
    const c = await TestClient.text(own);
    assert.equal(await c.next(), 'Welcome to the chat!!!');
    c.close();
  } finally {
    await own.dispose();
  }
});

test('a peer that stops answering pings is dropped by the shared heartbeat', async () => {
  const ws = new WebSocket(server.wsUrl, { autoPong: false });
  let code = 0;
  ws.on('close', (c) => (code = c));
  ws.on('error', () => undefined);
  await new Promise((r) => ws.once('open', r));
  await waitFor(() => ws.readyState === WebSocket.CLOSED, 'the silent peer to be dropped', 3000);
  assert.equal(code, 1006, 'terminated without a close handshake');
  const alive = await TestClient.text(server);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(alive.ws.readyState, WebSocket.OPEN, 'a peer that answers pings stays');
  alive.close();
});
