// Long and right-to-left text in a real browser: a draft over the size limit is refused for
// that reason and stays in the box; a long message is folded behind a keyboard-reachable
// "Show more"; Arabic and Hebrew lay out right to left, each message in its own direction.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ARTIFACTS,
  Bot,
  DESKTOP,
  MSG,
  PENDING,
  PHONE,
  chooseName,
  countText,
  openChatPage,
  sendLine,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

const TOO_LONG = /too long/i;

test('browser: a draft over 16 KiB is refused as too long, by how much, and kept in the box', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    await waitReady(a.page);
    const paste = 'word '.repeat(4096); // 20,480 bytes, 4,096 over
    await a.page.fill('#text', paste);
    await a.page.press('#text', 'Enter');
    await a.page.waitForFunction(
      () =>
        [...document.querySelectorAll('#log .sys.error .text')].some((e) =>
          /too long/i.test(e.textContent ?? ''),
        ),
      null,
      { timeout: 15_000 },
    );
    const said = await a.page.$$eval('#log .sys.error .text', (ls) =>
      ls.map((l) => l.textContent ?? ''),
    );
    const line = said.find((t) => TOO_LONG.test(t)) ?? '';
    assert.doesNotMatch(line, /control characters/, line);
    assert.match(line, /20\.0 KB/, `says how long: ${line}`);
    assert.match(line, /4\.0 KB over/, `says by how much: ${line}`);
    assert.match(line, /16 KB/, `says the limit: ${line}`);
    assert.equal(await a.page.inputValue('#text'), paste, 'the draft stays in the box');
    assert.equal(await a.page.locator(PENDING).count(), 0, 'nothing queued');
    // Shortened, it goes, and the box empties.
    await a.page.fill('#text', 'word '.repeat(3000).trim());
    await a.page.press('#text', 'Enter');
    await waitForText(a.page, MSG, 'word '.repeat(3000).trim());
    assert.equal(await a.page.inputValue('#text'), '');
    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-too-long.png') });
    assert.deepEqual(a.problems, []);
  });
});

test('browser: long messages fold behind Show more; right-to-left text runs right to left', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    await waitReady(a.page);
    const bot = await Bot.connect(server.wsUrl, 'نور');
    const tall = Array.from({ length: 170 }, (_, i) => `line ${i + 1} of a long paste`).join('\n');
    const wide = 'lorem ipsum dolor sit amet '.repeat(400).trim(); // ~10 KB on one line
    const arabic = 'مرحبا بالجميع، كيف حالكم اليوم؟';
    const hebrew = 'שלום לכולם, מה שלומכם?';
    await bot.say('lobby', [tall, wide, arabic, hebrew, 'short and plain']);
    await waitForText(a.page, MSG, 'short and plain');

    for (const text of [tall, wide]) {
      const box = a.page.locator('#log .msg', { hasText: text.slice(0, 40) }).first();
      const more = box.getByRole('button', { name: 'Show more' });
      assert.equal(await more.count(), 1, 'a Show more button');
      assert.equal(await more.getAttribute('aria-expanded'), 'false');
      const folded = (await box.boundingBox())?.height ?? 0;
      assert.ok(folded > 0 && folded < 400, `folded height ${folded}`);
      // Keyboard: focus the button and press Enter; then Space folds it again.
      await more.focus();
      await a.page.keyboard.press('Enter');
      const less = box.getByRole('button', { name: 'Show less' });
      assert.equal(await less.getAttribute('aria-expanded'), 'true');
      const open = (await box.boundingBox())?.height ?? 0;
      assert.ok(open > folded * 2, `expanded ${open} > folded ${folded}`);
      // Folded text is still all there for search and copying.
      assert.equal(await countText(a.page, MSG, text), 1);
      await less.focus();
      await a.page.keyboard.press(' ');
      assert.equal(await more.getAttribute('aria-expanded'), 'false');
    }
    const short = a.page.locator('#log .msg', { hasText: 'short and plain' });
    assert.equal(
      await short.getByRole('button', { name: /^Show (more|less)$/ }).count(),
      0,
      'short messages are not folded',
    );

    // Each message in its own direction; the names too.
    const dirs = await a.page.$$eval('#log .msg', (ls) =>
      ls.map((l) => {
        const t = l.querySelector<HTMLElement>('.text');
        const f = l.querySelector<HTMLElement>('.from');
        return {
          text: t?.textContent ?? '',
          dir: t?.getAttribute('dir'),
          fromDir: f?.getAttribute('dir'),
          direction: t ? getComputedStyle(t).direction : '',
        };
      }),
    );
    for (const d of dirs) {
      assert.equal(d.dir, 'auto', d.text.slice(0, 20));
      assert.equal(d.fromDir, 'auto');
    }
    for (const t of [arabic, hebrew]) {
      assert.equal(dirs.find((d) => d.text === t)?.direction, 'rtl', t);
    }
    assert.equal(dirs.find((d) => d.text === 'short and plain')?.direction, 'ltr');
    assert.equal(await a.page.getAttribute('#members li button', 'dir'), 'auto');
    // Right to left means right-aligned: the Arabic line ends at the right of its box.
    const edge = await a.page.locator('#log .msg .text', { hasText: arabic }).evaluate((t) => {
      const range = document.createRange();
      range.selectNodeContents(t);
      const r = range.getBoundingClientRect();
      return t.getBoundingClientRect().right - r.right;
    });
    assert.ok(edge < 4, `Arabic text sits at the right (gap ${edge}px)`);
    await sendLine(a.page, hebrew);
    await waitForText(a.page, MSG, hebrew, 2);
    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-long-and-rtl.png') });
    // A second reader on a phone sees the same folds, in the same directions.
    const p = await openChatPage(browser, server.httpUrl, PHONE);
    await chooseName(p.page, 'pia');
    await waitReady(p.page);
    await waitForText(p.page, MSG, 'short and plain');
    assert.equal(await p.page.getByRole('button', { name: 'Show more' }).count(), 2);
    await p.page.locator('#log .msg', { hasText: arabic }).scrollIntoViewIfNeeded();
    await p.page.screenshot({ path: join(ARTIFACTS, 'phone-long-and-rtl.png') });
    assert.deepEqual(p.problems, []);
    bot.close();
    assert.deepEqual(a.problems, []);
  });
});
