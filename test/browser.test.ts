// The page in a real browser against the real server: two people chat, text stays text, and a
// server restart loses nothing and shows nothing twice. Screenshots go to test-artifacts/.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { WebSocketRoute } from 'playwright-core';
import { WELCOME_TEXT } from '../src/protocol/index.js';
import { BACKOFF_CAP_MS, backoffDelay, socketUrl } from '../src/client/connection.js';
import {
  ARTIFACTS,
  DESKTOP,
  MSG,
  PENDING,
  PHONE,
  RECONNECT_MS,
  SYS,
  chooseName,
  countText,
  openChatPage,
  sendLine,
  shownSeqs,
  skipName,
  waitForText,
  waitReady,
  withPageServer,
  type ChatPage,
} from './browser-helpers.js';

test('browser: two pages chat in real time, show text as text, and survive a server restart', async () => {
  await withPageServer(async ({ server, browser, stop, restart }) => {
    // The page: strict CSP, no inline script.
    const res = await fetch(server.httpUrl);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/, `Content-Security-Policy: ${csp}`);
    const html = await res.text();
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
      assert.equal(m[2]?.trim(), '', `inline script body in index.html: ${m[0]}`);
      assert.match(m[1] ?? '', /\ssrc=/, `script without src in index.html: ${m[0]}`);
    }
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'inline event handler in index.html');
    assert.doesNotMatch(html, /\sstyle\s*=/i, 'inline style attribute in index.html');

    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, PHONE);
    const both: ChatPage[] = [a, b];
    for (const p of both) {
      await waitForText(p.page, SYS, 'Connection opened.');
      await waitForText(p.page, SYS, WELCOME_TEXT);
      await waitReady(p.page);
    }
    // First visit: each page asks for a name.
    await chooseName(a.page, 'ada');
    await chooseName(b.page, 'bea');

    // A message typed in page 1 shows once in both.
    const first = 'hello from page one';
    await sendLine(a.page, first);
    for (const p of both) await waitForText(p.page, MSG, first);

    // Markup in a message is shown as text and never runs.
    const xss = '<img src=x onerror="window.__xss=1">';
    await sendLine(a.page, xss);
    for (const p of both) {
      await waitForText(p.page, MSG, xss);
      assert.equal(await p.page.locator('#log img').count(), 0, 'the payload became an element');
      assert.equal(await p.page.evaluate(() => (window as { __xss?: unknown }).__xss), undefined);
    }

    // Server gone: both pages say so and show that they will retry.
    await stop();
    for (const p of both) {
      await waitForText(p.page, SYS, 'Connection lost.');
      await p.page.waitForSelector(
        '#status[data-state="offline"], #status[data-state="connecting"]',
        {
          timeout: 15_000,
        },
      );
    }
    assert.match(
      (await a.page.textContent('#status')) ?? '',
      /^(connecting…|offline — reconnecting in \d+ s)$/,
    );
    await mkdir(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-offline.png') });

    // Sent while offline: shown greyed, kept, and sent after the reconnect.
    const offline = 'typed while the server was down';
    await sendLine(a.page, offline);
    await waitForText(a.page, PENDING, offline);

    // Same page port, same data: both pages come back by themselves.
    await restart();
    // One line for every reconnect, counting them.
    for (const p of both) {
      await waitForText(
        p.page,
        '#log .sys[data-count="2"] .text',
        'Connection opened.',
        1,
        RECONNECT_MS,
      );
    }
    for (const p of both) await waitForText(p.page, MSG, offline);
    assert.equal(await countText(a.page, PENDING, offline), 0, 'the offline send is still pending');

    const later = 'sent after the restart';
    await sendLine(b.page, later);
    for (const p of both) await waitForText(p.page, MSG, later);

    // Each message exactly once, in sequence order, with nothing missing.
    for (const [i, p] of both.entries()) {
      for (const text of [first, xss, offline, later]) {
        assert.equal(
          await countText(p.page, MSG, text),
          1,
          `page ${i + 1} shows ${JSON.stringify(text)}`,
        );
      }
      assert.deepEqual(await shownSeqs(p.page, 'lobby'), [1, 2, 3, 4], `page ${i + 1} seqs`);
      assert.equal(await countText(p.page, SYS, 'Connection opened.'), 1);
      assert.equal(await countText(p.page, SYS, 'Connection lost.'), 1);
      assert.equal(await p.page.evaluate(() => (window as { __xss?: unknown }).__xss), undefined);
      assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
    }

    await a.page.screenshot({ path: join(ARTIFACTS, 'desktop-restart.png') });
    await b.page.screenshot({ path: join(ARTIFACTS, 'phone-restart.png') });
    await b.page.emulateMedia({ colorScheme: 'dark' });
    await b.page.screenshot({ path: join(ARTIFACTS, 'phone-restart-dark.png') });
  });
});

