// Attacks on the HTTP side, each against a real server: the attacker is refused or slowed, the
// server stays up, a bystander on another address is served, and nothing is lost.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { startTestServer, TestClient, tempDir, waitFor, type TestServer } from './helpers.js';
import { httpGet } from './http-helpers.js';
import { startParley } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import {
  ERRORS,
  type ChatMessage,
  type ErrorCode,
  type ServerEvent,
} from '../src/protocol/index.js';

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

const BIG = 16 * 1024;

/** Fills the lobby with `n` messages of 16 KiB, acked. */
async function fillLobby(s: TestServer, n: number): Promise<void> {
  const c = await TestClient.json(s);
  await c.event('welcome');
  await c.request({ type: 'join', room: 'lobby' });
  for (let i = 0; i < n; i++) {
    c.send({ type: 'send', room: 'lobby', cid: `big-${i}`, text: String(i % 10).repeat(BIG) });
  }
  await waitFor(() => c.events().filter((e) => e.type === 'ack').length === n, 'acks', 30_000);
  c.close();
}

test('history over HTTP is bounded in bytes and rate-limited per address; others are served', async () => {
  const budget = 256 * 1024;
  await withServer(
    { rateBurst: 1000, ratePerSecond: 1000, httpRateBurst: 5, httpRatePerSecond: 1 },
    async (s) => {
      await fillLobby(s, 200);
      const path = '/api/rooms/lobby/messages?limit=200';
      const first = await httpGet(s.httpPort, path, { from: '127.0.0.2' });
      assert.equal(first.status, 200);
      assert.ok(first.bytes <= budget + 4096, `one answer is ${first.bytes} bytes`);
      const page = JSON.parse(first.body) as { messages: ChatMessage[]; more: boolean };
      assert.ok(page.messages.length > 0 && page.messages.length < 200, `${page.messages.length}`);
      assert.equal(page.more, true);
      assert.equal(page.messages.at(-1)?.seq, 200, 'the newest messages come first');

      // The attacker's loop: refused with 429 and Retry-After once its bucket is empty.
      let refused;
      for (let i = 0; i < 40 && !refused; i++) {
        const r = await httpGet(s.httpPort, path, { from: '127.0.0.2' });
        if (r.status === 429) refused = r;
        else assert.equal(r.status, 200);
      }
      assert.ok(refused, 'the loop was refused');
      assert.ok(
        Number(refused.headers['retry-after']) >= 1,
        String(refused.headers['retry-after']),
      );
      assert.equal(
        (JSON.parse(refused.body) as { error: { code: string } }).error.code,
        'RATE_LIMITED',
      );
      assert.ok(refused.bytes < 1024);

      // A bystander on another address is served, and the server is alive.
      const other = await httpGet(s.httpPort, '/api/rooms/lobby/messages?limit=3', {
        from: '127.0.0.3',
      });
      assert.equal(other.status, 200);
      assert.equal((JSON.parse(other.body) as { messages: unknown[] }).messages.length, 3);
      assert.equal((await httpGet(s.httpPort, '/healthz', { from: '127.0.0.4' })).status, 200);
    },
  );
});

test('the WebSocket history result has the same byte bound, and paging reaches every message', async () => {
  await withServer({ rateBurst: 1000, ratePerSecond: 1000 }, async (s) => {
    await fillLobby(s, 200);
    const c = await TestClient.json(s);
    await c.event('welcome');
    const seen: number[] = [];
    let before: number | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const r = (await c.request({
        type: 'history',
        room: 'lobby',
        limit: 200,
        before,
      })) as Extract<ServerEvent, { type: 'result'; of: 'history' }>;
      assert.equal(r.type, 'result');
      const bytes = Buffer.byteLength(JSON.stringify(r.messages));
      assert.ok(bytes <= 256 * 1024 + 1024, `one page is ${bytes} bytes`);
      assert.ok(r.messages.length > 0);
      seen.unshift(...r.messages.map((m) => m.seq));
      if (!r.more) break;
      before = r.messages[0]?.seq;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 200 }, (_, i) => i + 1),
      'every message once, in order',
    );
    c.close();
  });
});

test('a budget smaller than one message still answers one message a page', async () => {
  await withServer({ rateBurst: 1000, ratePerSecond: 1000, historyMaxBytes: 1 }, async (s) => {
    await fillLobby(s, 3);
    const c = await TestClient.json(s);
    await c.event('welcome');
    const r = (await c.request({ type: 'history', room: 'lobby', limit: 50 })) as Extract<
      ServerEvent,
      { type: 'result'; of: 'history' }
    >;
    assert.deepEqual(
      r.messages.map((m) => m.seq),
      [3],
    );
    assert.equal(r.more, true);
    c.close();
  });
});

