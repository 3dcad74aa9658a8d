// The page's port: the built page, the REST API, health checks. node:http is enough for a
// handful of GET routes, and it leaves the upgrade path entirely to the gateway.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatError, SEARCH_QUERY_MAX, httpError, type ErrorLike } from '../protocol/index.js';
import type { Chat, Reader } from '../core/index.js';
import type { Counter, Registry } from 'prom-client';
import type { HttpGuard } from './http-guard.js';

export const PUBLIC_DIR = fileURLToPath(new URL('../../dist/public/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
};

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

interface Asset {
  body: Buffer;
  type: string;
}

/** The built page, read once at start; a missing build is reported, not fatal. */
export function loadAssets(dir = PUBLIC_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(`/${name}`, { body: readFileSync(join(dir, name)), type });
  }
  const index = assets.get('/index.html');
  if (index) assets.set('/', index);
  // Browsers and tools that never read the page's <link rel="icon"> still ask for this path.
  const icon = assets.get('/favicon.svg');
  if (icon) assets.set('/favicon.ico', icon);
  return assets;
}

export interface HttpDeps {
  chat: Chat;
  metrics: Registry;
  assets: Map<string, Asset>;
  ready(): Promise<void>;
  guard: HttpGuard;
  /** Requests refused before any route, by reason. */
  refused: Counter<'reason'>;
  /** A peer refused for its rate, to be dropped at accept for this many seconds. */
  hold?(peer: string | undefined, seconds: number): void;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function fail(res: ServerResponse, e: ErrorLike): void {
  const { status, body } = httpError(e);
  if (e instanceof ChatError && e.retryAfterSeconds !== undefined) {
    res.setHeader('retry-after', String(e.retryAfterSeconds));
  }
  json(res, status, body);
}

/** A query parameter as a whole number, undefined when absent, null when malformed. */
function intParam(url: URL, name: string): number | undefined | null {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  return /^\d{1,15}$/.test(v) ? Number(v) : null;
}

export function createHttpHandler(deps: HttpDeps) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(deps, req, res).catch((e: unknown) => {
      if (!res.headersSent) fail(res, 'INTERNAL');
      else res.destroy(e instanceof Error ? e : undefined);
    });
  };
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { guard } = deps;
  const address = guard.addressOf(req);
  const verdict = guard.rate.take(address);
  if (!verdict.ok) {
    deps.refused.inc({ reason: 'rate' });
    res.setHeader('retry-after', String(verdict.retryAfterSeconds));
    // Closed after the answer: a kept-alive socket would bring its next request past the hold.
    res.setHeader('connection', 'close');
    deps.hold?.(req.socket.remoteAddress, verdict.retryAfterSeconds);
    return fail(res, new ChatError('RATE_LIMITED', 'Too many requests; slow down.'));
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return fail(res, 'METHOD_NOT_ALLOWED');
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/healthz') return json(res, 200, { status: 'ok' });
  if (!guard.hostAllowed(req.headers.host)) {
    deps.refused.inc({ reason: 'host' });
    return fail(res, 'HOST_NOT_ALLOWED');
  }
  if (path === '/readyz') {
    try {
      await deps.ready();
      return json(res, 200, { status: 'ready' });
    } catch (e) {
      // The reason names internals (hosts, ports, driver text): for the operator only.
      if (!guard.operator(req, address)) return json(res, 503, { status: 'unavailable' });
      return json(res, 503, {
        status: 'unavailable',
        reason: e instanceof Error ? e.message : String(e),
      });
    }
  }
  if (path === '/metrics') {
    if (!guard.operator(req, address)) {
      deps.refused.inc({ reason: 'metrics' });
      return fail(res, 'OPERATOR_ONLY');
    }
    return send(res, 200, deps.metrics.contentType, await deps.metrics.metrics());
  }
  if (path === '/api/rooms') {
    const limit = intParam(url, 'limit');
    const after = url.searchParams.get('after') ?? undefined;
    if (limit === null || (after !== undefined && after.length > 64)) {
      return fail(
        res,
        new ChatError('BAD_REQUEST', 'limit is a whole number; after is a room name.'),
      );
    }
    return json(res, 200, await deps.chat.roomList(await readerOf(deps.chat, req), after, limit));
  }
  if (path === '/api/search') {
    const q = url.searchParams.get('q') ?? '';
    const room = url.searchParams.get('room') ?? undefined;
    const before = url.searchParams.get('before') ?? undefined;
    const limit = intParam(url, 'limit');
    if (limit === null || q.length > SEARCH_QUERY_MAX) {
      return fail(res, new ChatError('BAD_REQUEST', 'q is the query; limit is a whole number.'));
    }
    try {
      const reader = await readerOf(deps.chat, req);
      return json(res, 200, await deps.chat.search(reader, address, q, room, before, limit));
    } catch (e) {
      if (e instanceof ChatError) return fail(res, e);
      throw e;
    }
  }
  const m = /^\/api\/rooms\/([^/]+)\/messages$/.exec(path);
  if (m) {
    const before = intParam(url, 'before');
    const limit = intParam(url, 'limit');
    if (before === null || limit === null) {
      return fail(res, new ChatError('BAD_REQUEST', 'before and limit are whole numbers.'));
    }
    let room: string;
    try {
      room = decodeURIComponent(m[1] ?? '');
    } catch {
      return fail(res, 'ROOM_INVALID');
    }
    try {
      const reader = await readerOf(deps.chat, req);
      const h = await deps.chat.httpHistory(reader, address, room, before, limit);
      return json(res, 200, { room: h.label, messages: h.messages, more: h.more });
    } catch (e) {
      if (e instanceof ChatError) return fail(res, e);
      throw e;
    }
  }
  const asset = deps.assets.get(path);
  if (asset) {
    // Revalidate every time: the files are small, and a new build must reach the service worker.
    res.setHeader('cache-control', 'no-cache');
    return send(res, 200, asset.type, asset.body);
  }
  if (path === '/' && deps.assets.size === 0) {
    return send(
      res,
      503,
      'text/plain; charset=utf-8',
      'The page is not built: run `npm run build`.\n',
    );
  }
  return fail(res, 'NOT_FOUND');
}

/** The person of an `Authorization: Bearer TOKEN` header (never a URL: URLs end up in logs). */
function readerOf(chat: Chat, req: IncomingMessage): Promise<Reader> {
  const m = /^Bearer ([\x21-\x7e]{16,128})$/.exec(req.headers.authorization ?? '');
  return chat.reader(m?.[1]);
}
