// A message's life in real browsers, between two and three people: edits shown live and after a
// reload, removals as placeholders, reactions counted and toggled with who reacted on hover and
// keyboard focus, replies quoting what they answer and jumping to it when it is not loaded, Up
// to edit, the message menu by role (and the server's refusal of a forged removal, said on the
// page), a moderator removing another's message, and a reaction made offline going once.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import {
  ARTIFACTS,
  Bot,
  DESKTOP,
  PENDING,
  RECONNECT_MS,
  SYS,
  WAIT_MS,
  chooseName,
  countText,
  openChatPage,
  sendLine,
  waitForText,
  waitReady,
  withPageServer,
  type ChatPage,
} from './browser-helpers.js';

/** A message's line in the page, by (part of) its text. */
function line(page: Page, text: string): Locator {
  return page.locator('#log .room-log:not([hidden]) .msg', { hasText: text });
}

/** The seq of the message showing `text`. */
async function seqOf(page: Page, text: string): Promise<number> {
  await line(page, text).first().waitFor({ timeout: WAIT_MS });
  return Number(await line(page, text).first().getAttribute('data-seq'));
}

/** Opens a message's menu as a mouse user would: hover, then its ⋯ button. */
async function openMenu(page: Page, text: string): Promise<Locator> {
  const l = line(page, text).first();
  await l.hover();
  await l.locator('.msg-more').click();
  const menu = l.locator('.msg-menu');
  await menu.waitFor({ timeout: WAIT_MS });
  return menu;
}

/** The chips under a message: emoji, count, pressed, and who (title and aria-label). */
async function chips(page: Page, seq: number) {
  return page.$$eval(`#log .msg[data-seq="${seq}"] .chip:not(.add)`, (els) =>
    els.map((e) => ({
      emoji: e.querySelector('.emoji')?.textContent,
      n: Number(e.querySelector('.n')?.textContent),
      pressed: e.getAttribute('aria-pressed'),
      title: e.getAttribute('title'),
      label: e.getAttribute('aria-label'),
    })),
  );
}

/** Waits until `check` holds in the page; the error shows the log. */
async function waitFor<A>(
  page: Page,
  what: string,
  check: (a: A) => boolean,
  arg?: A,
): Promise<void> {
  try {
    // Playwright types the argument as it arrives in the page; here it is passed as it is.
    const f = check as (a: unknown) => boolean;
    await page.waitForFunction(f, arg, { timeout: WAIT_MS, polling: 100 });
  } catch (e) {
    const seen = await page.evaluate(() =>
      [...document.querySelectorAll('#log .line')].map((l) => l.textContent).join('\n'),
    );
    throw new Error(`waited for ${what}; log:\n${seen}`, { cause: e });
  }
}

function textOf(page: Page, seq: number): Promise<string> {
  return page.locator(`#log .msg[data-seq="${seq}"] .text`).innerText();
}

async function two(browser: Parameters<typeof openChatPage>[0], url: string) {
  const a = await openChatPage(browser, url, DESKTOP);
  const b = await openChatPage(browser, url, DESKTOP);
  await chooseName(a.page, 'ada');
  await chooseName(b.page, 'bob');
  for (const p of [a, b]) await waitReady(p.page);
  return [a, b] as const;
}

