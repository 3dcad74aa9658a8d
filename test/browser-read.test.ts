// Read markers in a real browser: two pages of one account show the same unread and mention
// counts, reading on one clears them on the other, and a reload keeps the counts and puts the
// "new" line above the first message not read.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  Bot,
  DESKTOP,
  FAKE_TAB,
  WAIT_MS,
  chooseName,
  openChatPage,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

const badge = (room: string) => `#side button[data-room="${room}"] .badge`;
const roomButton = (room: string) => `#rooms button[data-room="${room}"]`;

/** Waits until the room's sidebar button shows no unread count. */
async function noBadge(page: Page, room: string): Promise<void> {
  await page.waitForSelector(badge(room), { state: 'detached', timeout: WAIT_MS });
}

/** The text of the first message below the "new" line of a room, or null with no line. */
function belowNewLine(page: Page, room: string): Promise<string | null> {
  return page.evaluate((r) => {
    const section = document.querySelector(`#log section[data-room="${r}"]`);
    const line = section?.querySelector('.new-line');
    if (!line) return null;
    let e = line.nextElementSibling;
    while (e && !e.classList.contains('msg')) e = e.nextElementSibling;
    return e?.querySelector('.text')?.textContent ?? null;
  }, room);
}

async function open(page: Page, room: string): Promise<void> {
  await page.click(roomButton(room));
  await waitForText(page, '#room-title', `#${room}`);
}

test('browser: unread counts, mentions and the "new" line follow one account to a second page and through a reload', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP, { init: FAKE_TAB });
    await chooseName(a.page, 'ada');
    await waitReady(a.page);
    await a.page.fill('#join-input', 'dev');
    await a.page.press('#join-input', 'Enter');
    await waitForText(a.page, '#room-title', '#dev');
    await open(a.page, 'lobby');

    // The same account on a second device: its token, and the rooms it keeps.
    const token = await a.page.evaluate(() => localStorage.getItem('parley.token'));
    assert.ok(token);
    const same = `(() => {
      if (localStorage.getItem('parley.token')) return;
      localStorage.setItem('parley.token', ${JSON.stringify(token)});
      localStorage.setItem('parley.name', 'ada');
      localStorage.setItem('parley.rooms', '["lobby","dev"]');
    })();`;
    const b = await openChatPage(browser, server.httpUrl, DESKTOP, { init: same });
    await waitReady(b.page);
    await waitForText(b.page, '#me', 'ada');

    const bob = await Bot.connect(server.wsUrl, 'bob');
    await bob.request({ type: 'join', room: 'dev' });
    await bob.say('dev', ['first in dev', 'second, @ada', 'third']);
    for (const p of [a, b]) {
      await waitForText(p.page, badge('dev'), '3');
      assert.equal(await p.page.locator(`${badge('dev')}.mention`).count(), 1, 'a mention');
    }

    // Read on the first page: the line is above bob's first, and the second page's count goes.
    await open(a.page, 'dev');
    await waitForText(a.page, '#log section[data-room="dev"] .msg .text', 'third');
    assert.equal(await belowNewLine(a.page, 'dev'), 'first in dev');
    await noBadge(a.page, 'dev');
    await noBadge(b.page, 'dev');

    // More while neither looks; the second page reloads and the server still counts them.
    await open(a.page, 'lobby');
    await bob.say('dev', ['fourth', 'fifth']);
    await waitForText(b.page, badge('dev'), '2');
    await b.page.reload();
    await waitReady(b.page);
    await waitForText(b.page, badge('dev'), '2');
    assert.equal(await b.page.locator(`${badge('dev')}.mention`).count(), 0);
    await waitForText(a.page, badge('dev'), '2');

    // The second page reads them: its line is where the first page stopped.
    await open(b.page, 'dev');
    await waitForText(b.page, '#log section[data-room="dev"] .msg .text', 'fifth');
    assert.equal(await belowNewLine(b.page, 'dev'), 'fourth');
    await noBadge(b.page, 'dev');
    await noBadge(a.page, 'dev');

    // A hidden tab does not read: the room shown counts until the tab is back.
    await open(b.page, 'lobby');
    await a.page.evaluate(() =>
      (window as unknown as { __setHidden(h: boolean): void }).__setHidden(true),
    );
    await open(a.page, 'dev');
    await bob.say('dev', ['sixth, @ada']);
    await waitForText(b.page, badge('dev'), '1');
    await waitForText(a.page, badge('dev'), '1');
    await a.page.evaluate(() =>
      (window as unknown as { __setHidden(h: boolean): void }).__setHidden(false),
    );
    await noBadge(a.page, 'dev');
    await noBadge(b.page, 'dev');

    // And a reload of the first page: nothing unread, no line.
    await a.page.reload();
    await waitReady(a.page);
    await waitForText(a.page, '#log section[data-room="dev"] .msg .text', 'sixth, @ada');
    assert.equal(await a.page.locator(badge('dev')).count(), 0);
    assert.equal(await belowNewLine(a.page, 'dev'), null);

    bob.close();
    for (const [i, p] of [a, b].entries()) assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
  });
});
