// A full disk under SQLite, for real: the data folder is a small tmpfs. While it is full, sends
// are refused with STORE_UNAVAILABLE and /readyz says 503; once space is freed the same server,
// not restarted, takes sends again, its checkpoint thread copies the WAL back into the
// database, and /readyz says 200.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, tempDir, TestClient, type TestServer } from './helpers.js';
import type { ServerEvent } from '../src/protocol/index.js';

/** Writes a file until the disk refuses another byte. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const size of [1 << 16, 1 << 10, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function readyz(server: TestServer): Promise<number> {
  return (await fetch(`${server.httpUrl}/readyz`)).status;
}

/** The checkpoint thread's counts, from /metrics. */
async function checkpoints(server: TestServer): Promise<{ ok: number; failed: number }> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const count = (result: string) => {
    const m = new RegExp(
      `^parley_sqlite_checkpoints_total\\{result="${result}"\\} (\\d+)$`,
      'm',
    ).exec(text);
    if (!m) throw new Error(`no checkpoint count for ${result} in /metrics`);
    return Number(m[1]);
  };
  return { ok: count('ok'), failed: count('failed') };
}

async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test(
  'SQLite on a full disk: sends refused, not ready; space freed: both come back',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir('parley-full-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error('this test mounts a 3 MB tmpfs as its full disk: run it as root', {
        cause: err,
      });
    }
    let server: TestServer | undefined;
    try {
      server = await startTestServer({ dataDir: dir, rateBurst: 100_000, ratePerSecond: 100_000 });
      const db = join(dir, 'parley.db');
      const c = await TestClient.json(server);
      await c.event('welcome');
      await c.request({ type: 'hello', name: 'filler', token: 'disk-full-token-xxxxxxxx' });
      await c.request({ type: 'join', room: 'lobby' });
      let n = 0;
      const send = (text = 'x'.repeat(8000)): Promise<ServerEvent> =>
        c.request({ type: 'send', room: 'lobby', cid: `c${++n}`, text }, 20_000);
      assert.equal((await send('before')).type, 'ack');
      assert.equal(await readyz(server), 200);

      fill(join(dir, 'filler'));
      let refused: ServerEvent | undefined;
      for (let i = 0; i < 500 && !refused; i++) {
        const r = await send();
        if (r.type === 'error') refused = r;
      }
      assert.ok(refused?.type === 'error', 'no send was refused on a full disk');
      assert.equal(refused.code, 'STORE_UNAVAILABLE');
      assert.equal((await send()).type, 'error', 'a send was accepted on a full disk');
      await until('/readyz to say 503', async () => (await readyz(server as TestServer)) === 503);
      // The checkpoint thread meets the full disk too.
      await until(
        'a checkpoint to fail',
        async () => (await checkpoints(server as TestServer)).failed > 0,
      );
      const sizeWhenFull = statSync(db).size;
      const { ok } = await checkpoints(server);

      rmSync(join(dir, 'filler'));
      await until('a send to be accepted again', async () => (await send()).type === 'ack');
      await until('/readyz to say 200', async () => (await readyz(server as TestServer)) === 200);
      // The checkpoint thread runs again: the WAL's pages reach the database file.
      await until(
        'a checkpoint to succeed',
        async () => (await checkpoints(server as TestServer)).ok > ok,
      );
      await until(
        'the checkpoint to grow the database',
        async () => statSync(db).size > sizeWhenFull,
      );
      const history = await c.request({ type: 'history', room: 'lobby', limit: 1 });
      assert.equal(history.type, 'result');
      c.close();
    } finally {
      await server?.stop().catch(() => {});
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
