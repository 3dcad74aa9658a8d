// Reading back in a real browser: scrolling up pages older history in without moving what the
// reader looks at, a reader scrolled up is not pulled down by new messages (a "new messages"
// button instead), one person's messages group under one name, and Shift+Enter makes a line.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  Bot,
  DESKTOP,
  MSG,
  WAIT_MS,
  countText,
  openChatPage,
  shownSeqs,
  skipName,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Where a message's line is on screen, relative to the top of the log. */
function lineTop(page: Page, seq: number): Promise<number> {
  return page.evaluate((s) => {
    const line = document.querySelector(`#log .msg[data-seq="${s}"]`);
    const log = document.getElementById('log');
    if (!line || !log) throw new Error(`no line for seq ${s}`);
    return line.getBoundingClientRect().top - log.getBoundingClientRect().top;
  }, seq);
}

const scrollTop = (page: Page) => page.evaluate(() => document.getElementById('log')?.scrollTop);

test('browser: scrolling up loads older history without a jump; new messages do not yank', async () => {
  await withPageServer(
    async ({ server, browser }) => {
      const bot = await Bot.connect(server.wsUrl, 'feeder');
      try {
        await bot.say(
          'lobby',
          range(1, 120).map((i) => `history line ${i}`),
        );
        const a = await openChatPage(browser, server.httpUrl, DESKTOP);
        await skipName(a.page);
        await waitReady(a.page);
        await waitForText(a.page, MSG, 'history line 120');
        // The newest page (50), at the bottom, grouped under one name, one day separator.
        assert.deepEqual(await shownSeqs(a.page, 'lobby'), range(71, 120));
        assert.equal(await countText(a.page, '#log .day', 'Today'), 1);
        assert.equal(await a.page.locator('#log .msg:not(.grouped)').count(), 1);
        assert.equal(await a.page.locator('#log .msg.grouped').count(), 49);
        assert.ok(
          await a.page.evaluate(() => {
            const log = document.getElementById('log');
            return !!log && log.scrollHeight - log.scrollTop - log.clientHeight < 2;
          }),
          'starts at the bottom',
        );

        // Scroll to the top: the next older page goes in above, and the line that was on top
        // stays exactly where it was on screen.
        await a.page.evaluate(() => {
          const log = document.getElementById('log');
          if (log) log.scrollTop = 0;
        });
        const before = await lineTop(a.page, 71);
        await waitForText(a.page, MSG, 'history line 21');
        assert.deepEqual(await shownSeqs(a.page, 'lobby'), range(21, 120));
        assert.ok(Math.abs((await lineTop(a.page, 71)) - before) <= 1, 'the view did not jump');
        assert.ok(((await scrollTop(a.page)) ?? 0) > 0, 'the new page is above the view');

        // Again, with the keyboard (Home on the focused log), down to the first message.
        await a.page.focus('#log');
        await a.page.keyboard.press('Home');
        await waitForText(a.page, MSG, 'history line 1');
        await waitForText(a.page, '#log .older-note', 'This is the beginning of #lobby.');
        assert.deepEqual(await shownSeqs(a.page, 'lobby'), range(1, 120));

        // Reading in the middle: a new message arrives below without moving the view.
        await a.page.evaluate(() => {
          const log = document.getElementById('log');
          if (log) log.scrollTop = 600;
        });
        await a.page.waitForTimeout(100);
        const reading = await scrollTop(a.page);
        const anchor = await lineTop(a.page, 20);
        await bot.say('lobby', ['something new']);
        await waitForText(a.page, MSG, 'something new');
        await waitForText(a.page, '#jump', '1 new message ↓');
        assert.equal(await scrollTop(a.page), reading);
        assert.equal(await lineTop(a.page, 20), anchor);
        await bot.say('lobby', ['and another']);
        await waitForText(a.page, '#jump', '2 new messages ↓');
        await a.page.click('#jump');
        await a.page.waitForSelector('#jump', { state: 'hidden', timeout: WAIT_MS });
        assert.ok(
          await a.page.evaluate(() => {
            const log = document.getElementById('log');
            return !!log && log.scrollHeight - log.scrollTop - log.clientHeight < 2;
          }),
          'the button goes to the bottom',
        );

        // At the bottom, new messages are followed.
        await bot.say('lobby', ['followed']);
        await waitForText(a.page, MSG, 'followed');
        assert.ok(await a.page.locator('#jump').isHidden());

        // Enter sends, Shift+Enter starts a new line in the same message.
        await a.page.focus('#text');
        await a.page.keyboard.type('first line');
        await a.page.keyboard.press('Shift+Enter');
        await a.page.keyboard.type('second line');
        assert.equal(await a.page.inputValue('#text'), 'first line\nsecond line');
        await a.page.keyboard.press('Enter');
        await waitForText(a.page, MSG, 'first line\nsecond line');
        assert.equal(await a.page.inputValue('#text'), '');
        // Another person's message after the bot's breaks the group: it shows its own name.
        const last = await a.page.$$eval('#log .msg', (ls) =>
          ls.at(-1)?.classList.contains('grouped'),
        );
        assert.equal(last, false);
        assert.deepEqual(await shownSeqs(a.page, 'lobby'), range(1, 124));
        assert.deepEqual(a.problems, []);
      } finally {
        bot.close();
      }
    },
    { ratePerSecond: 1000, rateBurst: 1000 },
  );
});
