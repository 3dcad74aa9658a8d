// A dead connection, noticed by the page itself: the browser losing its network, or a link
// that stops carrying anything without closing (the page pings a quiet connection and gives
// up on a request left unanswered). Either way the page says it is offline, keeps what is
// typed meanwhile, and sends it once when it is connected again.

import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  DESKTOP,
  PENDING,
  RECONNECT_MS,
  SYS,
  chooseName,
  openChatPage,
  sendLine,
  until,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

/** Generous: the page should say it within a few seconds. */
const NOTICE_MS = 15_000;

async function storedTexts(httpUrl: string): Promise<string[]> {
  const res = await fetch(new URL('api/rooms/lobby/messages?limit=200', httpUrl));
  const body = (await res.json()) as { messages: { text: string }[] };
  return body.messages.map((m) => m.text);
}

async function waitState(page: Page, state: string, timeout: number): Promise<void> {
  await page.waitForSelector(`#status[data-state="${state}"]`, { timeout });
}

/**
 * Waits until the page has said "Connection lost." `n` times, and is not showing "connected".
 * (Its badge goes from offline to connecting and back while it retries.)
 */
async function waitLost(page: Page, n: number, timeout: number): Promise<void> {
  // The page says it once per room and counts the repeats on that line (data-count).
  await waitForText(page, SYS, 'Connection lost.', 1, timeout);
  await page.waitForFunction(
    (want) =>
      [...document.querySelectorAll<HTMLElement>('#log .sys')].some(
        (l) =>
          l.querySelector('.text')?.textContent === 'Connection lost.' &&
          Number(l.dataset['count'] ?? '1') >= want,
      ),
    n,
    { timeout, polling: 100 },
  );
  assert.notEqual(await page.getAttribute('#status', 'data-state'), 'connected');
  assert.notEqual(await page.textContent('#status'), 'connected');
}

test('browser: the network goes away; the page says so, keeps the message, sends it once back online', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'ada');
    await waitReady(a.page);

    await a.context.setOffline(true);
    await waitLost(a.page, 1, NOTICE_MS);
    await a.page.waitForFunction(
      () => /^no network/.test(document.getElementById('status')?.textContent ?? ''),
      null,
      { timeout: NOTICE_MS, polling: 100 },
    );

    const text = 'typed with no network';
    await sendLine(a.page, text);
    await waitForText(a.page, PENDING, text);
    await a.page.waitForTimeout(1000);
    assert.equal(await a.page.locator('#pending .pending').count(), 1, 'still pending');
    assert.deepEqual(await storedTexts(server.httpUrl), []);

    await a.context.setOffline(false);
    await waitState(a.page, 'connected', RECONNECT_MS);
    await until(
      'the message to be stored',
      async () => (await storedTexts(server.httpUrl)).includes(text),
      RECONNECT_MS,
    );
    await until(
      'nothing pending',
      async () => (await a.page.locator('#pending .pending').count()) === 0,
    );
    await a.page.waitForTimeout(500);
    assert.deepEqual(await storedTexts(server.httpUrl), [text], 'stored once');
    assert.deepEqual(a.problems, []);
  });
});

/**
 * A TCP relay to the server that can go silent: while cut, it keeps every connection open but
 * carries nothing either way, like a network path that died without a reset.
 */
class Relay {
  /** The server's port, set once it has started. */
  target = 0;
  private cut = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor() {
    this.server = createServer((client) => {
      const up = connect(this.target, '127.0.0.1');
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => this.sockets.delete(s));
      }
      client.on('data', (d) => {
        if (!this.cut) up.write(d);
      });
      up.on('data', (d) => {
        if (!this.cut) client.write(d);
      });
      // A dead path carries no reset either.
      client.on('close', () => {
        if (!this.cut) up.destroy();
      });
      up.on('close', () => {
        if (!this.cut) client.destroy();
      });
    });
  }

  static async start(): Promise<Relay> {
    const relay = new Relay();
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    const addr = this.server.address();
    assert.ok(addr && typeof addr === 'object');
    return addr.port;
  }

  silence(): void {
    this.cut = true;
  }

  /** Carries again; connections that lost frames while cut are reset. */
  restore(): void {
    for (const s of this.sockets) s.destroy();
    this.cut = false;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

test('browser: a connection that goes silent is noticed by a ping, then by the unanswered send', async () => {
  const relay = await Relay.start();
  const origin = `http://127.0.0.1:${relay.port}`;
  try {
    await withPageServer(
      async ({ server, browser }) => {
        relay.target = server.httpPort;
        const a = await openChatPage(browser, `${origin}/`, DESKTOP);
        await chooseName(a.page, 'ada');
        await waitReady(a.page);

        // Nothing to say: the page's own ping goes unanswered.
        relay.silence();
        await waitLost(a.page, 1, 60_000);
        relay.restore();
        await waitState(a.page, 'connected', RECONNECT_MS);
        await waitReady(a.page);

        // A send left unanswered gives up on the connection sooner than a quiet spell would.
        relay.silence();
        const text = 'sent into a silent connection';
        const started = Date.now();
        await sendLine(a.page, text);
        await waitLost(a.page, 2, NOTICE_MS);
        const noticed = Date.now() - started;
        assert.ok(noticed < NOTICE_MS, `noticed after ${noticed} ms`);
        await waitForText(a.page, PENDING, text);

        relay.restore();
        await waitState(a.page, 'connected', RECONNECT_MS);
        await until(
          'the message to be stored',
          async () => (await storedTexts(server.httpUrl)).includes(text),
          RECONNECT_MS,
        );
        await until(
          'nothing pending',
          async () => (await a.page.locator('#pending .pending').count()) === 0,
        );
        await a.page.waitForTimeout(500);
        assert.deepEqual(await storedTexts(server.httpUrl), [text], 'stored once');
        assert.deepEqual(a.problems, []);
      },
      { allowedOrigins: [origin] },
    );
  } finally {
    await relay.close();
  }
});