test('browser: edits, removals and reactions between two people, live and after a reload', async () => {
  await withPageServer(async ({ server, browser }) => {
    const [a, b] = await two(browser, server.httpUrl);
    await sendLine(a.page, 'helo wrold');
    const seq = await seqOf(b.page, 'helo wrold');

    // ada edits in place from the menu: Enter saves.
    const menu = await openMenu(a.page, 'helo wrold');
    assert.deepEqual(await menu.locator('.menu-acts button').allTextContents(), [
      'Reply',
      'Edit',
      'Remove…',
    ]);
    await menu.getByRole('button', { name: 'Edit', exact: true }).click();
    const box = a.page.locator(`#log .msg[data-seq="${seq}"] textarea.edit-box`);
    assert.equal(await box.inputValue(), 'helo wrold');
    assert.equal(await a.page.evaluate(() => document.activeElement?.className), 'edit-box');
    await box.fill('hello world');
    await box.press('Enter');
    for (const p of [a, b]) {
      await waitFor(
        p.page,
        'the edit',
        (s) => {
          const t = document.querySelector(`#log .msg[data-seq="${s}"] .text`)?.textContent;
          return t === 'hello world (edited)';
        },
        seq,
      );
    }
    const mark = b.page.locator(`#log .msg[data-seq="${seq}"] .edited`);
    assert.match((await mark.getAttribute('title')) ?? '', /^Edited \S/);
    assert.equal(await b.page.locator(`#log .msg[data-seq="${seq}"]`).count(), 1, 'one line');

    // Reactions: bob from the menu, ada on bob's chip; both see two, each their own pressed.
    const bm = await openMenu(b.page, 'hello world');
    await bm.getByRole('button', { name: 'React with 👍' }).click();
    await waitFor(
      a.page,
      'a chip',
      (s) => !!document.querySelector(`#log .msg[data-seq="${s}"] .chip`),
      seq,
    );
    await a.page.locator(`#log .msg[data-seq="${seq}"] .chip:not(.add)`).click();
    for (const p of [a, b]) {
      await waitFor(
        p.page,
        'two 👍',
        (s) => {
          return document.querySelector(`#log .msg[data-seq="${s}"] .chip .n`)?.textContent === '2';
        },
        seq,
      );
    }
    const [ca] = await chips(a.page, seq);
    assert.equal(ca?.pressed, 'true', 'my own reaction is marked');
    assert.equal(ca?.title, 'You and bob reacted with 👍');
    assert.match(
      ca?.label ?? '',
      /^👍 2: You and bob reacted with 👍\. Press to take yours back\.$/,
    );
    assert.equal((await chips(b.page, seq))[0]?.title, 'You and ada reacted with 👍');
    // Who reacted shows on keyboard focus as well as on hover.
    await b.page.focus('#text');
    await b.page.keyboard.press('Shift+Tab');
    const chip = b.page.locator(`#log .msg[data-seq="${seq}"] .chip:not(.add)`);
    for (let i = 0; i < 6 && !(await chip.evaluate((e) => e === document.activeElement)); i++) {
      await b.page.keyboard.press('Shift+Tab');
    }
    assert.ok(
      await chip.evaluate((e) => e === document.activeElement),
      'the chip is reached by Tab',
    );
    const tip = await chip.evaluate((e) => getComputedStyle(e, '::after').content);
    assert.equal(tip, '"You and ada reacted with 👍"');
    // Space on the focused chip takes bob's back; the focus stays on the chip.
    await b.page.keyboard.press('Space');
    for (const p of [a, b]) {
      await waitFor(
        p.page,
        'one 👍',
        (s) => {
          return document.querySelector(`#log .msg[data-seq="${s}"] .chip .n`)?.textContent === '1';
        },
        seq,
      );
    }
    assert.equal((await chips(b.page, seq))[0]?.pressed, 'false');
    assert.ok(await chip.evaluate((e) => e === document.activeElement), 'focus kept on redraw');
    // Any emoji, typed.
    const other = await openMenu(b.page, 'hello world');
    await other.locator('input.any-emoji').fill('🦀');
    await other.locator('input.any-emoji').press('Enter');
    await waitFor(
      a.page,
      'the crab',
      (s) => {
        return [...document.querySelectorAll(`#log .msg[data-seq="${s}"] .chip .emoji`)].some(
          (e) => e.textContent === '🦀',
        );
      },
      seq,
    );

    // After a reload, the same state from history.
    await b.page.reload();
    await waitReady(b.page);
    await waitFor(
      b.page,
      'the state after reload',
      (s) => {
        return (
          document.querySelector(`#log .msg[data-seq="${s}"] .text`)?.textContent ===
            'hello world (edited)' &&
          document.querySelectorAll(`#log .msg[data-seq="${s}"] .chip:not(.add)`).length === 2
        );
      },
      seq,
    );
    assert.deepEqual(
      (await chips(b.page, seq)).map((c) => [c.emoji, c.n, c.pressed]),
      [
        ['👍', 1, 'false'],
        ['🦀', 1, 'true'],
      ],
    );

    // ada removes it, confirming first; both see a placeholder in its place, also after reload.
    await sendLine(a.page, 'after it');
    await seqOf(b.page, 'after it');
    const rm = await openMenu(a.page, 'hello world');
    await rm.getByRole('button', { name: 'Remove…' }).click();
    assert.match((await rm.locator('.confirm').textContent()) ?? '', /^Remove this message/);
    assert.equal(
      await a.page.evaluate(() => document.activeElement?.textContent),
      'Cancel',
      'Cancel has the focus',
    );
    await rm.getByRole('button', { name: 'Remove', exact: true }).click();
    for (const p of [a, b]) {
      await waitFor(
        p.page,
        'the placeholder',
        (s) => {
          const l = document.querySelector(`#log .msg[data-seq="${s}"]`);
          return !!l?.classList.contains('removed') && !l.querySelector('.chip, .msg-more');
        },
        seq,
      );
      assert.equal(await textOf(p.page, seq), 'message removed');
      const order = await p.page.$$eval('#log .room-log:not([hidden]) .msg .text', (els) =>
        els.map((e) => e.textContent).slice(-2),
      );
      assert.deepEqual(order, ['message removed', 'after it'], 'it keeps its place');
    }
    await b.page.reload();
    await waitReady(b.page);
    await waitForText(b.page, `#log .msg[data-seq="${seq}"] .text`, 'message removed');
    for (const [i, p] of [a, b].entries()) assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
  });
});

