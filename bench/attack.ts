// `npm run bench -- --scenario attack`: what one hostile address does to everyone else on a
// Parley with default settings. Bystanders (20 plain-text clients in the lobby, each from an
// address of its own) talk at 40 messages a second; each attack runs from 127.0.0.1 in its own
// process for one window, between two quiet windows of the same bystander traffic. For each
// attack it prints the bystanders' latency with and without it, what the attacker got through,
// and whether the server stayed up, the bystanders lost anything or were refused.
//
//   node --import tsx bench/attack.ts [--quick] [--attack NAME[,NAME]] [--window-ms MS]
//        [--pairs N] [--out FILE] [--cpu-prof DIR] [--floor]
//
// Each pair runs its two windows in turn, the quiet one first in even pairs and second in odd
// ones, so a drift in the machine's load does not always favour the same side. --floor aims the
// attacks at a sink beside Parley instead (see bench/attacker.ts): what they cost the bystanders
// then is the floor this machine sets, whatever the server does. The attack `none` does
// nothing: its ratio is how far apart two windows without any attack fall on this machine.
// bench/run.ts starts this on core 1 (the server runs on core 0, the attacker at nice 19).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { Attack, AttackResult } from './attacker.js';
import { BYSTANDERS, Bystanders, EACH_PER_SECOND } from './bystanders.js';
import { readCpu, readRssKiB } from './proc-stats.js';
import { freePort, sleep } from './processes.js';
import { median } from './stats.js';

/** Milliseconds of CPU (user and system) a process has used. */
function cpuMs(pid: number): number {
  const { userUs, sysUs } = readCpu(pid);
  return (userUs + sysUs) / 1000;
}

const ATTACKS: Attack[] = [
  'none',
  'reconnect',
  'join-part',
  'names',
  'rooms',
  'big-messages',
  'http-history',
  'half-open',
];
const root = fileURLToPath(new URL('..', import.meta.url));
const TARGET_RATIO = 1.2;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    attack: { type: 'string' },
    'window-ms': { type: 'string' },
    pairs: { type: 'string' },
    out: { type: 'string', default: join(root, 'bench', 'results', 'attack.json') },
    scenario: { type: 'string' },
    'cpu-prof': { type: 'string' },
    floor: { type: 'boolean', default: false },
  },
  strict: false,
});
const quick = args.quick === true;
const windowMs = Number(args['window-ms'] ?? (quick ? 4000 : 6000));
const pairs = Number(args.pairs ?? (quick ? 1 : 2));
const chosen = typeof args.attack === 'string' ? (args.attack.split(',') as Attack[]) : ATTACKS;
for (const a of chosen) if (!ATTACKS.includes(a)) throw new Error(`unknown attack ${a}`);

const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
const children = new Set<ChildProcess>();
function pinned(core: number, cmd: string[], nice = 0): [string, string[]] {
  const niced = nice ? ['nice', '-n', String(nice), ...cmd] : cmd;
  const full = hasTaskset ? ['taskset', '-c', String(core), ...niced] : niced;
  return [full[0] ?? 'node', full.slice(1)];
}

