// `npm run admin -- COMMAND`: the operator's command line. It opens the store the server uses
// (the same settings: --store, --data-dir, PARLEY_STORE...) beside the running server, a second
// SQLite connection in WAL mode or one more PostgreSQL client, and changes it through the
// Directory; the audit log carries each change to every node.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../store/open-store.js';
import type { MessageStore } from '../store/types.js';
import { schemeOf } from '../shared/url.js';
import { AdminError, COMMANDS, HELP } from './admin-commands.js';
import { ConfigError, SETTINGS, loadConfig, type Config } from './config.js';

export interface AdminOutput {
  out(line: string): void;
  err(line: string): void;
}

const processOutput: AdminOutput = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

const SETTING_FLAGS = new Set(SETTINGS.map((s) => s.flag));

/** Splits the server's settings (with their values) from the command and its arguments. */
export function splitArgs(argv: string[]): { settings: string[]; command: string[] } {
  const settings: string[] = [];
  const command: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const flag = a.startsWith('--') ? a.slice(2).split('=')[0] : undefined;
    if (flag !== undefined && SETTING_FLAGS.has(flag)) {
      settings.push(a);
      if (!a.includes('=') && i + 1 < argv.length) settings.push(argv[++i] ?? '');
    } else command.push(a);
  }
  return { settings, command };
}

/** The page's address as people reach it, as the server prints it in its links. */
export function pageUrl(config: Config): string {
  if (config.publicUrl) return config.publicUrl;
  const h = config.host;
  const host = !h || h === '0.0.0.0' || h === '::' ? 'localhost' : h.includes(':') ? `[${h}]` : h;
  return `http://${host}:${config.httpPort}`;
}

/** The file of a SQLite store URL, or undefined for PostgreSQL. */
function sqliteFile(url: string): string | undefined {
  const scheme = schemeOf(url);
  if (scheme === undefined || scheme.length === 1) return url;
  if (scheme !== 'sqlite') return undefined;
  const path = url.slice('sqlite:'.length);
  return path.startsWith('//') ? path.slice(2) : path;
}

async function open(config: Config): Promise<MessageStore> {
  const file = sqliteFile(config.store);
  // Opening a path that is not there would make an empty store and report that nobody exists.
  if (file !== undefined && (file === ':memory:' || !existsSync(file))) {
    throw new AdminError(
      `no store at ${file}: run this where the server runs, with its --data-dir or --store ` +
        '(or PARLEY_DATA_DIR, PARLEY_STORE)',
    );
  }
  try {
    return await openStore(config.store, {
      sqliteSynchronous: config.sqliteSynchronous,
      timeoutMs: config.storeTimeoutMs,
    });
  } catch (e) {
    throw new AdminError(`could not open the store: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Runs one command; returns the exit code (0 done, 1 refused or not found, 2 bad usage). */
export async function main(
  argv: string[],
  output: AdminOutput = processOutput,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { settings, command } = splitArgs(argv);
  const [name, ...args] = command;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    output.out(HELP);
    return name === undefined ? 2 : 0;
  }
  const run = COMMANDS[name];
  if (!run) {
    output.err(`admin: unknown command "${name}"; npm run admin -- help lists them`);
    return 2;
  }
  let config: Config;
  try {
    const loaded = loadConfig(settings, env);
    if (loaded === 'help') throw new ConfigError('--help is a command here: npm run admin -- help');
    config = loaded;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    output.err(`admin: ${e.message}`);
    return 2;
  }
  let store: MessageStore | undefined;
  try {
    store = await open(config);
    await run(
      { dir: store, pageUrl: pageUrl(config), now: () => Date.now(), out: output.out },
      args,
    );
    return 0;
  } catch (e) {
    if (e instanceof AdminError) {
      output.err(`admin: ${e.message}`);
      return e.exitCode;
    }
    output.err(`admin: ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await store?.close();
  }
}

const entry = process.argv[1];
if (entry !== undefined && resolve(entry) === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