test('browser: a reply quotes what it answers and jumps to it when it is not loaded; Up edits', async () => {
  await withPageServer(
    async ({ server, browser }) => {
      const bot = await Bot.connect(server.wsUrl, 'feeder');
      try {
        await bot.say('lobby', ['the original question\nwith a second line']);
        await bot.say(
          'lobby',
          Array.from({ length: 150 }, (_, i) => `filler ${i + 1}`),
        );
        await bot.request({
          type: 'send',
          room: 'lobby',
          cid: 'reply-1',
          text: 'the answer',
          replyTo: 1,
        });
        const [a, b] = await two(browser, server.httpUrl);
        await waitForText(a.page, '#log .msg .text', 'the answer');
        assert.equal(await a.page.locator('#log .msg[data-seq="1"]').count(), 0, 'not loaded');
        // The quote names the sender and the first line, fetched on its own.
        const quote = line(a.page, 'the answer').locator('.quote');
        await waitFor(a.page, 'the quote', () =>
          [...document.querySelectorAll('#log .quote')].some(
            (q) => q.textContent === 'feeder the original question',
          ),
        );
        assert.equal(
          await quote.getAttribute('aria-label'),
          'Reply to feeder: the original question. Show that message',
        );
        assert.equal(
          await a.page.locator('#log .msg[data-seq="1"]').count(),
          0,
          'still not in the log',
        );
        // Enter on the quote: older pages load down to it, and it is shown and marked.
        await quote.focus();
        await a.page.keyboard.press('Enter');
        const original = a.page.locator('#log .msg[data-seq="1"]');
        await original.waitFor({ timeout: WAIT_MS });
        await waitFor(
          a.page,
          'the original marked',
          () => !!document.querySelector('#log .msg[data-seq="1"]')?.classList.contains('found'),
        );
        const inView = await a.page.evaluate(() => {
          const l = document.querySelector('#log .msg[data-seq="1"]')?.getBoundingClientRect();
          const box = document.getElementById('log')?.getBoundingClientRect();
          return !!l && !!box && l.top >= box.top && l.bottom <= box.bottom;
        });
        assert.ok(inView, 'scrolled into view');
        const seqs = await a.page.$$eval('#log .room-log:not([hidden]) .msg', (els) =>
          els.map((e) => Number((e as HTMLElement).dataset['seq'])),
        );
        assert.deepEqual(
          seqs,
          [...seqs].sort((x, y) => x - y),
          'in order',
        );
        assert.equal(new Set(seqs).size, seqs.length, 'none twice');
        assert.ok(seqs.includes(75), 'the pages in between are loaded, with no hole');

        // Reply from the menu: the bar above the box, Escape drops it, Reply again and send.
        await b.page.locator('#log').evaluate((e) => (e.scrollTop = e.scrollHeight));
        const menu = await openMenu(b.page, 'the answer');
        await menu.getByRole('button', { name: 'Reply' }).click();
        await waitForText(b.page, '#replying-text', 'Replying to feeder: the answer');
        assert.equal(await b.page.evaluate(() => document.activeElement?.id), 'text');
        await b.page.keyboard.press('Escape');
        assert.ok(await b.page.locator('#replying').isHidden());
        await (await openMenu(b.page, 'the answer')).getByRole('button', { name: 'Reply' }).click();
        await b.page.keyboard.type('thanks!');
        await b.page.keyboard.press('Enter');
        const thanks = line(a.page, 'thanks!');
        await waitFor(a.page, 'the reply', () =>
          [...document.querySelectorAll('#log .quote')].some(
            (q) => q.textContent === 'feeder the answer',
          ),
        );
        // A click on a loaded original's quote goes straight to it.
        await a.page.locator('#log').evaluate((e) => (e.scrollTop = e.scrollHeight));
        await thanks.locator('.quote').click();
        await waitFor(a.page, 'the answer marked', () =>
          [...document.querySelectorAll('#log .msg.found')].some((m) =>
            m.textContent?.includes('the answer'),
          ),
        );

        // Up in the empty box edits my last message here; Escape leaves it as it was.
        await sendLine(b.page, 'my typo');
        const typo = await seqOf(b.page, 'my typo');
        await b.page.focus('#text');
        await b.page.keyboard.press('ArrowUp');
        const ed = b.page.locator(`#log .msg[data-seq="${typo}"] textarea.edit-box`);
        await ed.waitFor({ timeout: WAIT_MS });
        await b.page.keyboard.press('Escape');
        assert.equal(await ed.count(), 0);
        assert.equal(await b.page.evaluate(() => document.activeElement?.id), 'text');
        await b.page.keyboard.press('ArrowUp');
        await b.page.keyboard.press('ControlOrMeta+a');
        await b.page.keyboard.type('my fix');
        await b.page.keyboard.press('Enter');
        await waitFor(a.page, 'the fix', () =>
          [...document.querySelectorAll('#log .msg .text')].some(
            (t) => t.textContent === 'my fix (edited)',
          ),
        );
        assert.equal(await b.page.evaluate(() => document.activeElement?.id), 'text');
        // /edit does the same from the box.
        await sendLine(b.page, '/edit my second fix');
        await waitFor(a.page, 'the second fix', () =>
          [...document.querySelectorAll('#log .msg .text')].some(
            (t) => t.textContent === 'my second fix (edited)',
          ),
        );

        // A reaction made offline waits in the outbox and goes once when the page is back.
        await b.context.setOffline(true);
        await waitFor(
          b.page,
          'offline',
          () => document.getElementById('status')?.dataset['state'] !== 'connected',
        );
        await sendLine(b.page, '/react 🎉');
        await waitFor(b.page, 'pending', () =>
          [...document.querySelectorAll('#pending .pending')].some((p) =>
            p.textContent?.includes('Reaction 🎉'),
          ),
        );
        await b.context.setOffline(false);
        await b.page.waitForSelector('#status[data-state="connected"]', { timeout: RECONNECT_MS });
        await waitFor(a.page, 'the reaction', () =>
          [...document.querySelectorAll('#log .msg .chip .emoji')].some(
            (e) => e.textContent === '🎉',
          ),
        );
        await waitFor(
          b.page,
          'nothing pending',
          (sel) => document.querySelectorAll(sel).length === 0,
          PENDING,
        );
        const fix = await seqOf(a.page, 'my second fix');
        const h = await bot.request({ type: 'history', room: 'lobby', limit: 5 });
        const stored = (h['messages'] as { seq: number; reactions?: unknown }[]).find(
          (m) => m.seq === fix,
        );
        assert.deepEqual(stored?.reactions, [{ emoji: '🎉', count: 1, by: ['bob'] }], 'once');
        for (const [i, p] of [a, b].entries())
          assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
      } finally {
        bot.close();
      }
      // The feeder sends its lines at once.
    },
    { ratePerSecond: 1000, rateBurst: 1000 },
  );
});

