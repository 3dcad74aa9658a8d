// Offline sending in a real browser: a message typed while the server is away shows as pending,
// is kept in IndexedDB through a reload of the page (served by the service worker while the
// server is down), and arrives exactly once for everyone when the server is back.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ARTIFACTS,
  DESKTOP,
  MSG,
  PENDING,
  PHONE,
  RECONNECT_MS,
  SYS,
  WAIT_MS,
  chooseName,
  countText,
  openChatPage,
  sendLine,
  shownSeqs,
  storedOutbox,
  until,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

test('browser: a send typed offline survives a reload and arrives exactly once for both', async () => {
  await withPageServer(async ({ server, browser, stop, restart }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, PHONE);
    await chooseName(a.page, 'ada');
    await chooseName(b.page, 'bea');
    for (const p of [a, b]) await waitReady(p.page);
    // The service worker has the page's shell, so the page loads with the server away.
    await a.page.waitForFunction(
      async () => {
        const reg = await navigator.serviceWorker.getRegistration();
        return !!reg?.active && !!(await caches.match(new URL('app.js', location.href).href));
      },
      null,
      { timeout: WAIT_MS, polling: 100 },
    );

    await sendLine(a.page, 'before the outage');
    for (const p of [a, b]) await waitForText(p.page, MSG, 'before the outage');

    await stop();
    for (const p of [a, b]) await waitForText(p.page, SYS, 'Connection lost.');

    // Typed while offline: pending, and on disk.
    const offline = 'typed offline, then the page was reloaded';
    await sendLine(a.page, offline);
    await waitForText(a.page, PENDING, offline);
    await waitForText(
      a.page,
      '#pending .pending .note',
      'not sent yet: it goes when the connection is back',
    );
    await until('the send to be in IndexedDB', async () =>
      (await storedOutbox(a.page)).some((e) => e.text === offline),
    );
    const fromB = 'bea typed this offline too';
    await sendLine(b.page, fromB);
    await waitForText(b.page, PENDING, fromB);
    await mkdir(ARTIFACTS, { recursive: true });
    await b.page.screenshot({ path: join(ARTIFACTS, 'phone-offline-pending.png') });

    // Reload with the server still down: the page comes from the service worker's cache and
    // shows the pending send again, from IndexedDB.
    await a.page.reload({ waitUntil: 'load' });
    await waitForText(a.page, PENDING, offline);
    assert.notEqual(await a.page.getAttribute('#status', 'data-state'), 'connected');
    assert.equal(await a.page.textContent('#me'), 'ada', 'the name is remembered offline');
    assert.equal(await countText(a.page, MSG, offline), 0);
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-offline-reloaded.png') });

    // Same port, same data: both come back by themselves and send what they kept.
    await restart();
    await waitForText(a.page, SYS, 'Connection opened.', 1, RECONNECT_MS);
    // One line for every reconnect, counting them.
    await waitForText(
      b.page,
      '#log .sys[data-count="2"] .text',
      'Connection opened.',
      1,
      RECONNECT_MS,
    );
    for (const p of [a, b]) {
      await waitForText(p.page, MSG, offline, 1, RECONNECT_MS);
      await waitForText(p.page, MSG, fromB, 1, RECONNECT_MS);
    }
    await until('the outbox to be empty', async () => (await storedOutbox(a.page)).length === 0);
    await until('the outbox to be empty', async () => (await storedOutbox(b.page)).length === 0);

    // After a short settle, exactly once everywhere, and nothing left pending.
    await a.page.waitForTimeout(500);
    for (const [i, p] of [a, b].entries()) {
      for (const text of ['before the outage', offline, fromB]) {
        assert.equal(await countText(p.page, MSG, text), 1, `page ${i + 1}: ${text}`);
      }
      assert.equal(await p.page.locator('#pending .pending').count(), 0, `page ${i + 1} pending`);
      assert.deepEqual(await shownSeqs(p.page, 'lobby'), [1, 2, 3], `page ${i + 1} seqs`);
      assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
    }

    // One more reload online: history shows each message once, the outbox stays empty.
    await a.page.reload({ waitUntil: 'load' });
    await waitReady(a.page);
    await waitForText(a.page, MSG, offline);
    assert.equal(await countText(a.page, MSG, offline), 1);
    assert.equal(await a.page.locator('#pending .pending').count(), 0);
  });
});

test('browser: the server restarts mid-conversation; nothing is lost or repeated', async () => {
  await withPageServer(async ({ server, browser, stop, restart }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'ann');
    await chooseName(b.page, 'ben');
    for (const p of [a, b]) await waitReady(p.page);
    // Both in a second room too, so the restart is survived by more than the lobby.
    for (const p of [a, b]) {
      await sendLine(p.page, '/join ops');
      await waitForText(p.page, '#room-title', '#ops');
    }

    // Both keep talking, in both rooms, while the server restarts (1012) under them.
    const texts: { page: 0 | 1; room: string; text: string }[] = [];
    for (let i = 1; i <= 24; i++) {
      const who = (i % 2) as 0 | 1;
      const room = i % 3 === 0 ? 'lobby' : 'ops';
      texts.push({ page: who, room, text: `${who === 0 ? 'ann' : 'ben'} #${i} in ${room}` });
    }
    for (const [i, t] of texts.entries()) {
      const p = t.page === 0 ? a : b;
      if (i === 8) {
        await stop('RESTARTING');
      }
      if (i === 16) {
        await restart();
      }
      if (t.room === 'lobby') await sendLine(p.page, '/join lobby');
      await sendLine(p.page, t.text);
      if (t.room === 'lobby') await sendLine(p.page, '/join ops');
      await p.page.waitForTimeout(60);
    }
    for (const p of [a, b]) {
      await waitForText(p.page, SYS, 'The server is restarting; reconnecting…');
      for (const t of texts) {
        const sel = `#log section[data-room="${t.room}"] .msg .text`;
        await waitForText(p.page, sel, t.text, 1, RECONNECT_MS);
      }
    }
    await a.page.waitForTimeout(500);
    for (const [i, p] of [a, b].entries()) {
      for (const t of texts) {
        const sel = `#log section[data-room="${t.room}"] .msg .text`;
        assert.equal(await countText(p.page, sel, t.text), 1, `page ${i + 1}: ${t.text}`);
      }
      const lobby = texts.filter((t) => t.room === 'lobby').length;
      const ops = texts.length - lobby;
      assert.deepEqual(await shownSeqs(p.page, 'lobby'), range(1, lobby), `page ${i + 1} lobby`);
      assert.deepEqual(await shownSeqs(p.page, 'ops'), range(1, ops), `page ${i + 1} ops`);
      assert.equal(await p.page.locator('#pending .pending').count(), 0);
      assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
    }
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
