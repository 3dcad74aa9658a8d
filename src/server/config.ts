// Settings: defaults, then environment variables, then command-line flags. A bad value is
// refused with a message that names the setting.

import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { TEXT_MAX_BYTES } from '../protocol/index.js';
import { TrustedProxies, TrustProxyError, type ForwardedHeader } from './client-address.js';

export interface Config {
  /** Address to bind; empty for all interfaces. */
  host: string;
  httpPort: number;
  wsPort: number;
  dataDir: string;
  /** `sqlite:PATH` or `postgres://...`; empty means sqlite in the data folder. */
  store: string;
  /** `local` or `redis://...`. */
  bus: string;
  sqliteSynchronous: 'FULL' | 'NORMAL' | 'EXTRA';
  /** Longest a PostgreSQL connection, query or commit may take before it is given up. */
  storeTimeoutMs: number;
  /** Origins allowed besides the page's own. */
  allowedOrigins: string[];
  maxMessageBytes: number;
  ratePerSecond: number;
  rateBurst: number;
  connectionsPerAddress: number;
  /** Open TCP sockets per peer address on either port, counted at accept. */
  socketsPerAddress: number;
  /** HTTP requests per second per client address (token bucket refill), and the bucket size. */
  httpRatePerSecond: number;
  httpRateBurst: number;
  /** Most message bytes one history answer holds, over HTTP or WebSocket. */
  historyMaxBytes: number;
  /** Proxies whose forwarding header names the client: addresses, CIDR ranges, `loopback`. */
  trustProxy: string[];
  forwardedHeader: ForwardedHeader;
  /** Host names the page and handshakes answer to, besides local ones and allowed origins'. */
  allowedHosts: string[];
  /** Bearer token that opens /metrics and /readyz's detail to a remote scraper; empty for none. */
  metricsToken: string;
  roomsPerConnection: number;
  presenceNoticeLimit: number;
  renamesPerMinute: number;
  /** Limits per client address, over all its connections and reconnects. */
  addressRatePerSecond: number;
  addressRateBurst: number;
  addressBytesPerHour: number;
  addressJoinsPerMinute: number;
  addressNamesPerHour: number;
  addressRoomsPerHour: number;
  addressHandshakesPerMinute: number;
  addressSearchesPerMinute: number;
  addressHistoryBytesPerMinute: number;
  /** New rooms per hour for the whole instance. */
  roomsPerHour: number;
  roomIdleDays: number;
  /** Minutes after sending that a message may still be edited; 0: no limit. */
  editWindow: number;
  /** Who may make an account: anyone, holders of an invite link, or nobody new. */
  registration: 'open' | 'invite' | 'closed';
  /** on: guests talk in rooms open to them; off: no guests; open: also make rooms. */
  guests: 'on' | 'off' | 'open';
  /** Days a session of an account with a password lasts unused. */
  sessionIdleDays: number;
  /** The page's public address, for the links the log and `npm run admin` print. */
  publicUrl: string | undefined;
  /** Largest HTTP header block accepted on a request or upgrade. */
  maxHeaderBytes: number;
  /** A handshake whose headers take longer than this is dropped. */
  handshakeTimeoutMs: number;
  historyBound: number;
  /** Least time between two writes to a busy socket, so bursts share writes. */
  fanoutGatherMs: number;
  /** How far a connection may be behind: unsent, or sent and not shown read; then it is closed. */
  sendBufferBytes: number;
  heartbeatMs: number;
  /** Handshakes are refused with a wait while the event loop runs later than this; 0: never. */
  shedLagMs: number;
  /** How often a node tells the others who is on it; three missed and it is taken for dead. */
  clusterHeartbeatMs: number;
  shutdownMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

type Kind =
  | 'port'
  | 'int'
  | 'int0'
  | 'string'
  | 'origins'
  | 'sync'
  | 'registration'
  | 'guests'
  | 'level'
  | 'proxies'
  | 'hosts'
  | 'header';

interface Setting {
  key: keyof Config;
  flag: string;
  env: string;
  kind: Kind;
  help: string;
}

export const SETTINGS: Setting[] = [
  {
    key: 'host',
    flag: 'host',
    env: 'PARLEY_HOST',
    kind: 'string',
    help: 'address to bind',
  },
  {
    key: 'httpPort',
    flag: 'http-port',
    env: 'PARLEY_HTTP_PORT',
    kind: 'port',
    help: 'port of the page, REST API and /ws',
  },
  {
    key: 'wsPort',
    flag: 'ws-port',
    env: 'PARLEY_WS_PORT',
    kind: 'port',
    help: 'dedicated WebSocket port',
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'PARLEY_DATA_DIR',
    kind: 'string',
    help: 'folder for the SQLite database',
  },
  {
    key: 'store',
    flag: 'store',
    env: 'PARLEY_STORE',
    kind: 'string',
    help: 'sqlite:PATH or postgres://URL',
  },
  { key: 'bus', flag: 'bus', env: 'PARLEY_BUS', kind: 'string', help: 'local or redis://URL' },
  {
    key: 'sqliteSynchronous',
    flag: 'sqlite-synchronous',
    env: 'PARLEY_SQLITE_SYNCHRONOUS',
    kind: 'sync',
    help: 'NORMAL (acked survives a crash or kill -9), FULL (also power loss) or EXTRA',
  },
  {
    key: 'storeTimeoutMs',
    flag: 'store-timeout-ms',
    env: 'PARLEY_STORE_TIMEOUT_MS',
    kind: 'int',
    help: 'PostgreSQL: longest a connection or statement may take; then sends are refused (STORE_UNAVAILABLE)',
  },
  {
    key: 'allowedOrigins',
    flag: 'allowed-origins',
    env: 'PARLEY_ALLOWED_ORIGINS',
    kind: 'origins',
    help: "comma-separated origins allowed besides the page's own",
  },
  {
    key: 'maxMessageBytes',
    flag: 'max-message-bytes',
    env: 'PARLEY_MAX_MESSAGE_BYTES',
    kind: 'int',
    help: 'largest frame accepted; larger closes with 1009',
  },
  {
    key: 'ratePerSecond',
    flag: 'rate',
    env: 'PARLEY_RATE',
    kind: 'int',
    help: 'requests per second per connection',
  },
  {
    key: 'rateBurst',
    flag: 'rate-burst',
    env: 'PARLEY_RATE_BURST',
    kind: 'int',
    help: 'requests allowed at once per connection',
  },
  {
    key: 'connectionsPerAddress',
    flag: 'connections-per-address',
    env: 'PARLEY_CONNECTIONS_PER_ADDRESS',
    kind: 'int',
    help: 'open connections per client address',
  },
  {
    key: 'socketsPerAddress',
    flag: 'sockets-per-address',
    env: 'PARLEY_SOCKETS_PER_ADDRESS',
    kind: 'int',
    help: 'open TCP sockets per peer address, counted at accept (trusted proxies are not counted)',
  },
  {
    key: 'httpRatePerSecond',
    flag: 'http-rate',
    env: 'PARLEY_HTTP_RATE',
    kind: 'int',
    help: 'HTTP requests per second per client address; past it 429 with Retry-After',
  },
  {
    key: 'httpRateBurst',
    flag: 'http-rate-burst',
    env: 'PARLEY_HTTP_RATE_BURST',
    kind: 'int',
    help: 'HTTP requests allowed at once per client address',
  },
  {
    key: 'historyMaxBytes',
    flag: 'history-max-bytes',
    env: 'PARLEY_HISTORY_MAX_BYTES',
    kind: 'int',
    help: 'most message bytes in one history answer; past it the answer says more',
  },
  {
    key: 'trustProxy',
    flag: 'trust-proxy',
    env: 'PARLEY_TRUST_PROXY',
    kind: 'proxies',
    help: 'comma-separated proxy addresses or CIDR ranges (or loopback) whose forwarding header names the client',
  },
  {
    key: 'forwardedHeader',
    flag: 'forwarded-header',
    env: 'PARLEY_FORWARDED_HEADER',
    kind: 'header',
    help: 'the header trusted proxies write: x-forwarded-for or forwarded (RFC 7239)',
  },
  {
    key: 'allowedHosts',
    flag: 'allowed-hosts',
    env: 'PARLEY_ALLOWED_HOSTS',
    kind: 'hosts',
    help: 'comma-separated host names served besides local ones and those of --allowed-origins',
  },
  {
    key: 'metricsToken',
    flag: 'metrics-token',
    env: 'PARLEY_METRICS_TOKEN',
    kind: 'string',
    help: 'bearer token that opens /metrics to a remote scraper (otherwise loopback only)',
  },
  {
    key: 'roomsPerConnection',
    flag: 'rooms-per-connection',
    env: 'PARLEY_ROOMS_PER_CONNECTION',
    kind: 'int',
    help: 'rooms one connection may be in',
  },
  {
    key: 'presenceNoticeLimit',
    flag: 'presence-notice-limit',
    env: 'PARLEY_PRESENCE_NOTICE_LIMIT',
    kind: 'int',
    help: 'rooms with more members stop announcing joins and leaves, and relay one typing notice a second',
  },
  {
    key: 'renamesPerMinute',
    flag: 'renames-per-minute',
    env: 'PARLEY_RENAMES_PER_MINUTE',
    kind: 'int',
    help: 'name changes per minute per connection',
  },
  {
    key: 'addressRatePerSecond',
    flag: 'address-rate',
    env: 'PARLEY_ADDRESS_RATE',
    kind: 'int',
    help: 'requests per second per client address, over all its connections',
  },
  {
    key: 'addressRateBurst',
    flag: 'address-rate-burst',
    env: 'PARLEY_ADDRESS_RATE_BURST',
    kind: 'int',
    help: 'requests allowed at once per client address',
  },
  {
    key: 'addressBytesPerHour',
    flag: 'address-bytes-per-hour',
    env: 'PARLEY_ADDRESS_BYTES_PER_HOUR',
    kind: 'int',
    help: 'bytes of message text per hour per client address (at least 16384, one longest message)',
  },
  {
    key: 'addressJoinsPerMinute',
    flag: 'address-joins',
    env: 'PARLEY_ADDRESS_JOINS',
    kind: 'int',
    help: 'room joins per minute per client address',
  },
  {
    key: 'addressNamesPerHour',
    flag: 'address-names-per-hour',
    env: 'PARLEY_ADDRESS_NAMES_PER_HOUR',
    kind: 'int',
    help: 'names taken anew, and name changes in a room, per hour per client address',
  },
  {
    key: 'addressRoomsPerHour',
    flag: 'address-rooms-per-hour',
    env: 'PARLEY_ADDRESS_ROOMS_PER_HOUR',
    kind: 'int',
    help: 'new rooms per hour per client address',
  },
  {
    key: 'addressSearchesPerMinute',
    flag: 'address-searches',
    env: 'PARLEY_ADDRESS_SEARCHES',
    kind: 'int',
    help: 'searches per minute per client address (each also counts as a request)',
  },
  {
    key: 'addressHistoryBytesPerMinute',
    flag: 'address-history-bytes',
    env: 'PARLEY_ADDRESS_HISTORY_BYTES',
    kind: 'int',
    help: 'bytes of history pages per minute per client address, over WebSocket and HTTP',
  },
  {
    key: 'roomsPerHour',
    flag: 'rooms-per-hour',
    env: 'PARLEY_ROOMS_PER_HOUR',
    kind: 'int',
    help: 'new rooms per hour on the whole instance',
  },
  {
    key: 'registration',
    flag: 'registration',
    env: 'PARLEY_REGISTRATION',
    kind: 'registration',
    help: 'open (anyone may make an account), invite (with an invite link) or closed',
  },
  {
    key: 'guests',
    flag: 'guests',
    env: 'PARLEY_GUESTS',
    kind: 'guests',
    help: 'on (guests talk in the lobby and rooms open to them), off, or open (also make rooms)',
  },
  {
    key: 'sessionIdleDays',
    flag: 'session-idle-days',
    env: 'PARLEY_SESSION_IDLE_DAYS',
    kind: 'int',
    help: 'days a session of an account with a password lasts unused',
  },
  {
    key: 'publicUrl',
    flag: 'public-url',
    env: 'PARLEY_PUBLIC_URL',
    kind: 'string',
    help: "the page's address as people reach it, for setup, invite and reset links",
  },
  {
    key: 'roomIdleDays',
    flag: 'room-idle-days',
    env: 'PARLEY_ROOM_IDLE_DAYS',
    kind: 'int',
    help: 'days an empty room with no message stays in the room list (its history is kept)',
  },
  {
    key: 'addressHandshakesPerMinute',
    flag: 'address-handshakes',
    env: 'PARLEY_ADDRESS_HANDSHAKES',
    kind: 'int',
    help: 'WebSocket connections opened per minute per client address; more get HTTP 429',
  },
  {
    key: 'maxHeaderBytes',
    flag: 'max-header-bytes',
    env: 'PARLEY_MAX_HEADER_BYTES',
    kind: 'int',
    help: 'largest HTTP header block; larger is answered 431',
  },
  {
    key: 'handshakeTimeoutMs',
    flag: 'handshake-timeout-ms',
    env: 'PARLEY_HANDSHAKE_TIMEOUT_MS',
    kind: 'int',
    help: "time allowed for a request's headers to arrive",
  },
  {
    key: 'editWindow',
    flag: 'edit-window',
    env: 'PARLEY_EDIT_WINDOW',
    kind: 'int0',
    help: 'minutes after sending that a message may be edited; 0: no limit',
  },
  {
    key: 'historyBound',
    flag: 'history-bound',
    env: 'PARLEY_HISTORY_BOUND',
    kind: 'int',
    help: 'messages replayed on reconnect before a gap marker',
  },
  {
    key: 'sendBufferBytes',
    flag: 'send-buffer-bytes',
    env: 'PARLEY_SEND_BUFFER_BYTES',
    kind: 'int',
    help: 'bytes a connection may be behind (unsent, or sent and not read) before it is closed with 1013',
  },
  {
    key: 'fanoutGatherMs',
    flag: 'fanout-gather-ms',
    env: 'PARLEY_FANOUT_GATHER_MS',
    kind: 'int0',
    help: 'most time a busy socket gathers frames into one write, reached only under load; 0 writes at the end of every turn',
  },
  {
    key: 'heartbeatMs',
    flag: 'heartbeat-ms',
    env: 'PARLEY_HEARTBEAT_MS',
    kind: 'int',
    help: 'ping interval; a peer that has not answered by the next ping is dropped',
  },
  {
    key: 'shedLagMs',
    flag: 'shed-lag-ms',
    env: 'PARLEY_SHED_LAG_MS',
    kind: 'int0',
    help: 'refuse new handshakes with a wait (503 Retry-After, or close 1013) while the event loop is this late; 0: never',
  },
  {
    key: 'clusterHeartbeatMs',
    flag: 'cluster-heartbeat-ms',
    env: 'PARLEY_CLUSTER_HEARTBEAT_MS',
    kind: 'int',
    help: 'how often a node announces its members; a node silent for 3 is dropped',
  },
  {
    key: 'shutdownMs',
    flag: 'shutdown-ms',
    env: 'PARLEY_SHUTDOWN_MS',
    kind: 'int',
    help: 'deadline for a graceful shutdown',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'PARLEY_LOG_LEVEL',
    kind: 'level',
    help: 'debug, info, warn, error or silent',
  },
];

export const DEFAULTS: Config = {
  host: '',
  httpPort: 8098,
  wsPort: 8099,
  dataDir: './data',
  store: '',
  bus: 'local',
  sqliteSynchronous: 'NORMAL',
  storeTimeoutMs: 5000,
  allowedOrigins: [],
  maxMessageBytes: 64 * 1024,
  ratePerSecond: 20,
  rateBurst: 40,
  connectionsPerAddress: 50,
  socketsPerAddress: 64,
  httpRatePerSecond: 10,
  httpRateBurst: 50,
  historyMaxBytes: 256 * 1024,
  trustProxy: [],
  forwardedHeader: 'x-forwarded-for',
  allowedHosts: [],
  metricsToken: '',
  roomsPerConnection: 50,
  presenceNoticeLimit: 200,
  renamesPerMinute: 5,
  addressRatePerSecond: 30,
  addressRateBurst: 60,
  addressBytesPerHour: 2 * 1024 * 1024,
  addressJoinsPerMinute: 60,
  addressNamesPerHour: 30,
  addressRoomsPerHour: 10,
  addressHandshakesPerMinute: 60,
  addressSearchesPerMinute: 30,
  addressHistoryBytesPerMinute: 4 * 1024 * 1024,
  roomsPerHour: 300,
  roomIdleDays: 30,
  editWindow: 0,
  registration: 'open',
  guests: 'on',
  sessionIdleDays: 30,
  publicUrl: undefined,
  maxHeaderBytes: 8192,
  handshakeTimeoutMs: 10_000,
  historyBound: 500,
  sendBufferBytes: 1024 * 1024,
  fanoutGatherMs: 50,
  heartbeatMs: 30_000,
  shedLagMs: 100,
  clusterHeartbeatMs: 5000,
  shutdownMs: 10_000,
  logLevel: 'info',
};

export class ConfigError extends Error {}

function commaList(raw: string): string[] {
  return raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
}

function parseValue(s: Setting, raw: string): Config[keyof Config] {
  const bad = (why: string) =>
    new ConfigError(`--${s.flag} (${s.env}): ${why}, got ${JSON.stringify(raw)}`);
  switch (s.kind) {
    case 'port': {
      if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535)
        throw bad('expected a port number 0-65535');
      return Number(raw);
    }
    case 'int': {
      if (!/^\d{1,12}$/.test(raw) || Number(raw) < 1)
        throw bad('expected a whole number of at least 1');
      return Number(raw);
    }
    case 'int0': {
      if (!/^\d{1,12}$/.test(raw)) throw bad('expected a whole number');
      return Number(raw);
    }
    case 'string':
      return raw;
    case 'sync': {
      const v = raw.toUpperCase();
      if (v !== 'FULL' && v !== 'NORMAL' && v !== 'EXTRA')
        throw bad('expected FULL, NORMAL or EXTRA');
      return v;
    }
    case 'registration': {
      if (raw !== 'open' && raw !== 'invite' && raw !== 'closed')
        throw bad('expected open, invite or closed');
      return raw;
    }
    case 'guests': {
      if (raw !== 'on' && raw !== 'off' && raw !== 'open') throw bad('expected on, off or open');
      return raw;
    }
    case 'level': {
      if (!['debug', 'info', 'warn', 'error', 'silent'].includes(raw))
        throw bad('expected debug, info, warn, error or silent');
      return raw as Config['logLevel'];
    }
    case 'proxies': {
      const list = commaList(raw);
      try {
        new TrustedProxies(list);
      } catch (e) {
        if (e instanceof TrustProxyError) throw bad(e.message);
        throw e;
      }
      return list;
    }
    case 'hosts': {
      const list = commaList(raw).map((h) => h.toLowerCase());
      for (const h of list) {
        if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(h)) {
          throw bad(`${h} is not a host name like chat.example.com (no scheme or port)`);
        }
      }
      return list;
    }
    case 'header': {
      const v = raw.toLowerCase();
      if (v !== 'x-forwarded-for' && v !== 'forwarded')
        throw bad('expected x-forwarded-for or forwarded');
      return v;
    }
    case 'origins': {
      const list = commaList(raw);
      for (const o of list) {
        let url: URL;
        try {
          url = new URL(o);
        } catch {
          throw bad(`${o} is not an origin like https://chat.example.com`);
        }
        if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== o) {
          throw bad(
            `${o} is not an origin like https://chat.example.com (scheme, host and port only)`,
          );
        }
      }
      return list;
    }
  }
}