test('browser: back past the replay bound, the held messages catch up on what changed meanwhile', async () => {
  await withPageServer(
    async ({ server, browser }) => {
      const [a, b] = await two(browser, server.httpUrl);
      const bot = await Bot.connect(server.wsUrl, 'feeder');
      try {
        await sendLine(a.page, 'an old line');
        await sendLine(a.page, 'a second old line');
        const old = await seqOf(b.page, 'an old line');
        const second = await seqOf(b.page, 'a second old line');
        // Held further back than the gap's pages of history reach: only `changes` updates them.
        await bot.say(
          'lobby',
          Array.from({ length: 6 }, (_, i) => `before ${i + 1}`),
        );
        await waitForText(b.page, '#log .msg .text', 'before 6');
        await b.context.setOffline(true);
        await waitFor(
          b.page,
          'offline',
          () => document.getElementById('status')?.dataset['state'] !== 'connected',
        );
        // While bob is away: an edit, a reaction and a removal of what he holds, then more
        // messages than a resume replays.
        await bot.request({ type: 'react', room: 'lobby', cid: 'gone-1', seq: old, emoji: '👀' });
        await a.page.focus('#text');
        await (
          await openMenu(a.page, 'a second old line')
        )
          .getByRole('button', { name: 'Edit' })
          .click();
        await a.page.keyboard.press('ControlOrMeta+a');
        await a.page.keyboard.type('a second old line, edited');
        await a.page.keyboard.press('Enter');
        await bot.say(
          'lobby',
          Array.from({ length: 8 }, (_, i) => `meanwhile ${i + 1}`),
        );
        await waitForText(a.page, '#log .msg .text', 'meanwhile 8');
        const rm = await openMenu(a.page, 'an old line');
        await rm.getByRole('button', { name: 'Remove…' }).click();
        await rm.getByRole('button', { name: 'Remove', exact: true }).click();
        await waitForText(a.page, `#log .msg[data-seq="${old}"] .text`, 'message removed');
        await bot.say(
          'lobby',
          Array.from({ length: 8 }, (_, i) => `later ${i + 1}`),
        );

        await b.context.setOffline(false);
        await b.page.waitForSelector('#status[data-state="connected"]', { timeout: RECONNECT_MS });
        await waitForText(b.page, '#log .msg .text', 'later 8');
        await waitForText(
          b.page,
          `#log .msg[data-seq="${second}"] .text`,
          'a second old line, edited (edited)',
        );
        await waitForText(b.page, `#log .msg[data-seq="${old}"] .text`, 'message removed');
        const texts = await b.page.$$eval('#log .room-log:not([hidden]) .msg .text', (els) =>
          els.map((e) => e.textContent),
        );
        for (const t of ['meanwhile 1', 'meanwhile 8', 'later 1']) {
          assert.equal(texts.filter((x) => x === t).length, 1, `${t} once`);
        }
        for (const [i, p] of [a, b].entries()) {
          assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
        }
      } finally {
        bot.close();
      }
    },
    // A resume replays 4 entries, then says where it stopped.
    { historyBound: 4 },
  );
});

