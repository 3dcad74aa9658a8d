// The bench's command line: its flags, their defaults and the help text.

import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resultsDir } from './paths.js';
import { distIsFresh } from './snapshot.js';

export interface Options {
  quick: boolean;
  scenarios: string[];
  servers: ServerKind[];
  windows: number;
  windowMs: number;
  warmupMs: number;
  serverFrom: 'dist' | 'src';
  profile: boolean;
  pin: boolean;
  idleProtocol: 'text' | 'json';
  client: 'raw' | 'ws';
  gatherMs: number;
  parleyArgs: string[];
  maxWaitPct: number;
  retries: number;
  out: string;
  deadlineS: number;
  /** The cluster scenario's PostgreSQL database (each side gets a fresh schema in it). */
  postgres: string;
  /** The cluster scenario's Redis (each side gets a fresh pub/sub channel on it). */
  redis: string;
}

export type ServerKind = 'parley' | 'plain' | 'prefab' | 'ws' | 'net';

/** The floor servers: they hold connections and deliver nothing, for the idle scenarios. */
export const FLOOR_KINDS: readonly ServerKind[] = ['ws', 'net'];

const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

export const USAGE = `usage: node --import tsx bench/run.ts [options]
  --quick                  smaller scenarios and shorter windows (about 3-4 minutes)
  --scenario NAME[,NAME]   run only these (prefixes work): ${'one-room-2000, one-room-1000, rooms-50x40, rooms-50x40-2000,'}
                           idle-10000, idle-19000, cluster-2,
                           slow-base, slow-stalled (--scenario slow runs both), attack
                           (bench/attack.ts: one hostile address, default limits, bystanders)
                           logins (bench/logins.ts: 50 logins/s, default limits, bystanders)
                           (cluster-2: Parley on PostgreSQL + Redis, 1 node against 2 nodes;
                           --scenario cluster runs only it)
  --servers parley,plain   which servers to run (default both); add prefab for the reference
                           server bench/prefab-ws-server.ts (pre-framed, one write per turn)
                           (idle scenarios only) ws and net, the floors of bench/floor-server.ts:
                           a bare ws server, and a bare net server that answers the upgrade
                           by hand (idle-19000 runs both whatever this says)
  --gather-ms N            prefab only: coalesce for N ms before writing (default 0: per turn)
  --parley-args "ARGS"     more flags for Parley, e.g. "--sqlite-synchronous NORMAL"
  --windows N              measured windows per scenario and server (default 3)
  --window-ms MS           length of one measured window (default 10000, quick 3000)
  --server-from dist|src   Parley from dist/ (built) or src/ through tsx (default: dist when fresh)
  --profile                add one more window per server under the V8 CPU profiler, left out of
                           the medians; profiles go to bench/results/prof/
  --idle-protocol text|json  how idle clients connect to Parley: text (default) lands in the
                           lobby, as the plain server's clients are all in its broadcast set;
                           json asks for the parley.v1 subprotocol and joins nothing
  --client ws|raw          load-generator clients: the ws package's client (default), or raw:
                           frames walked in place on a plain socket (same cost here: the
                           kernel and Node's socket reads dominate)
  --max-wait-pct P         a window in which the server or the load generator waited for a CPU
                           (other processes' turn) more than P% of the time is run again
                           (default 20; the machine is shared)
  --retries N              at most N such re-runs per scenario and server (default 3)
  --no-pin                 do not pin the processes to cores
  --postgres URL           cluster-2's database; each side gets a fresh schema there, dropped
                           at the end (default $PARLEY_TEST_POSTGRES or
                           ${DEFAULT_POSTGRES})
  --redis URL              cluster-2's Redis; each side gets a fresh channel (default
                           $PARLEY_TEST_REDIS or ${DEFAULT_REDIS})
  --out FILE               JSON results (default bench/results/latest.json)`;