function check(c: Config): Config {
  if (c.httpPort !== 0 && c.httpPort === c.wsPort) {
    throw new ConfigError('--http-port and --ws-port must differ (the page port also serves /ws)');
  }
  if (c.maxMessageBytes > 16 * 1024 * 1024)
    throw new ConfigError('--max-message-bytes: at most 16 MiB');
  if (c.addressBytesPerHour < TEXT_MAX_BYTES)
    throw new ConfigError(
      `--address-bytes-per-hour: at least ${TEXT_MAX_BYTES}, one longest message`,
    );
  return { ...c, store: c.store || `sqlite:${join(c.dataDir, 'parley.db')}` };
}

/** Defaults, overridden by the environment, overridden by flags. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config | 'help' {
  const options = Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' as const }]));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
  } catch (e) {
    throw new ConfigError(e instanceof Error ? e.message : String(e));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values['help']) return 'help';
  const c: Record<string, unknown> = { ...DEFAULTS };
  for (const s of SETTINGS) {
    const fromFlag = values[s.flag];
    const raw = typeof fromFlag === 'string' ? fromFlag : env[s.env];
    if (raw !== undefined && raw !== '') c[s.key] = parseValue(s, raw);
  }
  return check(c as unknown as Config);
}

export function resolveConfig(overrides: Partial<Config>): Config {
  return check({ ...DEFAULTS, ...overrides });
}

/** What an empty default means, for --help. */
const EMPTY_DEFAULT: Partial<Record<keyof Config, string>> = {
  host: 'all interfaces',
  store: 'sqlite:DATA_DIR/parley.db',
  metricsToken: 'none',
};

export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const def = DEFAULTS[s.key];
    const shown = Array.isArray(def)
      ? def.join(',') || 'none'
      : String(def || EMPTY_DEFAULT[s.key]);
    return `  --${s.flag.padEnd(24)} ${s.env.padEnd(32)} ${s.help} [${shown}]`;
  });
  return [
    'Usage: npm start -- [options]',
    '',
    'Every option can also be set by the environment variable beside it; flags win.',
    '',
    ...rows,
    `  --${'help'.padEnd(24)} ${''.padEnd(32)} show this text`,
  ].join('\n');
}
