// Connection URLs end up in error messages and logs; their passwords must not.

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
