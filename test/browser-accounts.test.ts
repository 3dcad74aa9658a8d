// Accounts in a real browser against a real server with its default access (guests on): the
// owner's setup link, signing up with an invite link and from the name prompt, a private room
// and an invitation, a room the uninvited cannot find, ops, a kick and a ban with the notices
// they bring, the admin view, and signing out and in again on a fresh browser.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  DESKTOP,
  MSG,
  SYS,
  WAIT_MS,
  openChatPage,
  sendLine,
  skipName,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

const SHOTS = '/tmp/parley-shots';
const PASSWORD = 'correct horse battery';
const ALICE = '#directs button[data-room="@alice"]';

async function waitMe(page: Page, name: string): Promise<void> {
  await page.waitForFunction((n) => document.getElementById('me')?.textContent === n, name, {
    timeout: WAIT_MS,
  });
}

/** Fills and sends the open sign-in form in the mode its title names. */
async function fillAuth(page: Page, title: string, name: string, password = PASSWORD) {
  await page.waitForSelector('#auth-dialog[open]', { timeout: WAIT_MS });
  if ((await page.textContent('#auth-title')) !== title) await page.click('#auth-switch');
  await waitForText(page, '#auth-title', title);
  await page.fill('#auth-name', name);
  await page.fill('#auth-password', password);
  await page.press('#auth-password', 'Enter');
  await page.waitForSelector('#auth-dialog:not([open])', { state: 'attached', timeout: WAIT_MS });
  await waitMe(page, name);
}

async function joinRoom(page: Page, room: string): Promise<void> {
  await page.fill('#join-input', room);
  await page.press('#join-input', 'Enter');
  await waitForText(page, '#room-title', `#${room}`);
}

/** Opens a member's moderation buttons in the member list and presses one. */
async function moderate(page: Page, name: string, label: string): Promise<void> {
  const li = page.locator('#members li', {
    has: page.locator(`button.member-open`, { hasText: name }),
  });
  await li.locator('button.more').click();
  await li.locator('.acts button', { hasText: new RegExp(`^${label}$`) }).click();
}

