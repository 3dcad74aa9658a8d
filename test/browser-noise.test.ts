// Joins, leaves and renames as a person would want them in a real browser: a run of them is
// one line, someone who only reconnected (a reload) is not announced at all, and a guest who
// takes a name reads as one join under that name.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ARTIFACTS,
  Bot,
  DESKTOP,
  MSG,
  SYS,
  WAIT_MS,
  chooseName,
  openChatPage,
  sendLine,
  skipName,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

const PRESENCE = '#log .sys.presence .text';

async function presenceLines(page: import('playwright-core').Page): Promise<string[]> {
  return page.$$eval(PRESENCE, (ls) => ls.map((l) => l.textContent ?? ''));
}

test('browser: joins and leaves fold into one line; reloads and renames are not noise', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'alice');
    await waitReady(a.page);

    const carl = await Bot.connect(server.wsUrl, 'carl');
    await waitForText(a.page, PRESENCE, 'carl joined.');
    await sendLine(a.page, 'hello all');
    await waitForText(a.page, MSG, 'hello all');
    const ada = await Bot.connect(server.wsUrl, 'ada');
    const bob = await Bot.connect(server.wsUrl, 'bob');
    await waitForText(a.page, PRESENCE, 'ada and bob joined.');
    carl.close();
    // A leave waits a little (it may be a reconnect), then joins the run.
    await waitForText(a.page, PRESENCE, 'ada and bob joined; carl left.', 1, WAIT_MS * 2);
    assert.deepEqual(await presenceLines(a.page), [
      'carl joined.',
      'ada and bob joined; carl left.',
    ]);

    // dave reloads his page twice: alice is told of his first join only.
    await sendLine(a.page, 'who else is coming?');
    await waitForText(a.page, MSG, 'who else is coming?');
    const d = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(d.page, 'dave');
    await waitReady(d.page);
    await waitForText(a.page, '#members li', 'dave');
    for (let i = 1; i <= 2; i++) {
      await d.page.reload({ waitUntil: 'load' });
      await waitReady(d.page);
      await sendLine(d.page, `back again ${i}`);
      await waitForText(a.page, MSG, `back again ${i}`);
    }
    // Past the time a leave waits, still nothing said of the reloads.
    await new Promise((r) => setTimeout(r, 12_000));
    const daveLines = (await presenceLines(a.page)).filter((t) => t.includes('dave'));
    assert.deepEqual(daveLines, ['dave joined.']);

    // A guest who then takes a name: one join, under the name.
    const e = await openChatPage(browser, server.httpUrl, DESKTOP);
    await skipName(e.page);
    await waitReady(e.page);
    const guest = (await e.page.textContent('#me')) ?? '';
    assert.match(guest, /^guest-/);
    await a.page.waitForFunction(
      (g) =>
        [...document.querySelectorAll('#log .sys.presence .text')].some((l) =>
          l.textContent?.includes(g),
        ),
      guest,
      { timeout: WAIT_MS },
    );
    await e.page.click('#me');
    await e.page.fill('#name-input', 'erin');
    await e.page.press('#name-input', 'Enter');
    await waitForText(a.page, '#members li', 'erin');
    await waitForText(a.page, PRESENCE, 'erin joined.');
    const all = await a.page.$$eval(SYS, (ls) => ls.map((l) => l.textContent ?? ''));
    assert.equal(all.filter((t) => t.includes(guest)).length, 0, all.join('\n'));

    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-presence-folded.png') });
    ada.close();
    bob.close();
    for (const p of [a, d, e]) assert.deepEqual(p.problems, []);
  });
});
