// Keyboard-only use in a real browser: the name prompt, a sensible focus order with a visible
// focus ring, joining, switching and leaving rooms without a mouse, real buttons for every
// action, the page's static markup (no inline script or style), and the phone drawer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  DESKTOP,
  PHONE,
  SYS,
  WAIT_MS,
  openChatPage,
  skipName,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

interface Focused {
  id: string;
  tag: string;
  cls: string;
  outline: string;
}

function focused(page: Page): Promise<Focused> {
  return page.evaluate(() => {
    const e = document.activeElement as HTMLElement | null;
    const style = e ? getComputedStyle(e) : null;
    return {
      id: e?.id ?? '',
      tag: e?.tagName.toLowerCase() ?? '',
      cls: e?.className ?? '',
      outline: style ? `${style.outlineStyle} ${style.outlineWidth}` : '',
    };
  });
}

test('browser: keyboard only, from the name prompt to leaving a room; phone drawer', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const page = a.page;
    await waitReady(page);

    // The prompt has the focus; typing and Enter take the name.
    await page.waitForSelector('#name-dialog[open]', { timeout: WAIT_MS });
    assert.equal((await focused(page)).id, 'name-input');
    await page.keyboard.type('kim');
    await page.keyboard.press('Enter');
    await waitForText(page, '#me', 'kim');
    // The dialog's close event (it comes after the name) hands the focus to the message box.
    await page.waitForFunction(() => document.activeElement?.id === 'text', null, {
      timeout: WAIT_MS,
    });

    // Tab order from the top: the skip link, the room's settings, the sidebar, then the log and
    // the box.
    await page.focus('#skip');
    const order: Focused[] = [await focused(page)];
    for (let i = 0; i < 16; i++) {
      await page.keyboard.press('Tab');
      const f = await focused(page);
      order.push(f);
      if (f.id === 'send') break;
    }
    const names = order.map((f) => f.id || `${f.tag}.${f.cls}`);
    const notify = (await page.locator('#notify').isVisible()) ? ['notify'] : [];
    assert.deepEqual(names, [
      'skip',
      'room-settings',
      'search-input',
      'me',
      'account',
      ...notify,
      'button.room current',
      'button.leave',
      'browse',
      'join-input',
      'join-button',
      'log',
      'text',
      'send',
    ]);
    for (const f of order) {
      assert.match(f.outline, /^(solid|auto) [1-9]/, `visible focus on ${f.id || f.cls}`);
    }
    // The skip link takes a keyboard user straight to the message box.
    await page.focus('#skip');
    await page.keyboard.press('Enter');
    assert.equal((await focused(page)).id, 'text');

    // Join a room from the sidebar form with the keyboard.
    await page.focus('#join-input');
    await page.keyboard.type('#kb');
    await page.keyboard.press('Enter');
    await waitForText(page, '#room-title', '#kb');
    assert.equal((await focused(page)).id, 'text');
    // Alt+Up / Alt+Down move between rooms.
    await page.keyboard.press('Alt+ArrowUp');
    await waitForText(page, '#room-title', '#lobby');
    await page.keyboard.press('Alt+ArrowDown');
    await waitForText(page, '#room-title', '#kb');
    // Leave it with its own button, reached by Tab, pressed with Space.
    await page.focus('#rooms button[data-room="kb"]');
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
      'Leave #kb',
    );
    await page.keyboard.press('Space');
    await waitForText(page, SYS, 'Left #kb.');
    await waitForText(page, '#room-title', '#lobby');
    assert.equal(await page.locator('#rooms [data-room="kb"]').count(), 0);

    // Every control is a real button, input or textarea (no clickable divs).
    const clickable = await page.$$eval(
      '#side [data-room], [data-leave], [data-action], #jump, #me, #menu, #retry, #notify',
      (els) => els.filter((e) => e.tagName !== 'BUTTON').map((e) => e.outerHTML),
    );
    assert.deepEqual(clickable, []);

    // The phone: the sidebar hides behind the menu button, opens and closes by keyboard.
    const b = await openChatPage(browser, server.httpUrl, PHONE);
    await skipName(b.page);
    await waitReady(b.page);
    assert.ok(await b.page.locator('#side').isHidden(), 'the sidebar is collapsed on a phone');
    assert.equal(await b.page.getAttribute('#menu', 'aria-expanded'), 'false');
    await b.page.focus('#menu');
    await b.page.keyboard.press('Enter');
    await b.page.waitForSelector('#side', { state: 'visible', timeout: WAIT_MS });
    assert.equal(await b.page.getAttribute('#menu', 'aria-expanded'), 'true');
    assert.equal((await focused(b.page)).cls, 'room current');
    await b.page.keyboard.press('Escape');
    await b.page.waitForSelector('#side', { state: 'hidden', timeout: WAIT_MS });
    assert.equal((await focused(b.page)).id, 'menu');
    // Nothing is wider than the phone's screen.
    const overflow = await b.page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);

    for (const [i, p] of [a, b].entries()) assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
  });
});
