// The server's CPU for one WebSocket handshake: the plain `ws` loop's (a handshake and the
// welcome), Parley's (the same), and Parley's with a hello under a new name. Each server runs on
// core 0 and this client, pinned as below, on the other; the sides take turns, `--runs` times.
//
//   taskset -c 1 node --import tsx bench/handshakes.ts [--count N] [--runs N]   (after a build)
//
// A restart brings every connection back through this: at 19,000 connections it bounds what a
// way back from a crash can cost, whatever the server does after the handshake.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { canConnect, canPin, exited, freePort, sleep, spawnChild, tempDirs } from './processes.js';
import { readCpu } from './proc-stats.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '6000' }, runs: { type: 'string', default: '2' } },
});
const count = Number(values.count);
const runs = Number(values.runs);
/** Handshakes under way at once. */
const CONCURRENCY = 100;
/** People a source address: Parley's per-address limits are raised past it. */
const PER_ADDRESS = 200;

function addressOf(k: number): string {
  const n = Math.floor(k / PER_ADDRESS);
  return `127.0.${1 + Math.floor(n / 250)}.${2 + (n % 250)}`;
}

/** Resolves once the first frame (the welcome) has come, and with `hello`, its answer too. */
function connect(port: number, k: number, hello: boolean, open: WebSocket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      localAddress: addressOf(k),
      perMessageDeflate: false,
    });
    open.push(ws);
    ws.once('error', reject);
    ws.once('message', () => {
      if (!hello) return resolve();
      ws.send(JSON.stringify({ type: 'hello', id: 'h', name: `person${k}` }));
      ws.once('message', () => resolve());
    });
  });
}

async function measure(label: string, server: ChildProcess, port: number, hello: boolean) {
  for (let i = 0; i < 100 && !(await canConnect(port)); i++) await sleep(100);
  const pid = server.pid;
  if (pid === undefined || !(await canConnect(port))) throw new Error(`${label}: did not start`);
  const before = readCpu(pid);
  const open: WebSocket[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await connect(port, next++, hello, open);
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  await sleep(500);
  const after = readCpu(pid);
  const user = (after.userUs - before.userUs) / count;
  const sys = (after.sysUs - before.sysUs) / count;
  console.log(
    `${label.padEnd(28)} ${count} in ${wallS.toFixed(1)} s: ${(user + sys).toFixed(0)} µs of ` +
      `server CPU each (user ${user.toFixed(0)}, system ${sys.toFixed(0)})`,
  );
  for (const ws of open) ws.terminate();
  server.kill('SIGKILL');
  await exited(server);
}

const onCore0 = (argv: string[]) => spawnChild(argv, canPin ? 0 : undefined, ['ignore']);

function parley(port: number): ChildProcess {
  const dir = mkdtempSync(join(tmpdir(), 'parley-handshakes-'));
  tempDirs.push(dir);
  return onCore0([
    ...['node', 'dist/server/main.js', '--host', '127.0.0.1'],
    ...['--ws-port', String(port), '--http-port', '0', '--data-dir', dir],
    ...['--log-level', 'warn', '--guests', 'open', '--shed-lag-ms', '0'],
    ...['--connections-per-address', '1000', '--sockets-per-address', '1000'],
    ...['--address-handshakes', '1000000', '--address-names-per-hour', '1000000'],
  ]);
}

for (let r = 0; r < runs; r++) {
  let port = await freePort();
  const plain = ['node', '--import', 'tsx', 'bench/plain-ws-server.ts', '--port', String(port)];
  await measure('plain ws', onCore0(plain), port, false);
  for (const hello of [false, true]) {
    port = await freePort();
    const label = hello ? 'parley, and a new name' : 'parley';
    await measure(label, parley(port), port, hello);
  }
}
