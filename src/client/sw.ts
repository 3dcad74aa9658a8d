// The service worker keeps the page's shell (HTML, JS, CSS) so that a reload with the server
// away still shows the page and its pending sends (they live in IndexedDB). Network first:
// while the server answers, the page is always the fresh one; the cache only stands in when
// the network fails or hangs. Nothing else (WebSocket, REST, metrics) goes near it.

interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(r: Promise<Response>): void;
}
interface WorkerScope {
  readonly location: Location;
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
}

const sw = self as unknown as WorkerScope;
const CACHE = 'parley-shell-v1';
/** Past this the network counts as down when a cached copy can stand in. */
const NETWORK_WAIT_MS = 5000;
const base = new URL('./', sw.location.href);
const PAGE = base.href;
const SHELL = new Set([
  PAGE,
  ...['index.html', 'app.js', 'style.css'].map((p) => new URL(p, base).href),
]);

sw.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll([...SHELL]))
      .catch(() => {})
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  const path = url.origin + url.pathname;
  const key =
    req.mode === 'navigate' && (path === PAGE || path === `${PAGE}index.html`) ? PAGE : path;
  if (!SHELL.has(key)) return;
  e.respondWith(networkFirst(e, req, key));
});

async function networkFirst(e: FetchEvent, req: Request, key: string): Promise<Response> {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  const fresh = fetch(req).then((res) => {
    if (res.ok && res.type === 'basic') e.waitUntil(cache.put(key, res.clone()));
    return res;
  });
  fresh.catch(() => {});
  if (!cached) return fresh;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Response>((resolve) => {
    timer = setTimeout(() => resolve(cached), NETWORK_WAIT_MS);
  });
  try {
    return await Promise.race([fresh, late]);
  } catch {
    return cached;
  } finally {
    clearTimeout(timer);
  }
}