test('browser: commands, rooms, direct messages, typing and errors', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    const b = await openChatPage(browser, server.httpUrl, DESKTOP);
    for (const p of [a, b]) {
      await waitForText(p.page, SYS, 'Connection opened.');
      await skipName(p.page);
      await waitReady(p.page);
    }
    const me = (p: ChatPage, name: string) =>
      p.page.waitForFunction((n) => document.getElementById('me')?.textContent === n, name, {
        timeout: 15_000,
      });
    const members = (p: ChatPage, name: string) => waitForText(p.page, '#members li', name);

    // /nick takes a name; the other page sees the rename.
    await sendLine(a.page, '/nick alice');
    await me(a, 'alice');
    await waitForText(a.page, SYS, 'You are now known as alice.');
    await members(b, 'alice');
    await sendLine(b.page, '/nick bob');
    await me(b, 'bob');
    await members(a, 'bob');

    // A name held by someone else (an account now): the error is shown readably.
    await sendLine(a.page, '/nick bob');
    await waitForText(
      a.page,
      SYS,
      'Error: That name is taken; if it is yours, sign in (or give the key you took it with).',
    );
    await me(a, 'alice');

    // /me is an action line.
    await sendLine(a.page, '/me waves');
    for (const p of [a, b]) {
      await p.page.waitForFunction(
        () =>
          [...document.querySelectorAll('#log .msg.action')].some((l) =>
            l.textContent?.endsWith('* alice waves'),
          ),
        null,
        { timeout: 15_000 },
      );
    }

    // Typing shows on the other page.
    await b.page.fill('#text', 'thinking');
    await waitForText(a.page, '#typing', 'bob is typing…');
    await b.page.fill('#text', '');

    // /join switches to a new room; its messages stay there.
    await sendLine(a.page, '/join dev');
    await waitForText(a.page, '#rooms button[aria-current="true"]', '#dev');
    await waitForText(a.page, '#room-title', '#dev');
    await sendLine(a.page, 'only in dev');
    await waitForText(a.page, '#log section[data-room="dev"] .msg .text', 'only in dev');
    assert.equal(await countText(b.page, MSG, 'only in dev'), 0);
    // The other page joins with the form and gets the room's history.
    await b.page.fill('#join-input', '#dev');
    await b.page.press('#join-input', 'Enter');
    await waitForText(b.page, '#log section[data-room="dev"] .msg .text', 'only in dev');
    await members(a, 'bob');

    // A direct message: a new @room with an unread count, read by clicking it.
    await sendLine(a.page, '/msg bob psst');
    await waitForText(b.page, '#directs button[data-room="@alice"] .badge', '1');
    await b.page.click('#directs button[data-room="@alice"]');
    await waitForText(b.page, '#log section[data-room="@alice"] .msg .text', 'psst');
    assert.equal(await b.page.locator('#directs button[data-room="@alice"] .badge').count(), 0);

    // Unknown commands and /part.
    await sendLine(a.page, '/frobnicate');
    await waitForText(a.page, SYS, 'Unknown command /frobnicate; /help lists them.');
    await sendLine(a.page, '/part');
    await waitForText(a.page, SYS, 'Left #dev.');
    assert.equal(await a.page.locator('#rooms button[data-room="dev"]').count(), 0);
    await waitForText(a.page, '#room-title', '#lobby');

    // A reload keeps the name (its token is in localStorage).
    await a.page.reload();
    await waitForText(a.page, SYS, 'You are alice.');
    await me(a, 'alice');
    await waitForText(a.page, MSG, 'waves');

    await b.page.screenshot({ path: join(ARTIFACTS, 'desktop-direct.png') });
    for (const [i, p] of [a, b].entries()) assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
  });
});