test('browser: the menu by role; a forged removal is refused and said; an owner removes others’', async () => {
  await withPageServer(async ({ server, browser }) => {
    const [a, b] = await two(browser, server.httpUrl);
    const c: ChatPage = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(c.page, 'cy');
    await waitReady(c.page);
    // ada makes #team, so she owns it; bob and cy join.
    for (const p of [a, b, c]) {
      await p.page.fill('#join-input', 'team');
      await p.page.press('#join-input', 'Enter');
      await waitForText(p.page, '#room-title', '#team');
    }
    await sendLine(a.page, 'ada says');
    await sendLine(b.page, 'bob says');
    const adas = await seqOf(c.page, 'ada says');
    await seqOf(c.page, 'bob says');

    // bob: on ada's message no Edit or Remove; on his own, both.
    const theirs = await openMenu(b.page, 'ada says');
    assert.deepEqual(await theirs.locator('.menu-acts button').allTextContents(), ['Reply']);
    assert.equal(await theirs.locator('.menu-emoji button').count(), 8);
    await b.page.keyboard.press('Escape');
    assert.equal(await theirs.count(), 0, 'Escape closes it');
    assert.equal(
      await b.page.evaluate(() => document.activeElement?.className),
      'msg-more',
      'the focus goes back to its button',
    );
    const own = await openMenu(b.page, 'bob says');
    assert.deepEqual(await own.locator('.menu-acts button').allTextContents(), [
      'Reply',
      'Edit',
      'Remove…',
    ]);
    await b.page.keyboard.press('Escape');

    // A forged removal of ada's message: the server refuses, the page says so, nothing changes.
    await sendLine(b.page, `/delete ${adas}`);
    await waitFor(b.page, 'the refusal', () =>
      [...document.querySelectorAll('#log .sys.error .text')].some((t) =>
        /^The message was not removed: \S/.test(t.textContent ?? ''),
      ),
    );
    for (const p of [a, b, c]) assert.equal(await textOf(p.page, adas), 'ada says');

    // ada owns the room: Remove on bob's message (and no Edit), and it goes for everyone.
    await a.page.waitForFunction(() => !document.getElementById('room-settings')?.hidden);
    let menu = await openMenu(a.page, 'bob says');
    for (let i = 0; i < 20; i++) {
      const labels = await menu.locator('.menu-acts button').allTextContents();
      if (labels.includes('Remove…')) break;
      // The room's roles come a moment after the join: open the menu again.
      await a.page.keyboard.press('Escape');
      await a.page.waitForTimeout(200);
      menu = await openMenu(a.page, 'bob says');
    }
    assert.deepEqual(await menu.locator('.menu-acts button').allTextContents(), [
      'Reply',
      'Remove…',
    ]);
    await menu.getByRole('button', { name: 'Remove…' }).click();
    await menu.getByRole('button', { name: 'Remove', exact: true }).click();
    const bobs = await seqOf(a.page, 'message removed');
    for (const p of [a, b, c]) {
      await waitForText(p.page, `#log .msg[data-seq="${bobs}"] .text`, 'message removed');
    }
    for (const [i, p] of [a, b, c].entries()) {
      assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
    }
  });
});

