// Names in a real browser: the first-visit prompt, its readable errors (taken, reserved,
// invalid), changing the name later from the name button, and a failed send that says why and
// can be retried (same cid, delivered once) or discarded.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  ARTIFACTS,
  DESKTOP,
  MSG,
  PHONE,
  SYS,
  WAIT_MS,
  chooseName,
  countText,
  openChatPage,
  sendLine,
  storedOutbox,
  until,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

const FAILED = '#pending .pending.failed';

async function tryName(page: Page, name: string): Promise<void> {
  await page.fill('#name-input', name);
  await page.press('#name-input', 'Enter');
}

test('browser: the name prompt, its errors, changing names, and retrying a failed send', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    const b = await openChatPage(browser, server.httpUrl, PHONE);
    await waitReady(b.page);
    await mkdir(ARTIFACTS, { recursive: true });
    await b.page.screenshot({ path: join(ARTIFACTS, 'phone-name-prompt.png') });

    // Taken (any case), invalid (checked before asking), server-given: each says why and the
    // prompt stays open for another try.
    await tryName(b.page, 'ALICE');
    await waitForText(
      b.page,
      '#name-error',
      'Someone connected right now is called ALICE. Pick another name.',
    );
    assert.equal(await b.page.getAttribute('#name-input', 'aria-invalid'), 'true');
    await tryName(b.page, 'two words');
    await waitForText(
      b.page,
      '#name-error',
      'Names are 1 to 32 characters with no spaces, control, zero-width or direction characters.',
    );
    await tryName(b.page, 'guest-123abc');
    await waitForText(
      b.page,
      '#name-error',
      'Names starting with guest- are given by the server; pick another.',
    );
    assert.equal(await b.page.locator('#name-dialog[open]').count(), 1);
    await tryName(b.page, 'bob');
    await b.page.waitForSelector('#name-dialog:not([open])', { state: 'attached' });
    await waitForText(b.page, '#me', 'bob');
    await waitForText(a.page, '#members li', 'bob');

    // alice leaves; her name stays hers: a newcomer is told it is reserved.
    await a.context.close();
    // Said once the wait for a reconnect is over.
    await waitForText(b.page, SYS, 'alice left.', 1, WAIT_MS * 2);
    const c = await openChatPage(browser, server.httpUrl, DESKTOP);
    await waitReady(c.page);
    await tryName(c.page, 'Alice');
    await waitForText(
      c.page,
      '#name-error',
      'Alice belongs to someone else (it is kept for their browser). Pick another name.',
    );
    await c.page.screenshot({ path: join(ARTIFACTS, 'desktop-name-taken.png') });
    await c.page.click('#name-later');

    // As a guest, a direct message cannot go: it says why and offers Retry and Discard.
    await sendLine(c.page, '/msg bob are you there?');
    await waitForText(
      c.page,
      `${FAILED} .note`,
      'Not sent: Take a name first (/nick NAME) to send direct messages.',
    );
    await waitForText(c.page, `${FAILED} button`, 'Retry');
    await waitForText(c.page, `${FAILED} button`, 'Discard');
    // A failed send stays in the outbox (so it survives a reload) until discarded or sent.
    await until('the failed send to be stored', async () =>
      (await storedOutbox(c.page)).some((e) => e.text === 'are you there?'),
    );

    // The name button opens the prompt again; with a name, Retry sends the same message.
    const guest = (await c.page.textContent('#me')) ?? '';
    assert.match(guest, /^guest-[0-9a-f]{10}$/);
    await c.page.click('#me');
    await c.page.waitForSelector('#name-dialog[open]', { timeout: WAIT_MS });
    await waitForText(c.page, '#name-later', 'Cancel');
    await tryName(c.page, 'carol');
    await waitForText(c.page, '#me', 'carol');
    await waitForText(b.page, '#members li', 'carol');
    // Joined as a guest and named soon after: one join, under the name.
    await b.page.waitForFunction(
      () =>
        [...document.querySelectorAll('#log .sys.presence .text')].some((l) =>
          /\bcarol joined\b/.test(l.textContent ?? ''),
        ),
      null,
      { timeout: WAIT_MS },
    );
    const said = await b.page.$$eval(SYS, (ls) => ls.map((l) => l.textContent ?? ''));
    assert.equal(said.filter((t) => t.includes(guest)).length, 0, said.join('\n'));
    await c.page
      .locator(FAILED, { hasText: 'are you there?' })
      .getByRole('button', { name: /^Retry/ })
      .click();
    await waitForText(b.page, '#directs button[data-room="@carol"] .badge', '1');
    await b.page.click('#menu');
    await b.page.click('#directs button[data-room="@carol"]');
    await waitForText(b.page, '#log section[data-room="@carol"] .msg .text', 'are you there?');
    await waitForText(c.page, '#log section[data-room="@bob"] .msg .text', 'are you there?');
    // To a name no one has: it says so; Discard drops it, from the page and from the disk.
    await sendLine(c.page, '/msg nobody-by-that-name hello?');
    await waitForText(c.page, `${FAILED} .note`, 'Not sent: No one has that name.');
    await c.page.screenshot({ path: join(ARTIFACTS, 'desktop-failed-send.png') });
    await c.page
      .locator(FAILED, { hasText: 'hello?' })
      .getByRole('button', { name: /^Discard/ })
      .click();
    await c.page.waitForSelector('#pending .pending', { state: 'detached', timeout: WAIT_MS });
    await until('the outbox to be empty', async () => (await storedOutbox(c.page)).length === 0);
    assert.equal(await countText(b.page, MSG, 'are you there?'), 1);
    assert.equal(await countText(c.page, MSG, 'are you there?'), 1);

    // A reload keeps the chosen name without asking again.
    await c.page.reload();
    await waitReady(c.page);
    await waitForText(c.page, '#me', 'carol');
    assert.equal(await c.page.locator('#name-dialog[open]').count(), 0);
    // The server lists the name's direct conversations; opening one loads it.
    await waitForText(c.page, '#directs button[data-room="@bob"]', '@bob');
    await c.page.click('#directs button[data-room="@bob"]');
    await waitForText(c.page, '#log section[data-room="@bob"] .msg .text', 'are you there?');
    assert.equal(await countText(c.page, MSG, 'are you there?'), 1);
    for (const [i, p] of [b, c].entries()) assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
  });
});
