// Starting the server: a port already in use is named with the setting that changes it, and
// the page has an icon.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { startTestServer, tempDir } from './helpers.js';
import { serverCommand } from './server-command.js';

/** A port held by a listener of the test's own until it is released. */
async function busyPort(): Promise<{ port: number; release(): Promise<void> }> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (s.address() as net.AddressInfo).port,
    release: () => new Promise((r) => s.close(() => r())),
  };
}

/** Runs `npm start`'s entry point to its exit; returns the exit code and what it wrote to stderr. */
function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...serverCommand(), '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

test('a page port in use stops the start with exit code 2, naming the port and its setting', async () => {
  const busy = await busyPort();
  const dataDir = tempDir();
  try {
    const r = await run([
      '--http-port',
      String(busy.port),
      '--ws-port',
      '0',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`port ${busy.port} `));
    assert.match(r.stderr, /--http-port/);
    assert.match(r.stderr, /PARLEY_HTTP_PORT/);
  } finally {
    await busy.release();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a WebSocket port in use stops the start with exit code 2, naming the port and its setting', async () => {
  const busy = await busyPort();
  const dataDir = tempDir();
  try {
    const r = await run([
      '--http-port',
      '0',
      '--ws-port',
      String(busy.port),
      '--data-dir',
      dataDir,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`port ${busy.port} `));
    assert.match(r.stderr, /--ws-port/);
    assert.match(r.stderr, /PARLEY_WS_PORT/);
    assert.doesNotMatch(r.stderr, /--http-port/);
  } finally {
    await busy.release();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the page links an SVG icon, served with its type at its path and at /favicon.ico', async () => {
  const server = await startTestServer();
  try {
    const page = await (await fetch(`${server.httpUrl}/`)).text();
    const href = /<link rel="icon" href="([^"]+)" type="image\/svg\+xml"/.exec(page)?.[1];
    assert.ok(href, 'the page links an icon');
    for (const path of [`/${href}`, '/favicon.ico']) {
      const res = await fetch(`${server.httpUrl}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'image/svg+xml', path);
      assert.ok(res.headers.get('content-security-policy'), 'the CSP is sent with it');
      assert.match(await res.text(), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    }
  } finally {
    await server.dispose();
  }
});
