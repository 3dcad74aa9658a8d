// Search in a real browser: the box in the header finds messages, marks what matched (as
// elements made by the page, never HTML from a message), and a result opens its message in
// context, loading older history to reach it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Bot,
  DESKTOP,
  MSG,
  WAIT_MS,
  openChatPage,
  skipName,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

test('browser: search finds, marks the match, and opens an old message in its room', async () => {
  await withPageServer(
    async ({ server, browser }) => {
      const bot = await Bot.connect(server.wsUrl, 'feeder');
      try {
        await bot.say('lobby', ['the Needle of 東京 <b>not bold</b>', 'a second needle']);
        await bot.say(
          'lobby',
          Array.from({ length: 100 }, (_, i) => `filler line ${i + 1}`),
        );
        const { page } = await openChatPage(browser, server.httpUrl, DESKTOP);
        await skipName(page);
        await waitReady(page);
        await waitForText(page, MSG, 'filler line 100');
        assert.equal(await page.locator('#log .msg[data-seq="1"]').count(), 0, 'not loaded yet');

        await page.fill('#search-input', 'needle');
        await page.press('#search-input', 'Enter');
        await waitForText(page, '#search-status', '2 found for “needle”.');
        const hits = page.locator('#search-results .hit');
        assert.equal(await hits.count(), 2);
        const first = hits.filter({ hasText: '東京' });
        assert.deepEqual(await first.locator('mark').allTextContents(), ['Needle']);
        assert.equal(await first.locator('.hit-text b').count(), 0, 'no HTML from the message');
        assert.match((await first.locator('.hit-text').textContent()) ?? '', /<b>not bold<\/b>/);
        assert.match(
          (await first.locator('.hit-where').textContent()) ?? '',
          /^#lobby · feeder · /,
        );

        await first.click();
        const line = page.locator('#log .msg[data-seq="1"]');
        await line.waitFor({ timeout: WAIT_MS });
        await page.waitForFunction(
          () => document.querySelector('#log .msg[data-seq="1"]')?.classList.contains('found'),
          undefined,
          { timeout: WAIT_MS },
        );
        assert.ok(await page.locator('#search-panel').isHidden(), 'the results make way');
        const inView = await page.evaluate(() => {
          const l = document.querySelector('#log .msg[data-seq="1"]')?.getBoundingClientRect();
          const box = document.getElementById('log')?.getBoundingClientRect();
          return !!l && !!box && l.top >= box.top && l.bottom <= box.bottom;
        });
        assert.ok(inView, 'the message is scrolled into view');

        // Two characters of Japanese: shorter than the index's trigrams, found all the same.
        await page.fill('#search-input', '東京');
        await page.press('#search-input', 'Enter');
        await waitForText(page, '#search-status', '1 found for “東京”.');
        assert.deepEqual(await page.locator('#search-results mark').allTextContents(), ['東京']);

        // /search in the message box runs the same search.
        await page.fill('#text', '/search second');
        await page.press('#text', 'Enter');
        await waitForText(page, '#search-status', '1 found for “second”.');
        assert.equal(await page.inputValue('#search-input'), 'second');
      } finally {
        bot.close();
      }
      // The feeder sends its lines at once.
    },
    { ratePerSecond: 1000, rateBurst: 1000 },
  );
});
