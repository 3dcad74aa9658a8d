// Chromium through playwright-core for the browser tests. Debian's `chromium` package is the
// browser (no browser download works here); a missing browser fails the tests, never skips them.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import WebSocket from 'ws';
import { startParley, type RunningServer, type ServerStop } from '../src/server/app.js';
import type { Config } from '../src/server/config.js';
import { LENIENT_ADDRESS_LIMITS } from './helpers.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Bound on every wait for something the page should show soon. */
export const WAIT_MS = 15_000;
/** Reconnecting waits for a backoff of up to a few seconds after the server comes back. */
export const RECONNECT_MS = 30_000;
/** Screenshots go here. */
export const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
/** The page's system lines, message texts and pending (unsent) texts. */
export const SYS = '#log .sys .text';
export const MSG = '#log .msg .text';
export const PENDING = '#pending .pending .text';

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

/**
 * Runs in every page of a context before the app: lets a test hide the tab
 * (`window.__setHidden(true)`) and records desktop notifications instead of showing them
 * (`window.__notes`, `window.__asked()` counts permission requests).
 */
export const FAKE_TAB = `(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  window.__setHidden = (h) => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
  const notes = [];
  let asked = 0;
  let permission = 'default';
  class FakeNotification {
    constructor(title, options) { notes.push({ title, body: options && options.body }); this.onclick = null; }
    close() {}
    static get permission() { return permission; }
    static requestPermission() { asked++; permission = 'granted'; return Promise.resolve(permission); }
  }
  window.Notification = FakeNotification;
  window.__notes = notes;
  window.__asked = () => asked;
})();`;

export interface OpenOptions {
  /** Script run before the page's own (see FAKE_TAB). */
  init?: string;
  colorScheme?: 'light' | 'dark';
}

/** A page in its own browser context (own storage, so its own chat identity). */
export async function openChatPage(
  browser: Browser,
  url: string,
  viewport: { width: number; height: number },
  options: OpenOptions = {},
): Promise<ChatPage> {
  const phone = viewport.width < 600;
  const context = await browser.newContext({
    viewport,
    colorScheme: options.colorScheme ?? 'light',
    ...(phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  if (options.init) await context.addInitScript(options.init);
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

/** Answers the first-visit name prompt and waits until the name is taken. */
export async function chooseName(page: Page, name: string): Promise<void> {
  await page.waitForSelector('#name-dialog[open]', { timeout: WAIT_MS });
  await page.fill('#name-input', name);
  await page.press('#name-input', 'Enter');
  await page.waitForSelector('#name-dialog:not([open])', { state: 'attached', timeout: WAIT_MS });
  await page.waitForFunction((n) => document.getElementById('me')?.textContent === n, name, {
    timeout: WAIT_MS,
  });
}

/** "Later" on the first-visit name prompt: the page stays a guest. */
export async function skipName(page: Page): Promise<void> {
  await page.waitForSelector('#name-dialog[open]', { timeout: WAIT_MS });
  await page.click('#name-later');
  await page.waitForSelector('#name-dialog:not([open])', { state: 'attached', timeout: WAIT_MS });
}

/** Waits until the page says it is connected and its hello was answered. */
export async function waitReady(page: Page, timeout = WAIT_MS): Promise<void> {
  await page.waitForSelector('#status[data-state="connected"]', { timeout });
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll('#log .sys .text')].some((e) =>
        /^You are /.test(e.textContent ?? ''),
      ),
    null,
    { timeout },
  );
}

/** The sends the page keeps in IndexedDB, read straight from the database. */
export async function storedOutbox(page: Page): Promise<{ cid: string; text: string }[]> {
  return page.evaluate(
    () =>
      new Promise<{ cid: string; text: string }[]>((resolve, reject) => {
        const open = indexedDB.open('parley');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('outbox')) {
            db.close();
            resolve([]);
            return;
          }
          const req = db.transaction('outbox').objectStore('outbox').getAll();
          req.onsuccess = () => {
            db.close();
            resolve(req.result as { cid: string; text: string }[]);
          };
          req.onerror = () => reject(req.error);
        };
      }),
  );
}