/** Every flag; the switches take no value. `--deadline-s` is for scripts and left out of the help. */
const FLAGS = {
  quick: { type: 'boolean' },
  profile: { type: 'boolean' },
  'no-pin': { type: 'boolean' },
  help: { type: 'boolean' },
  scenario: { type: 'string' },
  servers: { type: 'string' },
  windows: { type: 'string' },
  'window-ms': { type: 'string' },
  'server-from': { type: 'string' },
  'idle-protocol': { type: 'string' },
  client: { type: 'string' },
  'gather-ms': { type: 'string' },
  'parley-args': { type: 'string' },
  'max-wait-pct': { type: 'string' },
  retries: { type: 'string' },
  out: { type: 'string' },
  'deadline-s': { type: 'string' },
  postgres: { type: 'string' },
  redis: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Flag = keyof typeof FLAGS;

const isFlag = (name: string): name is Flag => Object.hasOwn(FLAGS, name);

/**
 * The flags given, by name. parseArgs runs lenient so that a value may start with a dash (as
 * `--retries -1`, refused below for its number, not for its dash) and so that the errors name
 * the argument as given.
 */
function readFlags(argv: string[]): Map<Flag, string | true> {
  const { tokens } = parseArgs({
    args: argv,
    options: FLAGS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const given = new Map<Flag, string | true>();
  for (const t of tokens) {
    if (t.kind === 'positional') throw new Error(`unknown option ${t.value}`);
    if (t.kind === 'option-terminator') throw new Error('unknown option --');
    if (!isFlag(t.name)) throw new Error(`unknown option ${t.rawName}`);
    if (FLAGS[t.name].type === 'boolean') {
      if (t.inlineValue) throw new Error(`${t.rawName} takes no value`);
      given.set(t.name, true);
    } else {
      if (t.value === undefined) throw new Error(`${t.rawName} needs a value`);
      given.set(t.name, t.value);
    }
  }
  return given;
}

export function parseOptions(argv: string[]): Options {
  const given = readFlags(argv);
  if (given.has('help')) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = given.has('quick');
  const value = (flag: Flag): string | undefined => {
    const v = given.get(flag);
    return typeof v === 'string' ? v : undefined;
  };
  const int = (flag: Flag, dflt: number, min = 1): number => {
    const v = value(flag);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min)
      throw new Error(`--${flag}: expected a whole number of at least ${min}`);
    return Number(v);
  };
  const servers = (value('servers') ?? 'parley,plain').split(',');
  for (const s of servers)
    if (!['parley', 'plain', 'prefab', ...FLOOR_KINDS].includes(s))
      throw new Error(`unknown server ${s}`);
  const from = value('server-from');
  if (from !== undefined && from !== 'dist' && from !== 'src')
    throw new Error('--server-from: dist or src');
  const idle = value('idle-protocol') ?? 'text';
  if (idle !== 'text' && idle !== 'json') throw new Error('--idle-protocol: text or json');
  const client = value('client') ?? 'ws';
  if (client !== 'raw' && client !== 'ws') throw new Error('--client: raw or ws');
  return {
    quick,
    scenarios: (value('scenario') ?? '').split(',').filter(Boolean),
    servers: servers as ServerKind[],
    windows: int('windows', 3),
    windowMs: int('window-ms', quick ? 3000 : 10_000),
    warmupMs: quick ? 1000 : 3000,
    serverFrom: from ?? (distIsFresh() ? 'dist' : 'src'),
    profile: given.has('profile'),
    pin: !given.has('no-pin'),
    idleProtocol: idle,
    client,
    gatherMs: int('gather-ms', 0, 0),
    parleyArgs: (value('parley-args') ?? '').split(/\s+/).filter(Boolean),
    maxWaitPct: int('max-wait-pct', 20),
    retries: int('retries', 3, 0),
    out: value('out') ?? join(resultsDir, 'latest.json'),
    deadlineS: int('deadline-s', quick ? 600 : 1800),
    postgres: value('postgres') ?? process.env.PARLEY_TEST_POSTGRES ?? DEFAULT_POSTGRES,
    redis: value('redis') ?? process.env.PARLEY_TEST_REDIS ?? DEFAULT_REDIS,
  };
}
