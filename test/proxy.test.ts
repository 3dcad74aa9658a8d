// Parley behind a real nginx: every connection reaches Parley from the proxy's address, so the
// per-address limits must key on the forwarded address, and only a trusted proxy's word counts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { TestClient, tempDir, waitFor } from './helpers.js';
import { httpGet } from './http-helpers.js';
import { startNginx, type Nginx } from './nginx.js';
import { startParley, type RunningServer } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';

let parley: RunningServer | undefined;
const dataDir = tempDir();
let nginx: Nginx | undefined;
const lines: string[] = [];

before(async () => {
  parley = await startParley(
    {
      host: '127.0.0.1',
      httpPort: 0,
      wsPort: 0,
      dataDir,
      // nginx reaches Parley from 127.0.0.1; the clients come from 127.0.0.2 and up.
      trustProxy: ['127.0.0.1'],
      httpRateBurst: 5,
      httpRatePerSecond: 1,
    },
    createLogger('info', (l) => lines.push(l)),
  );
  nginx = await startNginx(parley.httpPort);
});
// Whatever did start is stopped, so that a missing nginx fails these tests instead of leaving
// the process waiting on an open server.
after(async () => {
  await nginx?.stop();
  await parley?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function proxyPort(): number {
  if (!nginx) throw new Error('nginx did not start');
  return nginx.port;
}
const through = () => `ws://127.0.0.1:${proxyPort()}/ws`;

test('60 people through the proxy are not locked out by the connections-per-address limit', async () => {
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < 60; i++) {
      const c = await TestClient.open(through(), undefined, { localAddress: `127.0.0.${2 + i}` });
      clients.push(c);
      assert.equal(await c.next(), 'Welcome to the chat!!!', `client ${i}`);
    }
    const connects = lines
      .map((l) => JSON.parse(l) as { event: string; address?: string })
      .filter((e) => e.event === 'connect')
      .map((e) => e.address);
    assert.ok(
      connects.includes('127.0.0.2') && connects.includes('127.0.0.61'),
      'logged by client',
    );
    assert.ok(!connects.includes('127.0.0.1'), 'never by the proxy');
  } finally {
    for (const c of clients) c.close();
  }
  await waitFor(() => clients.every((c) => c.closeCode !== undefined), 'closes');
});

test('one address through the proxy is still limited, and a forged header does not help it', async () => {
  const mine: TestClient[] = [];
  try {
    let refusal: unknown;
    for (let i = 0; i < 55 && !refusal; i++) {
      await TestClient.open(through(), undefined, {
        localAddress: '127.0.0.100',
        headers: { 'x-forwarded-for': `198.51.100.${i}` },
      }).then(
        (c) => mine.push(c),
        (e: unknown) => (refusal = e),
      );
    }
    assert.match(String(refusal), /429/);
    assert.equal(mine.length, 50, 'exactly --connections-per-address let in');
    const other = await TestClient.open(through(), undefined, { localAddress: '127.0.0.101' });
    assert.equal(await other.next(), 'Welcome to the chat!!!');
    other.close();
  } finally {
    for (const c of mine) c.close();
  }
});

test('the HTTP rate limit holds per forwarded address through the proxy', async () => {
  const flood = async (from: string, headers: Record<string, string> = {}) => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await httpGet(proxyPort(), '/api/rooms', { from, headers })).status);
    }
    return statuses;
  };
  const attacker = await flood('127.0.0.150', { 'x-forwarded-for': '203.0.113.1' });
  assert.ok(attacker.includes(429), attacker.join(' '));
  // Naming the attacker's address in a forged header does not spend the attacker's bucket...
  const bystander = await httpGet(proxyPort(), '/api/rooms', {
    from: '127.0.0.151',
    headers: { 'x-forwarded-for': '127.0.0.150' },
  });
  assert.equal(bystander.status, 200);
  // ...nor does a fresh forged address refill it.
  const again = await httpGet(proxyPort(), '/api/rooms', {
    from: '127.0.0.150',
    headers: { 'x-forwarded-for': '203.0.113.99' },
  });
  assert.equal(again.status, 429);
  assert.equal((await httpGet(proxyPort(), '/healthz', { from: '127.0.0.152' })).status, 200);
});
