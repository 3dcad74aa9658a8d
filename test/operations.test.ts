// What an admin relies on: health, metrics, logs without secrets, graceful shutdown, limits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestServer, TestClient, tempDir, waitFor, type TestServer } from './helpers.js';
import { createLogger } from '../src/server/logger.js';
import { SECURITY_HEADERS } from '../src/server/http.js';
import { spawnNode } from './cluster-harness.js';
import type { ServerEvent } from '../src/protocol/index.js';

async function withServer(
  overrides: Parameters<typeof startTestServer>[0],
  f: (s: TestServer) => Promise<void>,
) {
  const s = await startTestServer(overrides);
  try {
    await f(s);
  } finally {
    await s.dispose();
  }
}

const get = (s: TestServer, path: string) => fetch(`http://127.0.0.1:${s.httpPort}${path}`);

test('the SQLite durability setting is applied and stated in the start-up log', async () => {
  const lines: string[] = [];
  const { startParley } = await import('../src/server/app.js');
  const s = await startParley(
    { host: '127.0.0.1', httpPort: 0, wsPort: 0, dataDir: tempDir(), sqliteSynchronous: 'NORMAL' },
    createLogger('info', (l) => lines.push(l)),
  );
  await s.stop();
  const started = lines
    .map((l) => JSON.parse(l) as { event: string; store?: string })
    .find((e) => e.event === 'started');
  assert.match(started?.store ?? '', /journal_mode=WAL, synchronous=NORMAL/);
});

test('health, readiness, and security headers on the page', async () => {
  await withServer({}, async (s) => {
    assert.equal((await get(s, '/healthz')).status, 200);
    const ready = await get(s, '/readyz');
    assert.equal(ready.status, 200);
    const page = await get(s, '/api/rooms');
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) assert.equal(page.headers.get(k), v, k);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  });
});

test('readiness fails while the bus is unreachable', async () => {
  await withServer({ bus: 'redis://127.0.0.1:1' }, async (s) => {
    const r = await get(s, '/readyz');
    assert.equal(r.status, 503);
    assert.equal(((await r.json()) as { status: string }).status, 'unavailable');
  });
});

test('metrics count connections, messages, deliveries, commits and refusals', async () => {
  await withServer({ rateBurst: 3, ratePerSecond: 1 }, async (s) => {
    const a = await TestClient.text(s);
    const b = await TestClient.text(s);
    await a.next((f) => f === 'Welcome to the chat!!!');
    a.send('one');
    await b.next((f) => f.endsWith(': one'));
    for (let i = 0; i < 4; i++) a.send('flood');
    await a.next((f) => f.includes('slow down'));
    const text = await (await get(s, '/metrics')).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    assert.equal(value(/^parley_connections (\d+)/m), 2);
    assert.ok(value(/^parley_messages_in_total (\d+)/m) >= 1);
    assert.ok(value(/^parley_deliveries_total\{kind="live"\} (\d+)/m) >= 2);
    assert.ok(value(/^parley_store_commit_seconds_count (\d+)/m) >= 1);
    assert.ok(value(/^parley_fanout_seconds_count (\d+)/m) >= 1);
    assert.ok(value(/^parley_refusals_total\{code="RATE_LIMITED"\} (\d+)/m) >= 1);
    assert.match(text, /^parley_slow_consumers_total 0/m);
    assert.equal(value(/^parley_fanout_gather_window_seconds ([\d.e-]+)/m), 0, 'none while quiet');
    assert.ok(value(/^parley_fanout_frames_total\{when="turn"\} (\d+)/m) >= 2);
    assert.equal(value(/^parley_fanout_frames_total\{when="held"\} (\d+)/m), 0);
    a.close();
    b.close();
  });
});

test('logs are JSON lines with reason and address, and never hold bodies or tokens', async () => {
  const lines: string[] = [];
  const logger = createLogger('debug', (l) => lines.push(l));
  const { startParley } = await import('../src/server/app.js');
  const s = await startParley(
    { host: '127.0.0.1', httpPort: 0, wsPort: 0, dataDir: tempDir() },
    logger,
  );
  const secretToken = 'secret-token-0123456789abcdef';
  const c = await TestClient.open(`ws://127.0.0.1:${s.httpPort}/ws`, 'parley.v1');
  await c.event('welcome');
  await c.request({ type: 'hello', name: 'logged', token: secretToken });
  await c.request({ type: 'join', room: 'lobby' });
  await c.request({ type: 'send', room: 'lobby', cid: 'l1', text: 'my secret body' });
  c.close();
  await c.closed();
  await TestClient.open(s.wsUrl, undefined, { origin: 'http://evil.example' }).catch(
    () => undefined,
  );
  await s.stop();
  const events = lines.map(
    (l) => JSON.parse(l) as { event: string; level: string; address?: string; reason?: string },
  );
  assert.ok(events.some((e) => e.event === 'connect' && e.address));
  assert.ok(events.some((e) => e.event === 'disconnect' && e.address));
  assert.ok(events.some((e) => e.event === 'refused' && e.reason === 'origin'));
  const all = lines.join('\n');
  assert.ok(!all.includes('my secret body'), 'no message body in logs');
  assert.ok(!all.includes(secretToken), 'no token in logs');
});

