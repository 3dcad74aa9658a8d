// Structured logs: one JSON object a line on stdout. Message bodies, tokens and cookies are
// never passed in, so they are never written.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level | 'silent', number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
};

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

function describe(err: unknown): unknown {
  return err instanceof Error ? { message: err.message, stack: err.stack } : err;
}

export function createLogger(
  level: Level | 'silent',
  write: (line: string) => void = (l) => process.stdout.write(l),
): Logger {
  const min = RANK[level];
  const at =
    (lvl: Level) =>
    (event: string, fields: Record<string, unknown> = {}) => {
      if (RANK[lvl] < min) return;
      const f = 'err' in fields ? { ...fields, err: describe(fields['err']) } : fields;
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...f }) + '\n');
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
