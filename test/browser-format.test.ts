// A formatted message between two real pages: code, emphasis, quotes, lists and links become
// the elements they stand for, and markup inside any of them still shows as text.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  DESKTOP,
  chooseName,
  openChatPage,
  sendLine,
  waitReady,
  waitForText,
  withPageServer,
  WAIT_MS,
} from './browser-helpers.js';

const SHOTS = '/tmp/parley-shots';

const FORMATTED = [
  '**bold** *italic* _also_ ~~struck~~ `a **b** <i>` see https://example.com/a_b and @bob',
  '```ts',
  'const x = "<b>";',
  '**not bold**',
  '```',
  '> quoted *well*',
  '- one',
  '- two',
  '3. three',
  '4. four',
].join('\n');

const HOSTILE =
  '<script>window.__xss=1</script> `<img src=x onerror=window.__xss=2>` **<img src=x onerror=window.__xss=3>**';

/** Tag and text of every element in the last message's text, in document order. */
async function lastMessage(page: Page): Promise<{ html: string[]; text: string }> {
  return page.evaluate(() => {
    const texts = document.querySelectorAll('#log .msg .text');
    const el = texts[texts.length - 1];
    return {
      html: [...(el?.querySelectorAll('*') ?? [])].map(
        (e) =>
          `${e.tagName.toLowerCase()}${e.getAttribute('start') ? `[start=${e.getAttribute('start')}]` : ''}: ${e.textContent}`,
      ),
      text: el?.textContent ?? '',
    };
  });
}

test('browser: a formatted message shows as code, emphasis, quote, lists and link on both pages', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    await chooseName(b.page, 'bob');
    for (const p of [a, b]) await waitReady(p.page);
    await waitForText(a.page, '#members li', 'bob');

    await sendLine(a.page, FORMATTED);
    for (const p of [a, b])
      await p.page.waitForSelector('#log .msg .text ol', { timeout: WAIT_MS });
    const expected = [
      'strong: bold',
      'em: italic',
      'em: also',
      's: struck',
      'code: a **b** <i>',
      'a: https://example.com/a_b',
      'pre: const x = "<b>";\n**not bold**',
      'code: const x = "<b>";\n**not bold**',
      'blockquote: quoted well',
      'em: well',
      'ul: onetwo',
      'li: one',
      'li: two',
      'ol[start=3]: threefour',
      'li: three',
      'li: four',
    ];
    const seenByA = await lastMessage(a.page);
    assert.deepEqual(seenByA.html, expected);
    // Bob's name is marked on his page only.
    const seenByB = await lastMessage(b.page);
    assert.deepEqual(seenByB.html, [...expected.slice(0, 6), 'mark: @bob', ...expected.slice(6)]);
    const look = await b.page.evaluate(() => {
      const code = document.querySelector('#log .msg .text code');
      const a = document.querySelector<HTMLAnchorElement>('#log .msg .text a');
      return {
        font: code ? getComputedStyle(code).fontFamily : '',
        body: getComputedStyle(document.body).fontFamily,
        href: a?.getAttribute('href'),
        rel: a?.rel,
      };
    });
    assert.match(look.font, /monospace/);
    assert.doesNotMatch(look.body, /monospace/);
    assert.equal(look.href, 'https://example.com/a_b');
    assert.equal(look.rel, 'noopener noreferrer');

    // Markup in text, in code and in bold is still text.
    await sendLine(a.page, HOSTILE);
    const shownText =
      '<script>window.__xss=1</script> <img src=x onerror=window.__xss=2> <img src=x onerror=window.__xss=3>';
    for (const p of [a, b]) {
      await waitForText(p.page, '#log .msg .text', shownText);
      const hostile = await lastMessage(p.page);
      assert.deepEqual(hostile.html, [
        'code: <img src=x onerror=window.__xss=2>',
        'strong: <img src=x onerror=window.__xss=3>',
      ]);
      const active = await p.page.$$eval(
        '#log script, #log img, #log i, #log b:not(.from)',
        (els) => els.map((e) => e.outerHTML),
      );
      assert.deepEqual(active, []);
      assert.equal(await p.page.evaluate(() => (window as { __xss?: unknown }).__xss), undefined);
      assert.deepEqual(p.problems, []);
    }

    mkdirSync(SHOTS, { recursive: true });
    await b.page.screenshot({ path: `${SHOTS}/format.png` });
  });
});
