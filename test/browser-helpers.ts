// Chromium through playwright-core for the browser tests. Debian's `chromium` package is the
// browser (no browser download works here); a missing browser fails the tests, never skips them.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Bound on every wait for something the page should show soon. */
export const WAIT_MS = 15_000;

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is missing (looked for ${CHROMIUM_PATH}). Install it with \`apt-get install chromium\`, ` +
        'or run `.ci/run`, which installs it; set CHROMIUM_PATH to use another binary.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  });
}

/** The server serves the built page; fail with the fix when it was not built. */
export function assertPageBuilt(): void {
  const app = fileURLToPath(new URL('../dist/public/app.js', import.meta.url));
  if (!existsSync(app)) {
    throw new Error(
      `${app} is missing: run \`npm run build\` first (\`npm test\` builds before testing).`,
    );
  }
}

export interface ChatPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and Content-Security-Policy violations seen so far. */
  problems: string[];
}

/** A page in its own browser context (own storage, so its own chat identity). */
export async function openChatPage(
  browser: Browser,
  url: string,
  viewport: { width: number; height: number },
): Promise<ChatPage> {
  const phone = viewport.width < 600;
  const context = await browser.newContext({
    viewport,
    ...(phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) {
      problems.push(`console: ${m.text()}`);
    }
  });
  await page.goto(url, { waitUntil: 'load' });
  return { context, page, problems };
}

/** How many elements match `selector` with exactly this text content (trimmed). */
export async function countText(page: Page, selector: string, text: string): Promise<number> {
  return page.evaluate(
    ([sel, want]) =>
      [...document.querySelectorAll(sel)].filter((e) => e.textContent?.trim() === want).length,
    [selector, text] as const,
  );
}

/** Waits until at least `n` elements show exactly `text`; the error says what was there. */
export async function waitForText(
  page: Page,
  selector: string,
  text: string,
  n = 1,
  timeout = WAIT_MS,
): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, want, count]) =>
        [...document.querySelectorAll(sel)].filter((e) => e.textContent?.trim() === want).length >=
        count,
      [selector, text, n] as const,
      { timeout, polling: 100 },
    );
  } catch (e) {
    const seen = await page.evaluate(() =>
      [...document.querySelectorAll('#log .line')].map((l) => l.textContent).join('\n'),
    );
    const status = await page.textContent('#status');
    throw new Error(
      `waited ${timeout} ms for ${n}× ${JSON.stringify(text)} in ${selector}; status "${status}"; log:\n${seen}`,
      { cause: e },
    );
  }
}

/** Types a line into the message box and presses Enter. */
export async function sendLine(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** The sequence numbers of the messages a room's log shows, in page order. */
export async function shownSeqs(page: Page, room: string): Promise<number[]> {
  return page.evaluate(
    (r) =>
      [...document.querySelectorAll<HTMLElement>('#log .room-log')]
        .filter((s) => s.dataset['room'] === r)
        .flatMap((s) => [...s.querySelectorAll<HTMLElement>('.msg')])
        .map((m) => Number(m.dataset['seq'])),
    room,
  );
}
