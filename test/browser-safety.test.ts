// Hostile names and text in a real browser: markup stays text everywhere a name or message is
// shown (log, members, sidebar, name prompt, pending sends), only http(s) URLs become links and
// they open safely; plus unit tests of the tokenizer that decides what is a link or a mention.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { safeHref, tokenize } from '../src/client/rich-text.js';
import {
  DESKTOP,
  MSG,
  chooseName,
  countText,
  openChatPage,
  sendLine,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

/** A valid name (no spaces, at most 32 characters) that is also markup. */
const EVIL_NAME = '<img/src=x/onerror=__xss=1>';
const PAYLOADS = [
  '<script>window.__xss=2</script>',
  '<img src=x onerror="window.__xss=3">',
  '<a href="javascript:window.__xss=4">click</a>',
  'javascript:window.__xss=5',
  '[x](javascript:window.__xss=6) data:text/html,<b>x</b> vbscript:msgbox(1)',
  '"><svg onload=window.__xss=7>',
  '&lt;b&gt;entities stay entities&lt;/b&gt;',
];

async function noActiveContent(page: Page, where: string): Promise<void> {
  const found = await page.$$eval(
    '#log img, #log script, #log svg, #log iframe, #log b:not(.from), #side img, #side script, #side svg, #pending img, dialog img',
    (els) => els.map((e) => e.outerHTML),
  );
  assert.deepEqual(found, [], `${where}: markup became elements`);
  assert.equal(await page.evaluate(() => (window as { __xss?: unknown }).__xss), undefined);
}

test('browser: names and messages with markup render as inert text; only http(s) links', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, EVIL_NAME);
    await chooseName(b.page, 'bob');
    for (const p of [a, b]) await waitReady(p.page);
    await waitForText(b.page, '#members li', EVIL_NAME);

    for (const text of PAYLOADS) await sendLine(a.page, text);
    const link = 'read https://example.com/wiki/Foo_(bar)?q=1&r=2#top, then http://127.0.0.1:9/x.';
    await sendLine(a.page, link);
    await sendLine(a.page, '/me waves <b>bold</b>');
    // A direct conversation with the markup name, from the other side.
    await sendLine(b.page, `/msg ${EVIL_NAME} hello <i>you</i>`);
    for (const p of [a, b]) {
      for (const text of [...PAYLOADS, link]) await waitForText(p.page, MSG, text);
      await waitForText(p.page, MSG, 'waves <b>bold</b>');
    }
    await waitForText(b.page, '#directs button[data-room^="@"]', `@${EVIL_NAME.toLowerCase()}`);
    await b.page.click('#directs button[data-room^="@"]');
    await waitForText(b.page, MSG, 'hello <i>you</i>');
    await waitForText(a.page, '#directs button[data-room="@bob"]', '@bob 1');

    for (const [i, p] of [a, b].entries()) {
      await noActiveContent(p.page, `page ${i + 1}`);
      // The name shows as typed, as text, in the log and the member list.
      assert.ok((await countText(p.page, '#log .msg .from', EVIL_NAME)) >= 1);
      // Exactly the two http(s) URLs became links, opened in a new tab without an opener.
      const anchors = await p.page.$$eval('#log a', (as) =>
        as.map((x) => ({
          href: x.getAttribute('href'),
          text: x.textContent,
          target: x.getAttribute('target'),
          rel: x.getAttribute('rel'),
        })),
      );
      assert.deepEqual(anchors, [
        {
          href: 'https://example.com/wiki/Foo_(bar)?q=1&r=2#top',
          text: 'https://example.com/wiki/Foo_(bar)?q=1&r=2#top',
          target: '_blank',
          rel: 'noopener noreferrer',
        },
        {
          href: 'http://127.0.0.1:9/x',
          text: 'http://127.0.0.1:9/x',
          target: '_blank',
          rel: 'noopener noreferrer',
        },
      ]);
      assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
    }
    assert.ok((await countText(b.page, '#members li', EVIL_NAME)) === 1);

    // A third page asking for the markup name: the prompt's error names it, as text.
    const c = await openChatPage(browser, server.httpUrl, DESKTOP);
    await waitReady(c.page);
    await c.page.fill('#name-input', EVIL_NAME);
    await c.page.press('#name-input', 'Enter');
    await waitForText(
      c.page,
      '#name-error',
      `Someone connected right now is called ${EVIL_NAME}. Pick another name.`,
    );
    await noActiveContent(c.page, 'page 3');
    // Pending sends are text too.
    await c.page.click('#name-later');
    await sendLine(c.page, `/msg ${EVIL_NAME} <img src=x onerror=window.__xss=8>`);
    await waitForText(
      c.page,
      '#pending .pending.failed .text',
      '<img src=x onerror=window.__xss=8>',
    );
    await noActiveContent(c.page, 'page 3 pending');
    await c.context.close();
  });
});

test('client: only http and https URLs become links, trailing punctuation stays text', () => {
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('JAVASCRIPT:alert(1)'), null);
  assert.equal(safeHref('data:text/html,x'), null);
  assert.equal(safeHref('http://'), null);
  assert.equal(safeHref('https://example.com'), 'https://example.com/');
  assert.deepEqual(tokenize('see https://a.example/x. and (http://b.example/y)'), [
    { kind: 'text', text: 'see ' },
    { kind: 'link', text: 'https://a.example/x', href: 'https://a.example/x' },
    { kind: 'text', text: '. and (' },
    { kind: 'link', text: 'http://b.example/y', href: 'http://b.example/y' },
    { kind: 'text', text: ')' },
  ]);
  assert.deepEqual(tokenize('javascript:alert(1) jhttp://x.example'), [
    { kind: 'text', text: 'javascript:alert(1) jhttp://x.example' },
  ]);
  // A closing bracket the URL opened is part of it.
  assert.equal(
    tokenize('https://en.wikipedia.org/wiki/Foo_(bar)').find((t) => t.kind === 'link')?.text,
    'https://en.wikipedia.org/wiki/Foo_(bar)',
  );
  // An encoded quote cannot break out: the href is what URL parsing made of it.
  const t = tokenize('http://x.example/"onmouseover="alert(1)').find((x) => x.kind === 'link');
  assert.equal(t?.kind === 'link' ? t.href : '', 'http://x.example/');
});

test('client: mentions of your own name, case-insensitive, whole names only', () => {
  const marks = (text: string, me: string) =>
    tokenize(text, me)
      .filter((t) => t.kind === 'mention')
      .map((t) => t.text);
  assert.deepEqual(marks('hi @Alice, and @ALICE!', 'alice'), ['@Alice', '@ALICE']);
  assert.deepEqual(marks('@alicex no@alice alice @bob', 'alice'), []);
  assert.deepEqual(marks('(@zoë) @ZOË.', 'Zoë'), ['@zoë', '@ZOË']);
  assert.deepEqual(marks('@bob! hey', 'bob!'), ['@bob!']);
  assert.deepEqual(marks('@alice', ''), []);
  assert.deepEqual(tokenize('@alice https://x.example/@alice', 'alice'), [
    { kind: 'mention', text: '@alice' },
    { kind: 'text', text: ' ' },
    { kind: 'link', text: 'https://x.example/@alice', href: 'https://x.example/@alice' },
  ]);
});
