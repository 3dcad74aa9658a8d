// Two people across rooms and a direct conversation in a real browser: unread counts, mention
// highlights, the title count and desktop notifications while the tab is hidden, screen-reader
// announcements, the phone drawer, and screenshots at desktop and phone sizes, light and dark.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  ARTIFACTS,
  DESKTOP,
  FAKE_TAB,
  PHONE,
  WAIT_MS,
  chooseName,
  countText,
  openChatPage,
  sendLine,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

const inRoom = (room: string) => `#log section[data-room="${room}"] .msg .text`;
const badge = (room: string) => `#side button[data-room="${room}"] .badge`;

async function openDrawer(page: Page): Promise<void> {
  if ((await page.getAttribute('#menu', 'aria-expanded')) !== 'true') await page.click('#menu');
  await page.waitForSelector('#side', { state: 'visible', timeout: WAIT_MS });
}

test('browser: rooms, a direct conversation, unread counts, mentions, title and notifications', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP, { init: FAKE_TAB });
    const b = await openChatPage(browser, server.httpUrl, PHONE);
    await chooseName(a.page, 'alice');
    await chooseName(b.page, 'bob');
    for (const p of [a, b]) await waitReady(p.page);
    // Notifications are asked for only from the button, never on load.
    assert.equal(
      await a.page.evaluate(() => (window as unknown as { __asked(): number }).__asked()),
      0,
    );

    // alice creates #dev from the sidebar form; bob joins with the command.
    await a.page.fill('#join-input', 'dev');
    await a.page.press('#join-input', 'Enter');
    await waitForText(a.page, '#room-title', '#dev');
    await sendLine(b.page, '/join dev');
    await waitForText(b.page, '#room-title', '#dev');
    await waitForText(a.page, '#members li', 'bob');
    await waitForText(b.page, '#members li', 'alice');
    await a.page.click('#rooms button[data-room="lobby"]');
    await waitForText(a.page, '#room-title', '#lobby');

    // Messages in a room alice is not looking at: counted, not shown in the lobby.
    await sendLine(b.page, 'one in dev');
    await sendLine(b.page, 'two in dev');
    await waitForText(a.page, badge('dev'), '2');
    assert.equal(await a.page.locator(`${badge('dev')}.mention`).count(), 0);
    await sendLine(b.page, 'dev needs you @alice');
    await waitForText(a.page, badge('dev'), '3');
    assert.equal(await a.page.locator(`${badge('dev')}.mention`).count(), 1, 'mention badge');
    assert.equal(await countText(a.page, inRoom('lobby'), 'one in dev'), 0);

    // A mention in the room alice reads: highlighted for her (any case), not for bob.
    await sendLine(b.page, '/join lobby');
    await waitForText(b.page, '#room-title', '#lobby');
    await sendLine(b.page, 'hey @ALICE, look');
    await sendLine(b.page, 'not @alicex, and no@alice');
    await waitForText(a.page, inRoom('lobby'), 'not @alicex, and no@alice');
    await waitForText(a.page, '#log .msg.mention mark.mention', '@ALICE');
    assert.equal(await a.page.locator('#log section[data-room="lobby"] mark.mention').count(), 1);
    assert.equal(await a.page.locator('#log section[data-room="lobby"] .msg.mention').count(), 1);
    assert.equal(await b.page.locator('#log mark.mention').count(), 0, 'no highlight for bob');
    // Announced through the polite live region, not by making the whole log live.
    await waitForText(a.page, '#announce p', 'bob: not @alicex, and no@alice');
    assert.equal(await a.page.getAttribute('#log', 'aria-live'), null);
    assert.equal(await a.page.getAttribute('#announce', 'aria-live'), 'polite');

    // Opening #dev clears its count and shows the three, grouped under one name.
    await a.page.click('#rooms button[data-room="dev"]');
    await waitForText(a.page, inRoom('dev'), 'two in dev');
    assert.equal(await a.page.locator(badge('dev')).count(), 0);
    const grouped = await a.page.$$eval('#log section[data-room="dev"] .msg', (ls) =>
      ls.map((l) => l.classList.contains('grouped')),
    );
    assert.deepEqual(grouped, [false, true, true]);
    assert.equal(await countText(a.page, '#log section[data-room="dev"] .day', 'Today'), 1);

    // A direct conversation: a new @room in bob's sidebar with an unread count.
    await sendLine(a.page, '/msg bob psst, only for you');
    await waitForText(a.page, '#directs button[data-room="@bob"]', '@bob');
    await openDrawer(b.page);
    await waitForText(b.page, badge('@alice'), '1');
    await b.page.screenshot({ path: join(ARTIFACTS, 'phone-rooms.png') });
    await b.page.click('#directs button[data-room="@alice"]');
    await b.page.waitForSelector('#side', { state: 'hidden', timeout: WAIT_MS });
    await waitForText(b.page, inRoom('@alice'), 'psst, only for you');
    await waitForText(b.page, '#members li', 'alice');
    await sendLine(b.page, 'got it');
    await waitForText(a.page, badge('@bob'), '1');
    await a.page.click('#directs button[data-room="@bob"]');
    await waitForText(a.page, inRoom('@bob'), 'got it');
    assert.equal(await countText(a.page, inRoom('@bob'), 'psst, only for you'), 1);
    assert.equal(await countText(b.page, inRoom('@alice'), 'got it'), 1);
    assert.equal(await countText(a.page, inRoom('lobby'), 'got it'), 0);

    // Notifications: allowed from the button; then, with the tab hidden, the title counts new
    // messages and only a mention or a direct message raises a notification.
    await a.page.click('#notify');
    await a.page.waitForSelector('#notify', { state: 'hidden', timeout: WAIT_MS });
    assert.equal(
      await a.page.evaluate(() => (window as unknown as { __asked(): number }).__asked()),
      1,
    );
    await a.page.click('#rooms button[data-room="lobby"]');
    await waitForText(a.page, '#room-title', '#lobby');
    await a.page.evaluate(() =>
      (window as unknown as { __setHidden(h: boolean): void }).__setHidden(true),
    );
    await sendLine(b.page, 'are you there?');
    await sendLine(b.page, '/join lobby');
    await waitForText(b.page, '#room-title', '#lobby');
    await sendLine(b.page, 'just chatting');
    await sendLine(b.page, 'ping @alice');
    await a.page.waitForFunction(() => document.title === '(3) #lobby · Parley', null, {
      timeout: WAIT_MS,
    });
    const notes = await a.page.evaluate(
      () => (window as unknown as { __notes: { title: string; body: string }[] }).__notes,
    );
    assert.deepEqual(notes, [
      { title: 'bob (direct message)', body: 'are you there?' },
      { title: 'bob in #lobby', body: 'ping @alice' },
    ]);
    await waitForText(a.page, badge('@bob'), '1');
    await a.page.evaluate(() =>
      (window as unknown as { __setHidden(h: boolean): void }).__setHidden(false),
    );
    await a.page.waitForFunction(() => document.title === '#lobby · Parley', null, {
      timeout: WAIT_MS,
    });

    // Typing in bob's page shows in alice's, in the room it happens in.
    await b.page.type('#text', 'thinking about it…', { delay: 120 });
    await waitForText(a.page, '#typing', 'bob is typing…');
    await b.page.fill('#text', '');

    // Screenshots: desktop and phone, light and dark.
    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-light.png') });
    await b.page.screenshot({ path: join(ARTIFACTS, 'phone-light.png') });
    for (const p of [a, b]) await p.page.emulateMedia({ colorScheme: 'dark' });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-dark.png') });
    await b.page.screenshot({ path: join(ARTIFACTS, 'phone-dark.png') });
    await openDrawer(b.page);
    await b.page.screenshot({ path: join(ARTIFACTS, 'phone-rooms-dark.png') });

    for (const [i, p] of [a, b].entries()) assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
  });
});
