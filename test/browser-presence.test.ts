// Presence dots and connection lines in a real browser: with the server gone no one shows as
// connected, the close is said in words, a reconnect updates its lines instead of adding a new
// set, and a direct conversation shows whether the other person is connected now.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  ARTIFACTS,
  DESKTOP,
  RECONNECT_MS,
  SYS,
  WAIT_MS,
  chooseName,
  countText,
  openChatPage,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

/** Each member's name and the colour of its presence dot. */
async function dots(page: Page): Promise<{ name: string; color: string }[]> {
  return page.$$eval('#members li', (ls) =>
    ls.map((l) => ({
      name: (l.querySelector('button') ?? l).firstChild?.textContent ?? '',
      color: getComputedStyle(l, '::before').backgroundColor,
    })),
  );
}

/** The colour a connected member's dot has: the page's own name, while connected. */
async function connectedColor(page: Page): Promise<string> {
  await page.waitForSelector('#status[data-state="connected"]', { timeout: WAIT_MS });
  return page.$eval('#members li.me', (l) => getComputedStyle(l, '::before').backgroundColor);
}

test('browser: with the server down, no one shows as connected and the close is said in words', async () => {
  await withPageServer(async ({ server, browser, stop, restart }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    await chooseName(b.page, 'bob');
    for (const p of [a, b]) await waitReady(p.page);
    await waitForText(a.page, '#members li', 'bob');
    const green = await connectedColor(a.page);
    assert.deepEqual(
      (await dots(a.page)).map((d) => d.color === green),
      [true, true],
    );

    await stop();
    await waitForText(a.page, SYS, 'Connection lost.');
    await a.page.waitForFunction(
      (g) =>
        [...document.querySelectorAll('#members li')].every(
          (l) => getComputedStyle(l, '::before').backgroundColor !== g,
        ),
      green,
      { timeout: WAIT_MS },
    );
    assert.equal((await dots(a.page)).length, 2, 'the last known members stay listed');
    const lines = await a.page.$$eval(SYS, (ls) => ls.map((l) => l.textContent ?? ''));
    for (const l of lines)
      assert.doesNotMatch(l, /\(\d{4}\)|\b10\d\d\b/, `a bare close code: ${l}`);
    assert.ok(
      lines.some((l) => /server/i.test(l) && /reconnect/i.test(l)),
      `the close said in words:\n${lines.join('\n')}`,
    );
    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-server-down.png') });

    // Back: green again, and one set of connection lines that says it happened twice.
    await restart();
    await a.page.waitForSelector('#status[data-state="connected"]', { timeout: RECONNECT_MS });
    await a.page.waitForFunction(
      (g) =>
        [...document.querySelectorAll('#members li')].filter(
          (l) => getComputedStyle(l, '::before').backgroundColor === g,
        ).length === 2,
      green,
      { timeout: RECONNECT_MS },
    );
    await waitForText(a.page, '#log .sys[data-count="2"] .text', 'Connection opened.');
    for (const t of ['Connection opened.', 'Welcome to the chat!!!', 'You are alice.']) {
      assert.equal(await countText(a.page, SYS, t), 1, t);
    }
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-server-back.png') });
    for (const p of [a, b]) assert.deepEqual(p.problems, []);
  });
});

// Needs the server to send a direct room's connected participants in the join result and
// presence events in direct rooms.
test('browser: a direct conversation shows whether the other person is connected now', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    await chooseName(b.page, 'bob');
    for (const p of [a, b]) await waitReady(p.page);
    const green = await connectedColor(a.page);
    await a.page.click('#members button:has-text("bob")');
    await waitForText(a.page, '#room-title', '@bob');
    const bobGreen = (want: boolean) =>
      a.page.waitForFunction(
        ([g, w]) => {
          const li = [...document.querySelectorAll('#members li')].find(
            (l) => l.textContent?.trim().startsWith('bob') ?? false,
          );
          return !!li && (getComputedStyle(li, '::before').backgroundColor === g) === w;
        },
        [green, want] as const,
        { timeout: WAIT_MS },
      );
    await bobGreen(true);
    await b.context.close();
    await bobGreen(false);
    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-direct-offline.png') });
    assert.deepEqual(a.problems, []);
  });
});
