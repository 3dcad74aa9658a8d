// A long outbox after an outage, in a real browser: everything typed while the server was down
// is stored once and in the order typed when it comes back, within the server's rate limit
// (the page paces itself by what the welcome frame says), and nothing is left pending.

import assert from 'node:assert/strict';
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

interface Stored {
  seq: number;
  text: string;
  cid: string;
}

/** The lobby's whole stored history from the server, oldest first, paged over HTTP. */
async function storedLobby(httpUrl: string): Promise<Stored[]> {
  const all: Stored[] = [];
  let before: number | undefined;
  for (;;) {
    const url = new URL('api/rooms/lobby/messages', httpUrl);
    url.searchParams.set('limit', '200');
    if (before !== undefined) url.searchParams.set('before', String(before));
    let res = await fetch(url);
    // The test polls from one address: past the HTTP rate it waits as it is told, as a client should.
    while (res.status === 429) {
      await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? '1') * 1000));
      res = await fetch(url);
    }
    assert.equal(res.status, 200);
    const page = (await res.json()) as { messages: Stored[]; more: boolean };
    all.unshift(...page.messages);
    const first = page.messages[0];
    if (!page.more || !first) return all;
    before = first.seq;
  }
}

/** Types every line in the message box, with no wait between them. */
async function typeAll(page: Page, texts: string[]): Promise<void> {
  for (const t of texts) await sendLine(page, t);
}

/** How many requests the running server refused for the rate (since it started). */
async function rateRefusals(httpUrl: string): Promise<number> {
  const text = await (await fetch(new URL('metrics', httpUrl))).text();
  const m = /^parley_refusals_total\{code="RATE_LIMITED"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

async function errorLines(page: Page): Promise<string[]> {
  return page.$$eval('#log .sys.error .text', (els) => els.map((e) => e.textContent ?? ''));
}

for (const count of [45, 300]) {
  test(`browser: ${count} messages typed during an outage all go out once, in order`, async () => {
    await withPageServer(async ({ server, browser, stop, restart }) => {
      const a = await openChatPage(browser, server.httpUrl, DESKTOP);
      await chooseName(a.page, 'ada');
      await waitReady(a.page);

      await stop();
      await waitForText(a.page, SYS, 'Connection lost.');
      const texts = Array.from({ length: count }, (_, i) => `queued ${i + 1} of ${count}`);
      await typeAll(a.page, texts);
      await waitForText(a.page, PENDING, texts[count - 1] ?? '');

      await restart();
      await waitReady(a.page, RECONNECT_MS);
      // Typed once connected again: it goes after everything that was waiting.
      const after = 'typed after the reconnect';
      await sendLine(a.page, after);
      const want = [...texts, after];
      // At 20 requests a second the queue takes count/20 s; allow plenty more.
      await until(
        'every message to be stored',
        async () => (await storedLobby(server.httpUrl)).length >= want.length,
        RECONNECT_MS + count * 200,
      );
      await until(
        'nothing left pending in the page',
        async () => (await a.page.locator('#pending .pending').count()) === 0,
      );
      // A moment for anything wrongly resent to land too.
      await a.page.waitForTimeout(500);
      const stored = await storedLobby(server.httpUrl);
      assert.deepEqual(
        stored.map((m) => m.text),
        want,
        'each message stored once, in the order typed',
      );
      assert.deepEqual(
        stored.map((m) => m.seq),
        want.map((_, i) => i + 1),
      );
      assert.equal(await rateRefusals(server.httpUrl), 0, 'the page kept to the rate limit');
      assert.equal(await a.page.getAttribute('#status', 'data-state'), 'connected');
      assert.equal(await a.page.locator('#pending .pending').count(), 0);
      assert.deepEqual(await errorLines(a.page), [], 'no error lines');
      assert.deepEqual(a.problems, []);
    });
  });
}

test('browser: 150 messages typed quickly while connected all go out once, in order', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'ada');
    await waitReady(a.page);
    const texts = Array.from({ length: 150 }, (_, i) => `quick ${i + 1}`);
    await typeAll(a.page, texts);
    await until(
      'every message to be stored',
      async () => (await storedLobby(server.httpUrl)).length >= texts.length,
      RECONNECT_MS * 2,
    );
    await until(
      'nothing left pending in the page',
      async () => (await a.page.locator('#pending .pending').count()) === 0,
    );
    await a.page.waitForTimeout(500);
    const stored = await storedLobby(server.httpUrl);
    assert.deepEqual(
      stored.map((m) => m.text),
      texts,
    );
    assert.equal(await rateRefusals(server.httpUrl), 0, 'the page kept to the rate limit');
    assert.deepEqual(await errorLines(a.page), [], 'no error lines');
    assert.deepEqual(a.problems, []);
  });
});

/**
 * Makes the page believe the server allows ten times the rate it does (as when another tab
 * shares the server's budget): the server refuses some of its sends.
 */
const OVERSTATED_RATE = `(() => {
  const d = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    configurable: true,
    get: d.get,
    set(fn) {
      d.set.call(this, (e) => {
        let data = e.data;
        if (typeof data === 'string' && data.includes('"type":"welcome"')) {
          const w = JSON.parse(data);
          w.limits.ratePerSecond *= 10;
          w.limits.rateBurst *= 10;
          data = JSON.stringify(w);
        }
        fn.call(this, { data });
      });
    },
  });
})();`;

test('browser: sends the server refuses for the rate go again by themselves, in order', async () => {
  await withPageServer(async ({ server, browser, stop, restart }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP, { init: OVERSTATED_RATE });
    await chooseName(a.page, 'ada');
    await waitReady(a.page);

    await stop();
    await waitForText(a.page, SYS, 'Connection lost.');
    const texts = Array.from({ length: 120 }, (_, i) => `pushed ${i + 1}`);
    await typeAll(a.page, texts);
    await waitForText(a.page, PENDING, texts[texts.length - 1] ?? '');

    await restart();
    await waitReady(a.page, RECONNECT_MS);
    const after = 'typed after the reconnect';
    await sendLine(a.page, after);
    const want = [...texts, after];
    await until(
      'every message to be stored',
      async () => (await storedLobby(server.httpUrl)).length >= want.length,
      RECONNECT_MS * 2,
    );
    await until(
      'nothing left pending in the page',
      async () => (await a.page.locator('#pending .pending').count()) === 0,
    );
    await a.page.waitForTimeout(500);
    assert.ok((await rateRefusals(server.httpUrl)) > 0, 'the server did refuse some');
    const stored = await storedLobby(server.httpUrl);
    assert.deepEqual(
      stored.map((m) => m.text),
      want,
      'each message stored once, in the order typed',
    );
    assert.deepEqual(await errorLines(a.page), [], 'no error lines');
    assert.deepEqual(a.problems, []);
  });
});