test('half-open sockets from one address are cut at accept; others still connect', async () => {
  await withServer({ socketsPerAddress: 10 }, async (s) => {
    const attacker: net.Socket[] = [];
    let closed = 0;
    for (let i = 0; i < 40; i++) {
      const port = i % 2 ? s.wsPort : s.httpPort;
      const sock = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      sock.on('error', () => undefined);
      sock.on('close', () => closed++);
      attacker.push(sock);
    }
    try {
      // Both ports count together: 10 stay open, 30 are closed by the server at once.
      await waitFor(
        () => closed === 30,
        `30 sockets closed by the server (closed ${closed})`,
        10_000,
      );
      assert.equal(attacker.filter((a) => !a.destroyed).length, 10);

      const health = await httpGet(s.httpPort, '/healthz', { from: '127.0.0.3' });
      assert.equal(health.status, 200);
      const c = await TestClient.open(s.wsUrl, undefined, { localAddress: '127.0.0.3' });
      assert.equal(await c.next(), 'Welcome to the chat!!!');
      c.close();
      const metrics = await httpGet(s.httpPort, '/metrics');
      assert.match(metrics.body, /^parley_sockets_refused_total (3\d|[4-9]\d)/m);
    } finally {
      for (const a of attacker) a.destroy();
    }
    // Closed sockets give their places back (the server may see the close a moment later).
    await waitFor(() => closed === 40, 'the attacker sockets to close');
    let again = 0;
    for (let i = 0; i < 100 && again !== 200; i++) {
      again = await httpGet(s.httpPort, '/healthz', { from: '127.0.0.2' }).then(
        (r) => r.status,
        () => 0,
      );
      if (again !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(again, 200, 'the address is let in again');
  });
});

test('a rate-limited address is closed after its 429, and its next sockets wait unread, then reset', async () => {
  await withServer({ httpRateBurst: 2, httpRatePerSecond: 1, socketsPerAddress: 4 }, async (s) => {
    let refused;
    for (let i = 0; i < 5 && !refused; i++) {
      const r = await httpGet(s.httpPort, '/healthz', {
        from: '127.0.0.2',
        headers: { connection: 'keep-alive' },
      });
      if (r.status === 429) refused = r;
    }
    assert.ok(refused, 'refused for its rate');
    // A kept-alive socket would bring its next requests past the hold.
    assert.equal(refused.headers.connection, 'close');
    const wait = Number(refused.headers['retry-after']) * 1000;
    // Held: a new socket is accepted and asked for nothing, and gets no answer, until the
    // Retry-After has passed; then it is reset. Past the address's socket limit, at once.
    const started = Date.now();
    const held = Array.from({ length: 6 }, () => {
      const sock = net.connect({ port: s.httpPort, host: '127.0.0.1', localAddress: '127.0.0.2' });
      let answer = '';
      let closedAt = 0;
      sock.on('connect', () => sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      sock.on('data', (d: Buffer) => (answer += d.toString()));
      sock.on('error', () => undefined);
      sock.on('close', () => (closedAt = Date.now()));
      return { sock, answer: () => answer, closedAt: () => closedAt };
    });
    await waitFor(() => held.filter((h) => h.closedAt() > 0).length >= 2, 'two cut at once', 2000);
    const cut = held.filter((h) => h.closedAt() > 0);
    assert.equal(cut.length, 2, 'the ones past the socket limit are cut at once');
    assert.ok(cut.every((h) => h.closedAt() - started < wait / 2));
    // A bystander is served meanwhile.
    assert.equal((await httpGet(s.httpPort, '/healthz', { from: '127.0.0.3' })).status, 200);
    assert.ok(
      held.every((h) => h.answer() === ''),
      'nothing answered while held',
    );
    await waitFor(() => held.every((h) => h.closedAt() > 0), 'the held sockets reset', wait + 3000);
    for (const h of held.filter((x) => !cut.includes(x))) {
      assert.ok(h.closedAt() - started >= wait - 300, `held ${h.closedAt() - started} ms`);
      assert.equal(h.answer(), '');
    }
    // Once the wait has passed the address is served again.
    assert.equal((await httpGet(s.httpPort, '/healthz', { from: '127.0.0.2' })).status, 200);
  });
});

test('the start-up log names the Redis bus without its password', async () => {
  const lines: string[] = [];
  const dataDir = tempDir();
  const s = await startParley(
    {
      host: '127.0.0.1',
      httpPort: 0,
      wsPort: 0,
      dataDir,
      bus: 'redis://parley:hunter2-secret@127.0.0.1:1/0',
    },
    createLogger('info', (l) => lines.push(l)),
  );
  await s.stop();
  rmSync(dataDir, { recursive: true, force: true });
  const started = lines.find((l) => l.includes('"started"')) ?? '';
  assert.match(started, /redis:\/\/parley:\*\*\*@127\.0\.0\.1:1/);
  assert.ok(!lines.join('\n').includes('hunter2'), 'no password in any log line');
});

test('a DNS-rebinding handshake and page request (Host and Origin both evil) are refused', async () => {
  await withServer(
    { allowedHosts: ['chat.example.com'], allowedOrigins: ['https://other.example'] },
    async (s) => {
      for (const port of [s.wsPort, s.httpPort]) {
        const url = port === s.wsPort ? s.wsUrl : `ws://127.0.0.1:${s.httpPort}/ws`;
        await assert.rejects(
          TestClient.open(url, undefined, {
            headers: { host: `evil.example:${s.httpPort}` },
            origin: `http://evil.example:${s.httpPort}`,
          }),
          /421/,
        );
      }
      for (const path of ['/', '/api/rooms', '/api/rooms/lobby/messages']) {
        const r = await httpGet(s.httpPort, path, { headers: { host: 'evil.example' } });
        assert.equal(r.status, 421, path);
      }
      // Names Parley answers to: local ones, --allowed-hosts, and the allowed origins' hosts.
      for (const host of ['localhost', '127.0.0.1', 'chat.example.com', 'other.example']) {
        const r = await httpGet(s.httpPort, '/api/rooms', {
          headers: { host: `${host}:${s.httpPort}` },
        });
        assert.equal(r.status, 200, host);
        const c = await TestClient.open(`ws://127.0.0.1:${s.httpPort}/ws`, undefined, {
          headers: { host: `${host}:${s.httpPort}` },
          origin: `http://${host}:${s.httpPort}`,
        });
        assert.equal(await c.next(), 'Welcome to the chat!!!', host);
        c.close();
      }
      assert.equal(
        (await httpGet(s.httpPort, '/healthz', { headers: { host: 'evil.example' } })).status,
        200,
      );
    },
  );
});

test('metrics and readiness detail are for loopback or the bearer token; health is public', async () => {
  await withServer(
    { trustProxy: ['127.0.0.1'], metricsToken: 'scrape-token-123', bus: 'redis://127.0.0.1:1' },
    async (s) => {
      const remote = { 'x-forwarded-for': '203.0.113.9' };
      assert.equal((await httpGet(s.httpPort, '/metrics')).status, 200, 'loopback');
      assert.equal((await httpGet(s.httpPort, '/metrics', { headers: remote })).status, 403);
      const wrong = { ...remote, authorization: 'Bearer scrape-token-12' };
      assert.equal((await httpGet(s.httpPort, '/metrics', { headers: wrong })).status, 403);
      const right = { ...remote, authorization: 'Bearer scrape-token-123' };
      const scraped = await httpGet(s.httpPort, '/metrics', { headers: right });
      assert.equal(scraped.status, 200);
      assert.match(scraped.body, /parley_http_refused_total\{reason="metrics"\} 2/);

      const local = await httpGet(s.httpPort, '/readyz');
      assert.equal(local.status, 503);
      assert.ok((JSON.parse(local.body) as { reason?: string }).reason, 'the operator sees why');
      const outside = await httpGet(s.httpPort, '/readyz', { headers: remote });
      assert.equal(outside.status, 503);
      assert.deepEqual(JSON.parse(outside.body), { status: 'unavailable' });
      assert.equal((await httpGet(s.httpPort, '/healthz', { headers: remote })).status, 200);
    },
  );
  // A proxy in front that is not trusted: its clients are not taken for local ones.
  await withServer({}, async (s) => {
    const r = await httpGet(s.httpPort, '/metrics', {
      headers: { 'x-forwarded-for': '127.0.0.1' },
    });
    assert.equal(r.status, 403);
    assert.equal((await httpGet(s.httpPort, '/metrics')).status, 200);
  });
});

test("each HTTP refusal answers its registry code with that code's status", async () => {
  await withServer({ trustProxy: ['127.0.0.1'] }, async (s) => {
    const refusal = async (
      path: string,
      opts: Parameters<typeof httpGet>[2],
      code: ErrorCode,
      method?: string,
    ) => {
      let status: number, body: string;
      if (method) {
        const r = await fetch(`http://127.0.0.1:${s.httpPort}${path}`, { method });
        [status, body] = [r.status, await r.text()];
      } else ({ status, body } = await httpGet(s.httpPort, path, opts));
      assert.equal(status, ERRORS[code].status, `${method ?? 'GET'} ${path}: status`);
      assert.deepEqual(JSON.parse(body), { error: { code, message: ERRORS[code].message } });
    };
    await refusal('/no/such/route', {}, 'NOT_FOUND');
    await refusal('/api/rooms', { headers: { host: 'evil.example' } }, 'HOST_NOT_ALLOWED');
    await refusal('/metrics', { headers: { 'x-forwarded-for': '203.0.113.9' } }, 'OPERATOR_ONLY');
    await refusal('/api/rooms', {}, 'METHOD_NOT_ALLOWED', 'DELETE');
    await refusal('/api/rooms/%40dan%20eve/messages', {}, 'ROOM_INVALID');
  });
  assert.equal(ERRORS.NOT_FOUND.status, 404);
});
