// A link to an internationalized domain shows its real host, as the browser will resolve it
// (punycode), so that `https://аpple.com` (Cyrillic а) cannot pass for apple.com.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenize } from '../src/client/rich-text.js';
import {
  DESKTOP,
  MSG,
  chooseName,
  openChatPage,
  sendLine,
  waitForText,
  waitReady,
  withPageServer,
} from './browser-helpers.js';

const SPOOF = 'https://\u0430pple.com/login';
const SPOOF_HOST = new URL(SPOOF).hostname;

test('client: a link whose host is not as written carries the real host', () => {
  assert.match(SPOOF_HOST, /^xn--/);
  const link = (text: string) => tokenize(text).find((t) => t.kind === 'link');
  const hostOf = (text: string) => {
    const t = link(text);
    return t?.kind === 'link' ? t.host : 'no link';
  };
  assert.deepEqual(link(`see ${SPOOF}`), {
    kind: 'link',
    text: SPOOF,
    href: `https://${SPOOF_HOST}/login`,
    host: SPOOF_HOST,
  });
  // Fullwidth letters are another spelling of the same host: say which.
  assert.equal(hostOf('https://ｅｘａｍｐｌｅ.com/'), 'example.com');
  // The real host elsewhere in the URL does not count.
  assert.equal(hostOf(`${SPOOF}?next=${SPOOF_HOST}`), SPOOF_HOST);
  assert.equal(hostOf(`https://user@\u0430pple.com:8443/`), SPOOF_HOST);
  assert.equal(hostOf('http://127.0.0.1:9/x'), undefined);
  // A host written as it is resolved needs nothing more, whatever its case.
  assert.deepEqual(link('https://Example.COM/a'), {
    kind: 'link',
    text: 'https://Example.COM/a',
    href: 'https://example.com/a',
  });
  assert.equal(hostOf(`https://${SPOOF_HOST}/`), undefined);
});

test('browser: an internationalized link shows its punycode host beside it', async () => {
  await withPageServer(async ({ server, browser }) => {
    const a = await openChatPage(browser, server.httpUrl, DESKTOP);
    await chooseName(a.page, 'linker');
    await waitReady(a.page);
    await sendLine(a.page, `log in at ${SPOOF} now`);
    await waitForText(a.page, `${MSG} a`, SPOOF);
    const shown = await a.page.evaluate((sel) => {
      const el = [...document.querySelectorAll<HTMLElement>(sel)].find((e) => e.querySelector('a'));
      return {
        text: el?.innerText,
        href: el?.querySelector('a')?.getAttribute('href'),
        title: el?.querySelector('a')?.getAttribute('title'),
      };
    }, MSG);
    assert.equal(shown.href, `https://${SPOOF_HOST}/login`);
    // Visible on the page, not only on hover.
    assert.ok(shown.text?.includes(SPOOF_HOST), JSON.stringify(shown));
    assert.ok(shown.title?.includes(SPOOF_HOST), JSON.stringify(shown));
    // A plain ASCII link has nothing added.
    await sendLine(a.page, 'plain https://example.com/x');
    await waitForText(a.page, MSG, 'plain https://example.com/x');
    const plain = await a.page.evaluate(
      (sel) =>
        [...document.querySelectorAll<HTMLElement>(sel)]
          .filter((e) => e.textContent?.startsWith('plain'))
          .map((e) => [e.innerText, e.querySelector('a')?.getAttribute('title') ?? null]),
      MSG,
    );
    assert.deepEqual(plain, [['plain https://example.com/x', null]]);
    assert.deepEqual(a.problems, []);
  });
});