test('browser: accounts, a private room, an invitation, ops, a kick and a ban, admin', async () => {
  await mkdir(SHOTS, { recursive: true });
  await withPageServer(
    async ({ server, browser }) => {
      const setup = server.setupLink;
      assert.ok(setup, 'a new server prints a setup link');
      const code = new URL(setup).hash.slice('#setup='.length);

      // The setup link: the form for the owner's account, and the code out of the address.
      const a = await openChatPage(browser, `${server.httpUrl}/#setup=${code}`, DESKTOP);
      await a.page.waitForSelector('#auth-dialog[open]', { timeout: WAIT_MS });
      await waitForText(a.page, '#auth-title', 'Set up this server');
      assert.equal(await a.page.evaluate(() => location.hash), '', 'the code left the address');
      assert.equal(await a.page.locator('#name-dialog[open]').count(), 0);
      await waitReady(a.page);
      await a.page.fill('#auth-name', 'alice');
      await a.page.fill('#auth-password', 'short');
      await a.page.press('#auth-password', 'Enter');
      await waitForText(a.page, '#auth-error', 'A password has at least 8 characters.');
      await a.page.screenshot({ path: join(SHOTS, 'sign-in-form.png') });
      await a.page.fill('#auth-password', PASSWORD);
      await a.page.press('#auth-password', 'Enter');
      await waitMe(a.page, 'alice');
      await waitForText(a.page, '#account', 'Account');
      assert.equal(await a.page.isVisible('#admin'), true, 'the owner sees the admin view');

      // bob signs up from the name prompt; a wrong sign-in first says so in words.
      const b = await openChatPage(browser, server.httpUrl, DESKTOP);
      await waitReady(b.page);
      await b.page.click('#name-signin');
      await b.page.waitForSelector('#auth-dialog[open]', { timeout: WAIT_MS });
      await b.page.fill('#auth-name', 'nobody');
      await b.page.fill('#auth-password', PASSWORD);
      await b.page.press('#auth-password', 'Enter');
      await waitForText(b.page, '#auth-error', 'Wrong name or password.');
      await fillAuth(b.page, 'Create an account', 'bob');
      assert.equal(await b.page.isVisible('#admin'), false, 'a member has no admin view');

      // The admin view: an invite link, which carol signs up with.
      await a.page.click('#admin');
      await a.page.waitForSelector('#admin-dialog[open]', { timeout: WAIT_MS });
      await a.page.click('#make-invite');
      await a.page.waitForSelector('#invite-link:not([hidden])', { timeout: WAIT_MS });
      const invite = await a.page.inputValue('#invite-link');
      assert.match(invite, /#invite=[\w-]+$/);
      await a.page.click('#admin-close');
      const c = await openChatPage(browser, invite, DESKTOP);
      await waitForText(c.page, '#auth-title', 'Create an account');
      assert.equal(await c.page.evaluate(() => location.hash), '');
      await waitReady(c.page);
      await fillAuth(c.page, 'Create an account', 'carol');

      // alice makes #secret private, with a topic, and invites bob.
      await joinRoom(a.page, 'secret');
      await sendLine(a.page, 'the first secret');
      await waitForText(a.page, MSG, 'the first secret');
      await a.page.click('#room-settings');
      await a.page.waitForSelector('#room-dialog[open]', { timeout: WAIT_MS });
      await a.page.waitForFunction(
        () => !(document.getElementById('room-save') as HTMLButtonElement).hidden,
        null,
        { timeout: WAIT_MS },
      );
      await a.page.fill('#room-topic-input', 'plans for the launch');
      await a.page.check('#room-visibility input[value="private"]');
      await a.page.click('#room-save');
      await waitForText(a.page, '#room-note', 'Saved.');
      await waitForText(a.page, '#room-topic', 'plans for the launch');
      await a.page.fill('#invite-name', 'bob');
      await a.page.press('#invite-name', 'Enter');
      await waitForText(a.page, '#room-note', 'Invited bob (#secret).');
      await waitForText(a.page, '#room-people li .tag', 'member');
      await a.page.screenshot({ path: join(SHOTS, 'room-settings.png') });
      await a.page.click('#room-close');

      // bob is told, finds it in his rooms and reads it.
      await waitForText(b.page, SYS, 'alice invited you to #secret: it is in your rooms.');
      await b.page.click('#rooms button[data-room="secret"]');
      await waitForText(b.page, '#room-title', '#secret');
      await waitForText(b.page, MSG, 'the first secret');
      await waitForText(b.page, '#room-topic', 'plans for the launch');
      await sendLine(a.page, 'welcome, bob');
      await waitForText(b.page, MSG, 'welcome, bob');

      // carol cannot find it, nor join it.
      await c.page.click('#browse');
      await c.page.waitForSelector('#browse-list li', { timeout: WAIT_MS });
      const listed = await c.page.locator('#browse-list button').allTextContents();
      assert.ok(
        listed.some((t) => t.startsWith('#lobby')),
        listed.join(),
      );
      assert.ok(!listed.some((t) => t.startsWith('#secret')), listed.join());
      await sendLine(c.page, '/join secret');
      await waitForText(c.page, SYS, 'Error: There is no such room.');
      assert.equal(await c.page.locator('#rooms button[data-room="secret"]').count(), 0);

      // #plaza is public: alice ops bob there, and bob, a moderator now, kicks then bans carol.
      await joinRoom(a.page, 'plaza');
      await joinRoom(b.page, 'plaza');
      await joinRoom(c.page, 'plaza');
      await waitForText(a.page, '#members button.member-open', 'carol');
      await moderate(a.page, 'bob', 'Make moderator');
      await waitForText(a.page, '#room-note', 'Made a moderator: bob (#plaza).');
      await a.page.waitForSelector('#members button.member-open[data-role="moderator"]', {
        timeout: WAIT_MS,
      });
      // A role in a room comes with no notice: bob's page asks again when he comes back to it.
      await b.page.click('#rooms button[data-room="lobby"]');
      await b.page.click('#rooms button[data-room="plaza"]');
      await waitForText(b.page, '#members .me', 'bob');
      await b.page.waitForSelector('#members button.more:not([hidden])', { timeout: WAIT_MS });
      await moderate(b.page, 'carol', 'Remove');
      await waitForText(c.page, SYS, 'You were removed from #plaza by bob. You may join it again.');
      await c.page.waitForSelector('#rooms button[data-room="plaza"]', {
        state: 'detached',
        timeout: WAIT_MS,
      });
      assert.match((await c.page.textContent('#announce')) ?? '', /You were removed from #plaza/);
      await joinRoom(c.page, 'plaza');
      await waitForText(b.page, '#members button.member-open', 'carol');
      await moderate(b.page, 'carol', 'Ban');
      await waitForText(c.page, SYS, 'You were banned from #plaza by bob.');
      await c.page.waitForSelector('#rooms button[data-room="plaza"]', {
        state: 'detached',
        timeout: WAIT_MS,
      });
      await sendLine(c.page, '/join plaza');
      await waitForText(c.page, SYS, 'Error: You are banned from this room.');

      // A direct conversation, to come back after signing in elsewhere.
      await sendLine(a.page, '/msg bob just between us');
      await b.page.waitForSelector(ALICE, { timeout: WAIT_MS });

      // The admin view: people with roles, one set; the audit log.
      await a.page.click('#admin');
      await a.page.waitForSelector('#users li', { timeout: WAIT_MS });
      await a.page.selectOption('select[aria-label="Role of carol"]', 'moderator');
      await a.page.click('button[aria-label="Set the role of carol"]');
      await waitForText(a.page, '#admin-note', 'carol is now moderator.');
      await waitForText(c.page, SYS, 'Your role in this server is now moderator by alice.');
      await a.page.waitForSelector('#audit li', { timeout: WAIT_MS });
      await a.page.screenshot({ path: join(SHOTS, 'admin-view.png') });
      await a.page.click('#admin-close');

      // Sessions: bob signs in on a second browser; the first sees two and signs out everywhere.
      const b2 = await openChatPage(browser, server.httpUrl, DESKTOP);
      await waitReady(b2.page);
      await b2.page.click('#name-signin');
      await fillAuth(b2.page, 'Sign in', 'bob');
      await b2.page.waitForSelector(ALICE, { timeout: WAIT_MS });
      await b2.page.click('#browse');
      await b2.page.waitForSelector('#browse-list li', { timeout: WAIT_MS });
      const seen = await b2.page.locator('#browse-list button').allTextContents();
      assert.ok(
        seen.some((t) => t.startsWith('#secret')),
        `bob finds #secret: ${seen.join()}`,
      );
      await b.page.click('#account');
      await b.page.waitForSelector('#account-dialog[open]', { timeout: WAIT_MS });
      await b.page.waitForFunction(
        () => document.querySelectorAll('#sessions li').length === 2,
        null,
        { timeout: WAIT_MS },
      );
      await waitForText(b.page, '#sessions .tag', 'this page');
      await b.page.click('#sign-out-all');
      await b.page.waitForFunction(
        () => document.getElementById('me')?.textContent?.startsWith('guest-'),
        null,
        { timeout: WAIT_MS },
      );
      await waitForText(b.page, '#account', 'Sign in');
      assert.equal(await b.page.locator(ALICE).count(), 0, 'no direct rooms left');
      assert.deepEqual(
        await b.page.locator('#rooms button.room').evaluateAll((l) => l.map((e) => e.textContent)),
        ['#lobby'],
        "the account's rooms left this page",
      );
      await waitForText(b2.page, SYS, 'This session was ended; sign in again. Reconnecting…');

      // A fresh browser: bob signs in again and his private room and direct conversation are back.
      const b3 = await openChatPage(browser, server.httpUrl, DESKTOP);
      await waitReady(b3.page);
      await skipName(b3.page);
      await b3.page.click('#account');
      await fillAuth(b3.page, 'Sign in', 'bob');
      await b3.page.waitForSelector(ALICE, { timeout: WAIT_MS });
      await b3.page.click('#rooms button[data-room="secret"]', { timeout: WAIT_MS });
      await waitForText(b3.page, MSG, 'the first secret');
      await b3.page.click(ALICE);
      await waitForText(b3.page, MSG, 'just between us');

      for (const p of [a, b, c, b2, b3]) assert.deepEqual(p.problems, []);
    },
    { guests: 'on' },
  );
});
