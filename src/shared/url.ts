// Connection URLs, as `--store` and `--bus` take them. They end up in error messages and logs,
// and their passwords must not.

/** The URL's scheme in lower case (`sqlite`, `postgres`, `redis`), or undefined if it has none. */
export function schemeOf(url: string): string | undefined {
  return /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
}

/** The URL without its password. A URL that does not parse is masked by pattern instead. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}