test('a graceful stop commits what is in flight, then closes clients with 1001', async () => {
  const s = await startTestServer({ rateBurst: 1000 });
  const c = await TestClient.json(s);
  await c.event('welcome');
  await c.request({ type: 'join', room: 'lobby' });
  for (let i = 0; i < 20; i++) c.send({ type: 'send', room: 'lobby', cid: `g${i}`, text: `m${i}` });
  await new Promise((r) => setImmediate(r));
  await s.stop();
  assert.equal(await c.closed(), 1001);
  const acks = c.events().filter((e) => e.type === 'ack');
  const s2 = await startTestServer({ dataDir: s.dataDir });
  try {
    const body = (await (await get(s2, '/api/rooms/lobby/messages?limit=100')).json()) as {
      messages: { cid: string }[];
    };
    const stored = new Set(body.messages.map((m) => m.cid));
    for (const a of acks) assert.ok(a.type === 'ack' && stored.has(a.cid), 'every ack is stored');
    assert.equal(acks.length, stored.size, 'every stored send was acked before the close');
  } finally {
    await s2.dispose();
  }
});

for (const [signal, code] of [
  ['SIGTERM', 1001],
  ['SIGHUP', 1012],
] as const) {
  test(`${signal}: the process closes clients with ${code} and exits 0 within the deadline`, async () => {
    const node = await spawnNode(['--data-dir', tempDir()]);
    const { child, port } = node;
    try {
      const c = await TestClient.open(`ws://127.0.0.1:${port}/ws`);
      await c.next();
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      assert.equal(await c.closed(10_000), code);
      assert.equal(await exited, 0);
    } finally {
      await node.kill('SIGKILL');
    }
  });
}

test('rate limit: an error first, then a policy close; other clients unaffected', async () => {
  await withServer({ rateBurst: 5, ratePerSecond: 1 }, async (s) => {
    const flood = await TestClient.json(s);
    const calm = await TestClient.json(s);
    await calm.event('welcome');
    await calm.request({ type: 'join', room: 'lobby' });
    for (let i = 0; i < 12; i++) flood.send({ type: 'rooms' });
    assert.equal(await flood.closed(), 1008);
    const errors = flood.events().filter((e) => e.type === 'error' && e.code === 'RATE_LIMITED');
    assert.ok(errors.length >= 1);
    const ack = await calm.request({
      type: 'send',
      room: 'lobby',
      cid: 'calm1',
      text: 'still fine',
    });
    assert.equal(ack.type, 'ack');
  });
});