test('browser: after a rename my messages under the old name are mine still, live and after a reload', async () => {
  await withPageServer(async ({ server, browser }) => {
    const [a, b] = await two(browser, server.httpUrl);
    await sendLine(a.page, 'said as ada');
    const seq = await seqOf(b.page, 'said as ada');
    await sendLine(a.page, '/nick annie');
    await waitForText(a.page, '#me', 'annie');
    await waitForText(b.page, SYS, 'ada is now known as annie.');

    const mine = async (p: ChatPage): Promise<void> => {
      assert.ok(
        await line(p.page, 'said as ada')
          .first()
          .evaluate((e) => e.matches('.mine')),
      );
      const menu = await openMenu(p.page, 'said as ada');
      assert.deepEqual(await menu.locator('.menu-acts button').allTextContents(), [
        'Reply',
        'Edit',
        'Remove…',
      ]);
      await p.page.keyboard.press('Escape');
    };
    await mine(a);
    // Up in the empty box edits it too.
    await a.page.focus('#text');
    await a.page.keyboard.press('ArrowUp');
    const box = a.page.locator(`#log .msg[data-seq="${seq}"] textarea.edit-box`);
    await box.waitFor({ timeout: WAIT_MS });
    await box.fill('said as ada, edited as annie');
    await box.press('Enter');
    await waitForText(
      b.page,
      `#log .msg[data-seq="${seq}"] .text`,
      'said as ada, edited as annie (edited)',
    );
    // After a reload, from history.
    await a.page.reload();
    await waitReady(a.page);
    await mine(a);

    // bob: not his, under any name.
    assert.ok(
      !(await line(b.page, 'said as ada')
        .first()
        .evaluate((e) => e.matches('.mine'))),
    );
    const theirs = await openMenu(b.page, 'said as ada');
    assert.deepEqual(await theirs.locator('.menu-acts button').allTextContents(), ['Reply']);
    for (const [i, p] of [a, b].entries()) {
      assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
    }
  });
});

test('browser: the menu offers Edit only within the edit window the server says', async () => {
  await withPageServer(
    async ({ server, browser }) => {
      const [a] = await two(browser, server.httpUrl);
      await sendLine(a.page, 'quick one');
      const labels = async (): Promise<string[]> => {
        const menu = await openMenu(a.page, 'quick one');
        const l = await menu.locator('.menu-acts button').allTextContents();
        await a.page.keyboard.press('Escape');
        return l;
      };
      assert.deepEqual(await labels(), ['Reply', 'Edit', 'Remove…']);
      // A minute and a bit later (the page's clock only): too old to edit, still removable.
      await a.page.clock.setSystemTime(Date.now() + 61_000);
      assert.deepEqual(await labels(), ['Reply', 'Remove…']);
      await a.page.focus('#text');
      await a.page.keyboard.press('ArrowUp');
      assert.equal(await a.page.locator('textarea.edit-box').count(), 0, 'Up opens no editor');
      assert.deepEqual(a.problems, []);
    },
    { editWindow: 1 },
  );
});