/** Waits for a condition checked in Node (not in the page), polling; the error names it. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  timeout = WAIT_MS,
): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`waited ${timeout} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
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

/** A JSON-mode client in Node, to put messages in a room faster than a page would. */
export class Bot {
  private readonly events: Record<string, unknown>[] = [];
  private nextId = 1;

  private constructor(private readonly ws: WebSocket) {
    // Listening from the start: the welcome can come in the same chunk as the handshake.
    ws.on('message', (d) => this.events.push(JSON.parse(String(d)) as Record<string, unknown>));
  }

  static async connect(wsUrl: string, name?: string): Promise<Bot> {
    const bot = new Bot(new WebSocket(wsUrl, 'parley.v1'));
    await new Promise<void>((resolve, reject) => {
      bot.ws.once('open', () => resolve());
      bot.ws.once('error', reject);
    });
    await bot.waitFor((e) => e['type'] === 'welcome');
    await bot.request({
      type: 'hello',
      token: `bot-token-${randomUUID()}`,
      ...(name ? { name } : {}),
    });
    await bot.request({ type: 'join', room: 'lobby' });
    return bot;
  }

  /** Sends a request and waits for its reply (result, ack or error). */
  async request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = `b${this.nextId++}`;
    this.ws.send(JSON.stringify({ ...req, id }));
    const reply = await this.waitFor((e) => e['id'] === id);
    if (reply['type'] === 'error') throw new Error(`bot request failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  /** Sends lines to a room, several in flight at once, and waits for every ack. */
  async say(room: string, texts: string[]): Promise<void> {
    const ids = texts.map((text) => {
      const id = `b${this.nextId++}`;
      this.ws.send(JSON.stringify({ type: 'send', id, room, cid: randomUUID(), text }));
      return id;
    });
    for (const id of ids) {
      const reply = await this.waitFor((e) => e['id'] === id);
      if (reply['type'] !== 'ack') throw new Error(`send failed: ${JSON.stringify(reply)}`);
    }
  }

  async waitFor(
    match: (e: Record<string, unknown>) => boolean,
    timeout = WAIT_MS,
  ): Promise<Record<string, unknown>> {
    const end = Date.now() + timeout;
    for (;;) {
      const hit = this.events.find(match);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`bot waited ${timeout} ms; got ${this.events.length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.ws.close();
  }
}

export interface PageServer {
  /** The server as first started; its page URL and port stay the same across restart(). */
  server: RunningServer;
  browser: Browser;
  /** Stops the server (with `code` for its clients); it stays down until restart(). */
  stop(code?: ServerStop): Promise<void>;
  /** Starts the server again on the same page port and data folder. */
  restart(): Promise<void>;
}

/** A fresh server and Chromium for one test; both are closed, and the data removed, after. */
export async function withPageServer(
  body: (ctx: PageServer) => Promise<void>,
  overrides: Partial<Config> = {},
): Promise<void> {
  assertPageBuilt();
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-browser-'));
  // The pages and the bots all come from 127.0.0.1; each connection keeps its default limits.
  const options = {
    wsPort: 0,
    httpPort: 0,
    host: '127.0.0.1',
    logLevel: 'warn',
    dataDir,
    ...LENIENT_ADDRESS_LIMITS,
    ...overrides,
  } as const;
  let server = await startParley(options);
  let running = true;
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const first = server;
    await body({
      server: first,
      browser,
      async stop(code) {
        await server.stop(code);
        running = false;
      },
      async restart() {
        server = await startParley({ ...options, httpPort: first.httpPort });
        running = true;
      },
    });
  } finally {
    await browser?.close();
    if (running) await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