function httpStatus(port: number, path: string, localAddress: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, localAddress, agent: false, timeout: 2000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function dirMiB(dir: string): number {
  let bytes = 0;
  for (const f of readdirSync(dir)) bytes += statSync(join(dir, f)).size;
  return bytes / 2 ** 20;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface WindowStats {
  p50: number;
  p99: number;
  deliveries: number;
  missing: number;
  refused: number;
  presencePerS: number;
  handshakeOk: number;
  handshakeTried: number;
  healthOk: number;
  healthTried: number;
  serverCpuPct: number;
  serverRssMiB: number;
  storeGrowthMiB: number;
  serverAlive: boolean;
}

/** Fresh handshakes and health checks from a bystander's address while the window runs. */
async function probe(httpPort: number, wsPort: number, until: number) {
  let handshakeOk = 0;
  let handshakeTried = 0;
  let healthOk = 0;
  let healthTried = 0;
  while (Date.now() < until) {
    handshakeTried++;
    const ok = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`, {
        localAddress: '127.0.0.200',
        handshakeTimeout: 2000,
      });
      ws.once('open', () => {
        ws.close();
        resolve(true);
      });
      ws.once('error', () => resolve(false));
    });
    if (ok) handshakeOk++;
    healthTried++;
    if ((await httpStatus(httpPort, '/healthz', '127.0.0.201')) === 200) healthOk++;
    await sleep(500);
  }
  return { handshakeOk, handshakeTried, healthOk, healthTried };
}

/** Where the attacks go: Parley's ports, or the sink's with --floor. */
interface Target {
  httpPort: number;
  wsPort: number;
}

async function measure(
  server: ChildProcess,
  dataDir: string,
  httpPort: number,
  wsPort: number,
  bystanders: Bystanders,
  attack: Attack | undefined,
  target: Target = { httpPort, wsPort },
): Promise<{ stats: WindowStats; attacker?: AttackResult }> {
  const pid = server.pid ?? 0;
  const cpu0 = cpuMs(pid);
  const disk0 = dirMiB(dataDir);
  const t0 = performance.now();
  bystanders.start();
  let attacker: Promise<AttackResult | undefined> = Promise.resolve(undefined);
  if (attack) {
    const [cmd, argv] = pinned(
      1,
      [
        process.execPath,
        '--import',
        'tsx',
        join(root, 'bench', 'attacker.ts'),
        attack,
        String(target.httpPort),
        String(target.wsPort),
        String(windowMs),
      ],
      19,
    );
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    attacker = new Promise((resolve) =>
      child.on('exit', () => {
        children.delete(child);
        try {
          resolve(JSON.parse(out) as AttackResult);
        } catch {
          resolve(undefined);
        }
      }),
    );
  }
  const probes = probe(httpPort, wsPort, Date.now() + windowMs);
  await sleep(windowMs);
  bystanders.halt();
  const elapsed = performance.now() - t0;
  const cpu1 = cpuMs(pid);
  const rss = readRssKiB(pid) / 1024;
  // Let what was sent in the window arrive before counting what is missing.
  await sleep(3000);
  const got = bystanders.collect();
  const p = await probes;
  const a = await attacker;
  const alive =
    server.exitCode === null && (await httpStatus(httpPort, '/healthz', '127.0.0.202')) === 200;
  const sorted = got.latencies;
  return {
    stats: {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      deliveries: sorted.length,
      missing: got.missing,
      refused: got.refused,
      presencePerS: (got.presence / BYSTANDERS / elapsed) * 1000,
      ...p,
      serverCpuPct: ((cpu1 - cpu0) / elapsed) * 100,
      serverRssMiB: rss,
      storeGrowthMiB: dirMiB(dataDir) - disk0,
      serverAlive: alive,
    },
    attacker: a,
  };
}

function effect(a: AttackResult | undefined, s: WindowStats): string {
  if (!a) return 'attacker failed to report';
  const perS = (n: number) => Math.round((n / windowMs) * 1000);
  switch (a.attack) {
    case 'none':
      return 'no attack: the two windows differ by what the machine does alone';
    case 'reconnect':
      return `${perS(a.connected)} handshakes/s accepted, ${perS(a.refusedHandshakes)}/s refused; ${perS(a.sent)} lines/s sent, ${perS(a.refusals)}/s refused`;
    case 'join-part':
      return `${perS(a.sent)} joins+parts/s sent, ${perS(a.refusals)}/s refused; bystanders saw ${s.presencePerS.toFixed(0)} presence lines/s each`;
    case 'names':
      return `${perS(a.names)} names/s taken (${a.names} in all), ${perS(a.refusals)}/s refused`;
    case 'rooms':
      return `${perS(a.sent / 2)} room joins/s, ${perS(a.httpOk)} lists/s served (${(a.httpBytes / 2 ** 20).toFixed(1)} MiB), ${perS(a.httpRefused)}/s refused`;
    case 'big-messages':
      return `${perS(a.sent)} 16 KiB lines/s sent, ${perS(a.refusals)}/s refused; store grew ${s.storeGrowthMiB.toFixed(1)} MiB`;
    case 'http-history':
      return `${perS(a.httpOk)} pages/s served, ${((a.httpBytes / 2 ** 20 / windowMs) * 1000).toFixed(1)} MiB/s, ${perS(a.httpRefused)}/s refused`;
    case 'half-open':
      return `held ${a.heldSockets} idle sockets; ${perS(a.refusedHandshakes)} sockets/s reset`;
    default:
      return '';
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-attack-'));
  const httpPort = await freePort();
  const wsPort = await freePort();
  const profileDir = typeof args['cpu-prof'] === 'string' ? args['cpu-prof'] : undefined;
  const [cmd, argv] = pinned(0, [
    process.execPath,
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    join(root, 'dist', 'server', 'main.js'),
    '--host',
    '127.0.0.1',
    '--http-port',
    String(httpPort),
    '--ws-port',
    String(wsPort),
    '--data-dir',
    dataDir,
    '--log-level',
    'error',
  ]);
  // Default limits: the point is what they hold against.
  const server = spawn('bash', ['-c', `ulimit -n $(ulimit -Hn); exec "$@"`, 'bash', cmd, ...argv], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(server);
  for (let i = 0; i < 100 && (await httpStatus(httpPort, '/healthz', '127.0.0.1')) !== 200; i++)
    await sleep(100);
  let target: Target = { httpPort, wsPort };
  if (args.floor === true) {
    target = { httpPort: await freePort(), wsPort: await freePort() };
    const [sinkCmd, sinkArgv] = pinned(0, [
      process.execPath,
      '--import',
      'tsx',
      join(root, 'bench', 'attacker.ts'),
      'sink',
      String(target.httpPort),
      String(target.wsPort),
    ]);
    const sink = spawn(
      'bash',
      ['-c', `ulimit -n $(ulimit -Hn); exec "$@"`, 'bash', sinkCmd, ...sinkArgv],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.add(sink);
    await new Promise<void>((resolve) => sink.stdout.once('data', () => resolve()));
  }
  const bystanders = new Bystanders(wsPort);
  await bystanders.connect();
  console.log(
    `attack: Parley with default limits (core 0); ${BYSTANDERS} bystanders in the lobby at ` +
      `${BYSTANDERS * EACH_PER_SECOND} msg/s; each attack from 127.0.0.1 for ${windowMs / 1000} s ` +
      `beside a quiet window, ${pairs} pair(s); target: bystanders' p99 within ${TARGET_RATIO}x` +
      (args.floor === true ? '; the attacks aim at a sink (the floor), not at Parley' : ''),
  );
  const rows: Record<string, unknown>[] = [];
  for (const attack of chosen) {
    const ratios: number[] = [];
    const quietP99: number[] = [];
    const attackedP99: number[] = [];
    let last: { stats: WindowStats; attacker?: AttackResult } | undefined;
    let worst = { missing: 0, refused: 0, alive: true, handshakeFail: 0, healthFail: 0 };
    for (let p = 0; p < pairs; p++) {
      const window = (a: Attack | undefined) =>
        measure(server, dataDir, httpPort, wsPort, bystanders, a, target);
      let quiet;
      let hit;
      if (p % 2 === 0) {
        quiet = await window(undefined);
        hit = await window(attack);
        // What the attack left queued drains before the next quiet window.
        await sleep(3000);
      } else {
        await sleep(3000);
        hit = await window(attack);
        await sleep(3000);
        quiet = await window(undefined);
      }
      quietP99.push(quiet.stats.p99);
      attackedP99.push(hit.stats.p99);
      ratios.push(hit.stats.p99 / quiet.stats.p99);
      last = hit;
      worst = {
        missing: worst.missing + hit.stats.missing,
        refused: worst.refused + hit.stats.refused,
        alive: worst.alive && hit.stats.serverAlive,
        handshakeFail: worst.handshakeFail + hit.stats.handshakeTried - hit.stats.handshakeOk,
        healthFail: worst.healthFail + hit.stats.healthTried - hit.stats.healthOk,
      };
      if (!hit.stats.serverAlive) break;
    }
    const ratio = median(ratios);
    const met = ratio <= TARGET_RATIO && worst.missing === 0 && worst.alive;
    const line =
      `  ${attack.padEnd(13)} p99 ${median(quietP99).toFixed(1)} -> ${median(attackedP99).toFixed(1)} ms ` +
      `(${ratio.toFixed(2)}x${met ? '' : ', MISSED'}); bystanders missing ${worst.missing}, refused ${worst.refused}, ` +
      `fresh handshakes failed ${worst.handshakeFail}, /healthz failed ${worst.healthFail}; ` +
      `server ${worst.alive ? 'up' : 'DOWN'}, ${last?.stats.serverCpuPct.toFixed(0)}% CPU; ` +
      (last ? effect(last.attacker, last.stats) : '');
    console.log(line);
    rows.push({ attack, ratio, ratios, quietP99, attackedP99, ...worst, met, last });
    if (!worst.alive) break;
  }
  bystanders.close();
  if (profileDir) {
    // A profile is written when the process exits on its own.
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  } else server.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(join(String(args.out), '..'), { recursive: true });
  writeFileSync(String(args.out), JSON.stringify({ windowMs, pairs, rows }, null, 2) + '\n');
  console.log(`attack: results in ${String(args.out)}`);
}

process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error('attack: failed:', e);
    process.exit(1);
  },
);