test('browser: a page that missed more than the replay bound pages history to fill the gap', async () => {
  await withPageServer(
    async ({ server, browser }) => {
      const a = await openChatPage(browser, server.httpUrl, DESKTOP);
      // Page b's socket goes through a route: passed to the server, or (while `cut`) a socket
      // that opens and never speaks, so b stays away until the test lets it back.
      const b = await openChatPage(browser, 'about:blank', DESKTOP);
      let cut = false;
      const sockets: WebSocketRoute[] = [];
      const toB: string[] = [];
      await b.context.routeWebSocket(/\/ws$/, (ws) => {
        sockets.push(ws);
        if (cut) return;
        const upstream = ws.connectToServer();
        upstream.onMessage((m) => {
          toB.push(String(m));
          ws.send(m);
        });
        ws.onMessage((m) => upstream.send(m));
      });
      await b.page.goto(server.httpUrl);
      for (const p of [a, b]) {
        await waitForText(p.page, SYS, WELCOME_TEXT);
        await skipName(p.page);
        await waitReady(p.page);
      }

      await sendLine(a.page, 'm1');
      for (const p of [a, b]) await waitForText(p.page, MSG, 'm1');

      cut = true;
      await sockets.at(-1)?.close();
      await waitForText(b.page, SYS, 'Connection lost.');
      for (let i = 2; i <= 9; i++) {
        await sendLine(a.page, `m${i}`);
        await waitForText(a.page, MSG, `m${i}`);
      }
      // b is "connected" to a silent socket; it has missed m2..m9, more than the bound of 3.
      assert.equal(await countText(b.page, MSG, 'm9'), 0);
      cut = false;
      await sockets.at(-1)?.close();
      await waitForText(b.page, MSG, 'm9', 1, RECONNECT_MS);
      await waitForText(b.page, MSG, 'm2');
      const gaps = toB
        .map((f) => JSON.parse(f) as { type: string })
        .filter((e) => e.type === 'gap');
      assert.deepEqual(gaps, [{ type: 'gap', room: 'lobby', after: 1, before: 7 }]);
      assert.deepEqual(await shownSeqs(b.page, 'lobby'), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.deepEqual(await shownSeqs(a.page, 'lobby'), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const [i, p] of [a, b].entries())
        assert.deepEqual(p.problems, [], `page ${i + 1} errors`);
    },
    { historyBound: 3 },
  );
});

test('client: reconnect delays are full jitter under a capped exponential', () => {
  assert.equal(
    backoffDelay(0, () => 0),
    0,
  );
  assert.equal(
    backoffDelay(0, () => 0.999999),
    499,
  );
  assert.equal(
    backoffDelay(3, () => 0.5),
    2000,
  );
  assert.equal(
    backoffDelay(10, () => 0.999999),
    BACKOFF_CAP_MS - 1,
  );
  assert.equal(
    backoffDelay(1000, () => 0.5),
    BACKOFF_CAP_MS / 2,
  );
  assert.equal(
    socketUrl({ protocol: 'http:', host: '192.168.1.5:8098' }),
    'ws://192.168.1.5:8098/ws',
  );
  assert.equal(socketUrl({ protocol: 'https:', host: 'chat.example' }), 'wss://chat.example/ws');
});