test('browser: screenshots of edited, removed, reacted and replied messages between two people', async () => {
  await withPageServer(async ({ server, browser }) => {
    const [a, b] = await two(browser, server.httpUrl);
    await sendLine(a.page, 'Morning! The deploy is at 10:00 today.');
    await sendLine(b.page, 'Can we move it to 11? The migration needs a rehearsal first.');
    await sendLine(a.page, 'Sure, 11 it is. I will tell the others');
    await sendLine(b.page, 'oops, wrong room');
    const wrong = await seqOf(a.page, 'oops, wrong room');
    await (
      await openMenu(b.page, 'oops, wrong room')
    )
      .getByRole('button', { name: 'Remove…' })
      .click();
    await b.page.getByRole('button', { name: 'Remove', exact: true }).click();
    await waitForText(a.page, `#log .msg[data-seq="${wrong}"] .text`, 'message removed');
    await b.page.focus('#text');
    // ada fixes her line with Up.
    await a.page.focus('#text');
    await a.page.keyboard.press('ArrowUp');
    await a.page.keyboard.press('End');
    await a.page.keyboard.type('.');
    await a.page.keyboard.press('Enter');
    await waitFor(b.page, 'the edit', () =>
      [...document.querySelectorAll('#log .msg .text')].some((t) =>
        t.textContent?.endsWith('the others. (edited)'),
      ),
    );
    // Reactions from both.
    for (const [p, emoji] of [
      [a, '👍'],
      [b, '👍'],
      [b, '🎉'],
    ] as const) {
      const m = await openMenu(p.page, 'Sure, 11');
      await m.getByRole('button', { name: `React with ${emoji}` }).click();
    }
    await waitFor(
      a.page,
      'reactions',
      () => document.querySelector('#log .msg .chip .n')?.textContent === '2',
    );
    // bob replies to the question.
    await (await openMenu(b.page, 'Morning!')).getByRole('button', { name: 'Reply' }).click();
    await b.page.keyboard.type('10:00 works for me too, if the rehearsal is done.');
    await b.page.keyboard.press('Enter');
    await waitFor(a.page, 'the reply', () => !!document.querySelector('#log .msg .quote'));
    // And starts another, with the menu open on ada's message.
    await (await openMenu(b.page, 'Sure, 11')).getByRole('button', { name: 'Reply' }).click();
    await b.page.keyboard.type('Great, thanks');
    await openMenu(b.page, 'Sure, 11');
    await a.page.mouse.move(0, 0);
    await a.page.locator('#log').evaluate((e) => (e.scrollTop = e.scrollHeight));

    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'lifecycle-ada.png') });
    await b.page.screenshot({ path: join(ARTIFACTS, 'lifecycle-bob-menu.png') });
    // ada's editor in place, then the confirm before a removal.
    await (await openMenu(a.page, 'Morning!')).getByRole('button', { name: 'Edit' }).click();
    await a.page.keyboard.type(' Or 11?');
    await a.page.screenshot({ path: join(ARTIFACTS, 'lifecycle-ada-editing.png') });
    await a.page.keyboard.press('Escape');
    await (await openMenu(a.page, 'Morning!')).getByRole('button', { name: 'Remove…' }).click();
    await a.page.screenshot({ path: join(ARTIFACTS, 'lifecycle-ada-confirm.png') });
    await a.page.keyboard.press('Escape');
    assert.equal(
      await countText(a.page, '#log .msg .text', 'Morning! The deploy is at 10:00 today.'),
      1,
    );
    // ada's keyboard focus on a chip shows who reacted.
    await a.page.focus('#text');
    for (let i = 0; i < 10; i++) {
      await a.page.keyboard.press('Shift+Tab');
      if (await a.page.evaluate(() => document.activeElement?.matches('.chip:not(.add)'))) break;
    }
    await a.page.screenshot({ path: join(ARTIFACTS, 'lifecycle-ada-chip-focus.png') });
    for (const p of [a, b]) await p.page.emulateMedia({ colorScheme: 'dark' });
    await a.page.screenshot({ path: join(ARTIFACTS, 'lifecycle-ada-dark.png') });
    const phone = await openChatPage(browser, server.httpUrl, { width: 390, height: 844 });
    await chooseName(phone.page, 'cy');
    await waitReady(phone.page);
    await waitFor(phone.page, 'the reply', () => !!document.querySelector('#log .msg .quote'));
    await phone.page.screenshot({ path: join(ARTIFACTS, 'lifecycle-phone.png') });
    for (const [i, p] of [a, b, phone].entries()) {
      assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
    }
  });
});
