// A PostgreSQL that stops answering (a paused process, a network that drops packets) must not
// hang the server: a TCP proxy between Parley and PostgreSQL stops forwarding, and sends are
// refused with STORE_UNAVAILABLE within the store timeout, /readyz says 503 and HTTP history
// fails, each within a bound; when forwarding resumes, all of them work again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestServer, TestClient, type TestServer } from './helpers.js';
import { freePort, freshSchema } from './cluster-harness.js';
import { POSTGRES_URL, requirePostgres } from './services.js';
import type { ServerEvent } from '../src/protocol/index.js';

/** Forwards TCP to PostgreSQL until stalled; then holds every byte, both ways, until resumed. */
class StallingProxy {
  private stalled = false;
  private readonly held: (() => void)[] = [];
  private readonly sockets = new Set<net.Socket>();

  private readonly server = net.createServer((client) => this.connect(client));

  private constructor(
    readonly port: number,
    private readonly target: URL,
  ) {}

  static async start(): Promise<StallingProxy> {
    const proxy = new StallingProxy(await freePort(), new URL(POSTGRES_URL));
    await new Promise<void>((resolve) => proxy.server.listen(proxy.port, '127.0.0.1', resolve));
    return proxy;
  }

  private connect(client: net.Socket): void {
    const upstream = net.connect(Number(this.target.port || 5432), this.target.hostname);
    const pipe = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (this.stalled) this.held.push(() => to.write(chunk));
        else to.write(chunk);
      });
    pipe(client, upstream);
    pipe(upstream, client);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  }

  stall(): void {
    this.stalled = true;
  }

  resume(): void {
    this.stalled = false;
    for (const write of this.held.splice(0)) write();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

const TIMEOUT_MS = 1000;
/** What "within a bounded time" means here: a few timeouts, and room for a slow machine. */
const BOUND_MS = 4 * TIMEOUT_MS + 4000;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  const value = await work();
  return { value, ms: Date.now() - start };
}

async function get(server: TestServer, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${server.httpUrl}${path}`, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: await res.text() };
}

test(
  'a stalled PostgreSQL: sends refused, not ready, history fails, each in bounded time; then back',
  { timeout: 120_000 },
  async () => {
    const schema = await freshSchema();
    const proxy = await StallingProxy.start();
    let server: TestServer | undefined;
    try {
      server = await startTestServer({ store: schema.url(proxy.port), storeTimeoutMs: TIMEOUT_MS });
      const c = await TestClient.json(server);
      await c.event('welcome');
      assert.equal(
        (await c.request({ type: 'hello', name: 'staller', token: 'stall-token-xxxxxxxxxx' })).type,
        'result',
      );
      await c.request({ type: 'join', room: 'lobby' });
      let n = 0;
      const send = (): Promise<ServerEvent> =>
        c.request({ type: 'send', room: 'lobby', cid: `c${++n}`, text: `m${n}` }, 30_000);
      assert.equal((await send()).type, 'ack');
      assert.equal((await get(server, '/readyz')).status, 200);

      proxy.stall();
      const refused = await timed(send);
      assert.ok(refused.value.type === 'error', JSON.stringify(refused.value));
      assert.equal(refused.value.code, 'STORE_UNAVAILABLE');
      assert.ok(refused.ms < BOUND_MS, `the send took ${refused.ms} ms to be refused`);
      const ready = await timed(() => get(server as TestServer, '/readyz'));
      assert.equal(ready.value.status, 503);
      assert.ok(ready.ms < BOUND_MS, `/readyz took ${ready.ms} ms`);
      const history = await timed(() => get(server as TestServer, '/api/rooms/lobby/messages'));
      assert.notEqual(history.value.status, 200);
      assert.match(history.value.body, /STORE_UNAVAILABLE/);
      assert.ok(history.ms < BOUND_MS, `history took ${history.ms} ms`);
      // Several sends at once are all refused, none left hanging.
      const many = await timed(() => Promise.all([send(), send(), send()]));
      assert.deepEqual(
        many.value.map((r) => (r.type === 'error' ? r.code : r.type)),
        ['STORE_UNAVAILABLE', 'STORE_UNAVAILABLE', 'STORE_UNAVAILABLE'],
      );
      assert.ok(many.ms < 2 * BOUND_MS, `three sends took ${many.ms} ms`);

      proxy.resume();
      const end = Date.now() + 30_000;
      let back: ServerEvent | undefined;
      while (Date.now() < end && back?.type !== 'ack') back = await send();
      assert.equal(back?.type, 'ack', JSON.stringify(back));
      assert.equal((await get(server, '/readyz')).status, 200);
      assert.equal((await get(server, '/api/rooms/lobby/messages')).status, 200);
      c.close();
    } finally {
      proxy.resume();
      await server?.stop().catch(() => {});
      await proxy.close();
      await schema.drop();
    }
  },
);

test(
  'a room row locked by a transaction that never ends: sends refused in bounded time, then back',
  { timeout: 60_000 },
  async () => {
    const schema = await freshSchema();
    const admin = await requirePostgres(1);
    let server: TestServer | undefined;
    try {
      server = await startTestServer({ store: schema.url(), storeTimeoutMs: TIMEOUT_MS });
      const c = await TestClient.json(server);
      await c.event('welcome');
      await c.request({ type: 'hello', name: 'locked', token: 'lock-token-xxxxxxxxxxx' });
      await c.request({ type: 'join', room: 'lobby' });
      let n = 0;
      const send = (): Promise<ServerEvent> =>
        c.request({ type: 'send', room: 'lobby', cid: `c${++n}`, text: `m${n}` }, 30_000);
      assert.equal((await send()).type, 'ack');

      // Another node's transaction that took the room's row lock and went quiet.
      const holder = await admin.connect();
      await holder.query('BEGIN');
      await holder.query(`SELECT * FROM "${schema.schema}".rooms WHERE room = 'lobby' FOR UPDATE`);
      const refused = await timed(send);
      assert.ok(refused.value.type === 'error', JSON.stringify(refused.value));
      assert.equal(refused.value.code, 'STORE_UNAVAILABLE');
      assert.ok(refused.ms < BOUND_MS, `the send took ${refused.ms} ms to be refused`);
      await holder.query('ROLLBACK');
      holder.release();
      assert.equal((await send()).type, 'ack');
      c.close();
    } finally {
      await server?.stop().catch(() => {});
      await admin.end();
      await schema.drop();
    }
  },
);
