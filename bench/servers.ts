// Starting the processes of one side: a server under test (Parley, plain or prefab, or one
// cluster node) and its load generator.

import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { redactArg } from './format.js';
import { hook, root, runDir, snapshotDir } from './paths.js';
import type { Options, ServerKind } from './options.js';
import type { Scenario } from './scenarios.js';
import { canConnect, exited, freePort, Rpc, sleep, spawnChild } from './processes.js';

export interface ServerUnderTest {
  kind: ServerKind;
  proc: ChildProcess;
  pid: number;
  url: string;
  /** Parley's /metrics. */
  metricsUrl?: string;
  rpc: Rpc;
  command: string;
}

export async function startServer(
  kind: ServerKind,
  sc: Scenario,
  opts: Options,
  logFile: string,
  /** The core to pin it to, if any, and more flags (the cluster scenario's store and bus). */
  place: { core: number | undefined; args: string[] },
): Promise<ServerUnderTest> {
  for (let attempt = 1; ; attempt++) {
    const wsPort = await freePort();
    let argv: string[];
    let metricsUrl: string | undefined;
    if (kind === 'parley') {
      const httpPort = await freePort();
      metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
      const data = mkdtempSync(join(runDir, 'data-'));
      const entry =
        opts.serverFrom === 'dist'
          ? [join(snapshotDir, 'dist', 'server', 'main.js')]
          : ['--import', 'tsx', join(snapshotDir, 'src', 'server', 'main.ts')];
      argv = [
        'node',
        '--expose-gc',
        '--import',
        hook,
        ...entry,
        ...['--host', '127.0.0.1', '--http-port', String(httpPort), '--ws-port', String(wsPort)],
        ...['--data-dir', data, '--log-level', 'warn'],
        ...['--rate', '100000', '--rate-burst', '100000', '--connections-per-address', '100000'],
        ...['--sockets-per-address', '100000'],
        // Every load client comes from 127.0.0.1: the limits per address would refuse the load.
        ...['--address-rate', '100000', '--address-rate-burst', '100000'],
        ...['--address-handshakes', '100000', '--address-joins', '100000'],
        ...['--address-names-per-hour', '100000', '--address-rooms-per-hour', '100000'],
        ...['--rooms-per-hour', '100000', '--address-bytes-per-hour', '100000000000'],
        // Load clients are guests that make their rooms (a baseline from before accounts had
        // no such setting, and let them).
        ...(knowsSetting(snapshotDir, 'guests') ? ['--guests', 'open'] : []),
        ...place.args,
        ...opts.parleyArgs,
      ];
    } else {
      argv = ['node', '--expose-gc', '--import', hook, '--import', 'tsx'];
      if (kind === 'net' || kind === 'ws')
        argv.push('bench/floor-server.ts', '--mode', kind, '--port', String(wsPort));
      else argv.push(`bench/${kind}-ws-server.ts`, '--port', String(wsPort));
      if (sc.rooms > 0) argv.push('--rooms');
      if (kind === 'prefab') argv.push('--gather-ms', String(opts.gatherMs));
    }
    const log = openSync(logFile, 'a');
    const proc = spawnChild(argv, place.core, ['ignore', log, log, 'ipc']);
    closeSync(log);
    const rpc = new Rpc(proc, kind);
    const deadline = performance.now() + 30_000;
    let up = false;
    while (!rpc.exited && performance.now() < deadline) {
      if (await canConnect(wsPort)) {
        up = true;
        break;
      }
      await sleep(100);
    }
    if (up && proc.pid !== undefined) {
      const comm = readFileSync(`/proc/${proc.pid}/comm`, 'utf8').trim();
      if (comm !== 'node') throw new Error(`${kind}: pid ${proc.pid} is ${comm}, not node`);
      return {
        kind,
        proc,
        pid: proc.pid,
        url: `ws://127.0.0.1:${wsPort}`,
        ...(metricsUrl ? { metricsUrl } : {}),
        rpc,
        command: argv.map((a) => redactArg(a.startsWith(root) ? relative(root, a) : a)).join(' '),
      };
    }
    proc.kill('SIGKILL');
    await exited(proc);
    if (attempt >= 3) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`${kind} did not start (see ${relative(root, logFile)}):\n${tail}`);
    }
  }
}

export async function startLoadgen(core: number | undefined): Promise<Rpc> {
  const proc = spawnChild(['node', '--import', 'tsx', 'bench/loadgen.ts'], core, [
    'ignore',
    'inherit',
    'inherit',
    'ipc',
  ]);
  const rpc = new Rpc(proc, 'loadgen');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('loadgen did not start')), 30_000);
    proc.on('message', (m: { ready?: boolean }) => {
      if (m.ready) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', () => reject(new Error('loadgen exited at start')));
  });
  return rpc;
}

/**
 * Whether the Parley at `dir` has the setting (its config names the flag), from whichever copy
 * the snapshot holds: dist/ (the usual) or src/.
 */
function knowsSetting(dir: string, flag: string): boolean {
  for (const file of [join('dist', 'server', 'config.js'), join('src', 'server', 'config.ts')]) {
    try {
      if (readFileSync(join(dir, file), 'utf8').includes(`flag: '${flag}'`)) return true;
    } catch {
      // not in this copy
    }
  }
  return false;
}
