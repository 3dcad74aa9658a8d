import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ConfigError, DEFAULTS, SETTINGS, helpText, loadConfig } from '../src/server/config.js';
import { openStore } from '../src/store/index.js';
import { openBus } from '../src/bus/index.js';
import { serverCommand } from './server-command.js';

test('defaults: page on 8098, WebSockets on 8099, SQLite in ./data', () => {
  const c = loadConfig([], {});
  assert.ok(c !== 'help');
  assert.equal(c.httpPort, 8098);
  assert.equal(c.wsPort, 8099);
  assert.equal(c.store, 'sqlite:data/parley.db');
  assert.equal(c.maxMessageBytes, 65536);
});

test('environment variables set values, and flags win over them', () => {
  const c = loadConfig(['--ws-port', '9001'], { PARLEY_HTTP_PORT: '9000', PARLEY_WS_PORT: '9999' });
  assert.ok(c !== 'help');
  assert.equal(c.httpPort, 9000);
  assert.equal(c.wsPort, 9001);
  const o = loadConfig(['--allowed-origins', 'https://a.example, http://b.example:8080'], {});
  assert.ok(o !== 'help');
  assert.deepEqual(o.allowedOrigins, ['https://a.example', 'http://b.example:8080']);
});

test('the limits per address default to values fit for the open internet, and can be set', () => {
  const c = loadConfig(['--address-joins', '5'], { PARLEY_ROOM_IDLE_DAYS: '7' });
  assert.ok(c !== 'help');
  assert.equal(c.addressJoinsPerMinute, 5);
  assert.equal(c.roomIdleDays, 7);
  assert.equal(c.addressRatePerSecond, 30);
  assert.equal(c.addressHandshakesPerMinute, 60);
  assert.equal(c.addressRoomsPerHour, 10);
});

test('bad values are refused with a message naming the setting', () => {
  const bad: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--http-port', '70000'], {}, /--http-port/],
    [['--http-port', 'abc'], {}, /port number/],
    [[], { PARLEY_WS_PORT: '-1' }, /PARLEY_WS_PORT/],
    [['--max-message-bytes', '0'], {}, /at least 1/],
    [['--allowed-origins', 'https://a.example/path'], {}, /origin/],
    [['--allowed-origins', 'ftp://a.example'], {}, /origin/],
    [['--sqlite-synchronous', 'OFF'], {}, /FULL, NORMAL or EXTRA/],
    [['--no-such-flag'], {}, /Unknown option/],
    [['--http-port', '9000', '--ws-port', '9000'], {}, /must differ/],
    [['--address-bytes-per-hour', '1000'], {}, /--address-bytes-per-hour: at least 16384/],
    [[], { PARLEY_ADDRESS_HANDSHAKES: '0' }, /PARLEY_ADDRESS_HANDSHAKES/],
  ];
  for (const [argv, env, message] of bad) {
    assert.throws(
      () => loadConfig(argv, env),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
      argv.join(' '),
    );
  }
});

test('--help lists every setting with its flag, variable and default', () => {
  assert.equal(loadConfig(['--help'], {}), 'help');
  const help = helpText();
  for (const s of SETTINGS) {
    assert.ok(help.includes(`--${s.flag}`), s.flag);
    assert.ok(help.includes(s.env), s.env);
  }
  assert.ok(help.includes(String(DEFAULTS.httpPort)));
});

test('the start command refuses a bad value with a non-zero exit and prints help', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [...serverCommand(), ...args], {
      encoding: 'utf8',
      timeout: 30_000,
    });
  const bad = run(['--http-port', 'nope']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--http-port/);
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--allowed-origins/);
});

test('an unknown store or bus URL is refused by name, without its password', async () => {
  await assert.rejects(
    openStore('mysql://admin:hunter2@db.example/chat'),
    (e: unknown) =>
      e instanceof Error &&
      /unknown store URL scheme "mysql:"/.test(e.message) &&
      e.message.includes('admin:***@db.example') &&
      !e.message.includes('hunter2'),
  );
  for (const url of ['nats://admin:hunter2@bus.example:4222', 'amqp://admin:hunter2@ bad host']) {
    await assert.rejects(
      () => openBus(url),
      (e: unknown) =>
        e instanceof Error &&
        /unknown bus URL/.test(e.message) &&
        e.message.includes('admin:***@') &&
        !e.message.includes('hunter2'),
    );
  }
});
