// `npm start`: read settings, start, and stop gracefully on SIGTERM or SIGINT.

import { ConfigError, helpText, loadConfig } from './config.js';
import { startParley } from './app.js';

function badSetting(e: ConfigError): never {
  process.stderr.write(`parley: ${e.message}\nRun with --help to list the settings.\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof ConfigError) badSetting(e);
    throw e;
  }
  if (config === 'help') {
    process.stdout.write(helpText() + '\n');
    return;
  }
  let server;
  try {
    server = await startParley(config);
  } catch (e) {
    // A port that cannot be had is a setting to change, like any other bad setting.
    if (e instanceof ConfigError) badSetting(e);
    process.stderr.write(
      `parley: could not start: ${e instanceof Error ? e.message : String(e)}\n`,
    );
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    const deadline = setTimeout(() => {
      process.stderr.write(`parley: shutdown took longer than ${config.shutdownMs} ms; exiting\n`);
      process.exit(1);
    }, config.shutdownMs + 2000);
    deadline.unref();
    const restart = signal === 'SIGHUP';
    server.stop(restart ? 'RESTARTING' : 'SHUTTING_DOWN').then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // SIGHUP: stop as for a restart (clients are told RESTARTING, 1012); the supervisor starts us again.
  process.once('SIGHUP', () => shutdown('SIGHUP'));
}

void main();