test('a request refused for the rate echoes its id; the welcome says the rate it keeps to', async () => {
  await withServer({ rateBurst: 6, ratePerSecond: 2, editWindow: 15 }, async (s) => {
    const c = await TestClient.json(s);
    const w = await c.event('welcome');
    assert.deepEqual(w.limits, {
      maxMessageBytes: 64 * 1024,
      maxTextBytes: 16 * 1024,
      historyBound: 500,
      ratePerSecond: 2,
      rateBurst: 6,
      // --edit-window 15 (minutes): how long the page offers to edit a message.
      editWindowMs: 15 * 60_000,
    });
    for (let i = 1; i <= 8; i++) c.send({ type: 'ping', id: `p${i}` });
    // A frame with no usable id (too long, or not JSON) is refused without one.
    c.send({ type: 'ping', id: 'x'.repeat(65) });
    c.send('not json');
    await waitFor(() => c.events().length >= 11, 'every reply');
    const replies = c.events().slice(1);
    const ok = replies.flatMap((e) => (e.type === 'result' && e.of === 'ping' ? [e.id] : []));
    const refused = replies.flatMap((e) =>
      e.type === 'error' && e.code === 'RATE_LIMITED' ? [e.id] : [],
    );
    assert.deepEqual(ok, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    assert.deepEqual(refused, ['p7', 'p8', undefined, undefined]);
  });
});

test('ping is answered in JSON mode, in order with the other requests', async () => {
  await withServer({}, async (s) => {
    const c = await TestClient.json(s);
    await c.event('welcome');
    const r = await c.request({ type: 'ping' });
    assert.ok(r.type === 'result' && r.of === 'ping', JSON.stringify(r));
    c.send({ type: 'join', id: 'j', room: 'lobby' });
    c.send({ type: 'ping', id: 'p' });
    const idOf = (e: ServerEvent): string | undefined => ('id' in e ? e.id : undefined);
    await waitFor(() => c.events().some((e) => idOf(e) === 'p'), 'the ping reply');
    const order = c
      .events()
      .filter((e) => e.type === 'result')
      .map(idOf);
    assert.deepEqual(order.slice(-2), ['j', 'p']);
  });
});

test('connections per address, rooms per connection and name changes per minute are limited', async () => {
  await withServer(
    { connectionsPerAddress: 3, roomsPerConnection: 2, renamesPerMinute: 2 },
    async (s) => {
      const open = [await TestClient.json(s), await TestClient.json(s), await TestClient.json(s)];
      await assert.rejects(TestClient.json(s), /429/);
      const c = open[0] as TestClient;
      await c.event('welcome');
      assert.equal((await c.request({ type: 'join', room: 'r1' })).type, 'result');
      assert.equal((await c.request({ type: 'join', room: 'r2' })).type, 'result');
      const third = await c.request({ type: 'join', room: 'r3' });
      assert.ok(third.type === 'error' && third.code === 'TOO_MANY_ROOMS');
      const tok = 'rename-token-0123456789';
      assert.equal((await c.request({ type: 'hello', name: 'n1', token: tok })).type, 'result');
      assert.equal((await c.request({ type: 'hello', name: 'n2', token: tok })).type, 'result');
      const limited = await c.request({ type: 'hello', name: 'n3', token: tok });
      assert.ok(
        limited.type === 'error' && limited.code === 'RATE_LIMITED',
        JSON.stringify(limited),
      );
      for (const o of open) o.close();
      await waitFor(() => open.every((o) => o.closeCode !== undefined), 'closes');
      const again = await TestClient.json(s);
      again.close();
    },
  );
});

function rawRequest(port: number, request: string): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect(port, '127.0.0.1', () => sock.write(request));
    let reply = '';
    sock.on('data', (d) => (reply += d.toString()));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve({ reply, ms: Date.now() - started }));
    sock.setTimeout(5000, () => sock.destroy());
  });
}

test('a header flood is answered 431, and a slow handshake is dropped', async () => {
  await withServer({ maxHeaderBytes: 4096, handshakeTimeoutMs: 300 }, async (s) => {
    const flood = await rawRequest(
      s.wsPort,
      `GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`,
    );
    assert.match(flood.reply, /^HTTP\/1\.1 431/);
    const slow = await rawRequest(s.httpPort, 'GET / HTTP/1.1\r\nHost: localhost\r\n');
    assert.ok(slow.ms < 4000, `dropped after ${slow.ms} ms`);
  });
});

test('the Sec-WebSocket-Protocol ReDoS payload is answered at once', async () => {
  await withServer({}, async (s) => {
    const payload = 'b' + ' '.repeat(4000) + 'x';
    const key = Buffer.from('0123456789abcdef').toString('base64');
    const r = await rawRequest(
      s.wsPort,
      `GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${payload}\r\n\r\n`,
    );
    assert.match(r.reply, /^HTTP\/1\.1 (400|101)/);
    assert.ok(r.ms < 2000, `answered in ${r.ms} ms`);
  });
});

/** A raw socket that completes the handshake, sends `first` if given, and never reads again. */
async function stalledSocket(port: number, first?: Buffer): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${Buffer.from('0123456789abcdef').toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise((r) => socket.once('data', r));
  if (first) socket.write(first);
  socket.pause();
  return socket;
}

/** A server whose send buffer limit is `limit` and whose rate limits stay out of the way. */
function withSendLimit(limit: number, f: (s: TestServer) => Promise<void>) {
  return withServer({ sendBufferBytes: limit, rateBurst: 100_000, ratePerSecond: 100_000 }, f);
}

/** A JSON client, welcomed and in `room`. */
async function joined(s: TestServer, room: string): Promise<TestClient> {
  const c = await TestClient.json(s);
  await c.event('welcome');
  await c.request({ type: 'join', room });
  return c;
}

