// Finding your way in a real browser: a direct message sent with /msg says it went and leads
// to the conversation; "Browse rooms" in the sidebar lists the rooms to join, by keyboard too.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ARTIFACTS,
  Bot,
  DESKTOP,
  PHONE,
  SYS,
  WAIT_MS,
  chooseName,
  openChatPage,
  sendLine,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

test('browser: /msg says it was sent to @name and opens the way there', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    await chooseName(b.page, 'bob');
    for (const p of [a, b]) await waitReady(p.page);
    await sendLine(a.page, '/msg bob are you free at noon?');
    await waitForText(a.page, '#log section[data-room="lobby"] .sys .text', 'Sent to @bob.');
    await waitForText(a.page, '#directs button[data-room="@bob"]', '@bob');
    await waitForText(a.page, '#room-title', '#lobby');
    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-sent-direct.png') });
    const go = a.page.getByRole('button', { name: 'Open @bob' });
    await go.focus();
    await a.page.keyboard.press('Enter');
    await waitForText(a.page, '#room-title', '@bob');
    await waitForText(a.page, '#log section[data-room="@bob"] .msg .text', 'are you free at noon?');
    await waitForText(b.page, '#directs button[data-room="@alice"] .badge', '1');
    // To no one: it says it was not sent, and nothing opens.
    await a.page.click('#rooms button[data-room="lobby"]');
    await sendLine(a.page, '/msg nobody-here hello?');
    await a.page.waitForFunction(
      () =>
        [...document.querySelectorAll('#log section[data-room="lobby"] .sys .text')].some((l) =>
          /^Not sent to @nobody-here/.test(l.textContent ?? ''),
        ),
      null,
      { timeout: WAIT_MS },
    );
    assert.equal(await a.page.locator('#directs button[data-room="@nobody-here"]').count(), 0);
    for (const p of [a, b]) assert.deepEqual(p.problems, []);
  });
});

test('browser: Browse rooms lists the rooms with a way to join each, by keyboard', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    await waitReady(a.page);
    const bot = await Bot.connect(server.wsUrl, 'dora');
    await bot.request({ type: 'join', room: 'design' });
    await bot.request({ type: 'join', room: 'ops' });
    // Left the lobby: only the sidebar is left to find rooms with.
    await a.page.click('#rooms button[data-leave="lobby"]');
    await a.page.waitForFunction(
      () => !document.querySelector('#rooms button[data-room="lobby"]:not(.parted)'),
      null,
      { timeout: WAIT_MS },
    );

    const browse = a.page.getByRole('button', { name: 'Browse rooms' });
    assert.equal(await browse.getAttribute('aria-expanded'), 'false');
    await browse.focus();
    await a.page.keyboard.press('Enter');
    assert.equal(await browse.getAttribute('aria-expanded'), 'true');
    const design = a.page.getByRole('button', { name: /^Join #design, 1 person/ });
    await design.waitFor({ timeout: WAIT_MS });
    await a.page.getByRole('button', { name: /^Join #ops, 1 person/ }).waitFor();
    await a.page.getByRole('button', { name: /^Join #lobby/ }).waitFor();
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-browse-rooms.png') });
    await design.focus();
    await a.page.keyboard.press('Enter');
    await waitForText(a.page, '#room-title', '#design');
    await waitForText(a.page, '#members li', 'dora');
    // Picking a room closes the list; opened again, it says which rooms are joined.
    assert.equal(await browse.getAttribute('aria-expanded'), 'false');
    await browse.click();
    await a.page.getByRole('button', { name: /^Open #design, 2 people, joined/ }).waitFor({
      timeout: WAIT_MS,
    });
    // A new room by name, from the same place.
    await a.page.fill('#join-input', 'brand-new');
    await a.page.press('#join-input', 'Enter');
    await waitForText(a.page, '#room-title', '#brand-new');
    // The room shows at once; it says it was joined when the server's answer comes.
    await waitForText(a.page, SYS, 'Joined #brand-new.');

    // On a phone, from the drawer.
    const p = await openChatPage(browser, server.httpUrl, PHONE);
    await chooseName(p.page, 'phil');
    await waitReady(p.page);
    await p.page.click('#menu');
    await p.page.getByRole('button', { name: 'Browse rooms' }).click();
    await p.page.getByRole('button', { name: /^Join #ops/ }).waitFor({ timeout: WAIT_MS });
    await mkdir(ARTIFACTS, { recursive: true });
    await p.page.screenshot({ path: join(ARTIFACTS, 'phone-browse-rooms.png') });
    await p.page.getByRole('button', { name: /^Join #ops/ }).click();
    await waitForText(p.page, '#room-title', '#ops');
    bot.close();
    for (const x of [a, p]) assert.deepEqual(x.problems, []);
  });
});