/** A client frame (masked, final) with a short payload. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  return Buffer.concat([head, mask, payload.map((b, i) => b ^ (mask[i % 4] as number))]);
}

test('a client that stops reading is closed once its buffer is full; others get everything', async () => {
  await withSendLimit(64 * 1024, async (s) => {
    const slow = await stalledSocket(s.wsPort);
    const sender = await joined(s, 'lobby');
    const text = 'y'.repeat(15_000);
    const total = 600;
    const back = () => sender.events().filter((e) => e.type === 'msg').length;
    // The sender reads in this process, between the server's turns: it is sent to in steps of
    // three messages, under its 64 KiB limit, so it keeps up as a reader elsewhere would. The
    // stalled socket is sent all 9 MB, past what the kernel buffers for it.
    for (let i = 0; i < total; i += 3) {
      for (let j = i; j < Math.min(total, i + 3); j++)
        sender.send({ type: 'send', room: 'lobby', cid: `s${j}`, text });
      await waitFor(() => back() >= Math.min(total, i + 3), `message ${i + 3} back`, 30_000);
    }
    assert.equal(sender.closeCode, undefined, 'the reading client stays connected');
    const metrics = await (await get(s, '/metrics')).text();
    assert.match(metrics, /^parley_slow_consumers_total [1-9]/m);
    slow.destroy();
    sender.close();
  });
});

/**
 * `sender` sends messages of `size` bytes to the lobby, one at a time and `pauseMs` apart, until
 * the server has closed a slow consumer; says how many bytes that took. It fails past `most`.
 */
async function floodUntilSlowClosed(
  s: TestServer,
  sender: TestClient,
  most: number,
  size = 4000,
  pauseMs = 50,
) {
  const text = 'z'.repeat(size);
  const closed = async () =>
    /^parley_slow_consumers_total [1-9]/m.test(await (await get(s, '/metrics')).text());
  let sent = 0;
  while (!(await closed())) {
    assert.ok(sent < most, `still open after ${sent} bytes were sent to it`);
    sender.send({ type: 'send', room: 'lobby', cid: `z${sent}`, text });
    sent += text.length;
    await waitFor(
      () => sender.events().filter((e) => e.type === 'msg').length * text.length >= sent,
      'own message back',
    );
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  return sent;
}

test('a reader that stopped is closed after its limit, not after all the kernel would buffer', async () => {
  const limit = 64 * 1024;
  await withSendLimit(limit, async (s) => {
    // It also claims, with an unasked pong, to have read far more than it was sent: ignored.
    const slow = await stalledSocket(s.wsPort, clientFrame(0xa, Buffer.from('999999999')));
    const sender = await joined(s, 'lobby');
    // The kernel alone would take megabytes for the stalled socket (its send buffer grows up
    // to tcp_wmem's maximum) before the server's own buffer holds anything. At 80 KB a
    // second it is past the limit within a second, then has its one second of grace.
    const sent = await floodUntilSlowClosed(s, sender, 16 * limit);
    assert.ok(sent <= 3 * limit, `closed after ${sent} bytes, limit ${limit}`);
    assert.equal(sender.closeCode, undefined, 'the reading client stays connected');
    slow.destroy();
    sender.close();
  });
});

test('a slow consumer is reset, so the kernel lets go of what it queued for it', async () => {
  const limit = 512 * 1024;
  await withSendLimit(limit, async (s) => {
    const slow = await stalledSocket(s.wsPort);
    let got = 0;
    slow.on('data', (d: Buffer) => (got += d.length));
    const gone = new Promise((r) => slow.once('close', r));
    const sender = await joined(s, 'lobby');
    // About 1.6 MB a second: the server is past the limit, and then past its second of grace,
    // with megabytes written to the stalled socket, most of them in the server's kernel buffer
    // (the stalled reader's own holds 128 KB here).
    const sent = await floodUntilSlowClosed(s, sender, 16 * limit, 16_000, 10);
    await new Promise((r) => setTimeout(r, 1500)); // past the second the close frame is given
    slow.resume();
    await gone;
    // After a FIN the kernel keeps the socket and everything queued on it until the reader
    // takes it all (more than the limit, since the server closes it only past that); after a
    // reset the reader gets only what its own buffer held.
    assert.ok(got < limit / 2, `the stalled reader still got ${got} of the ${sent} bytes sent`);
    sender.close();
  });
});

test('a reader that keeps up gets a replay larger than its limit in one go, and stays', async () => {
  const limit = 64 * 1024;
  await withSendLimit(limit, async (s) => {
    const writer = await joined(s, 'big');
    const text = 'r'.repeat(4000);
    for (let i = 1; i <= 40; i++)
      await writer.request({ type: 'send', room: 'big', cid: `b${i}`, text });
    const reader = await TestClient.json(s);
    await reader.event('welcome');
    reader.send({ type: 'join', room: 'big', since: 0 });
    const replay = await reader.take('msg', 40);
    assert.deepEqual(
      replay.map((m) => m.seq),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    await new Promise((r) => setTimeout(r, 1500)); // past the grace, with nothing more sent
    writer.send({ type: 'send', room: 'big', cid: 'after', text: 'one more' });
    await reader.event('msg', (m) => m.text === 'one more');
    assert.equal(reader.closeCode, undefined, 'the reader stays connected');
    writer.close();
    reader.close();
  });
});
