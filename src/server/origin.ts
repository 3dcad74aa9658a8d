// Cross-site WebSocket hijacking defence: a browser's Origin must be the page's own origin (the
// host the request came to, on the page's port) or on the allowlist, matched exactly.

export function pageOrigin(hostHeader: string | undefined, pagePort: number): string | null {
  if (!hostHeader) return null;
  let url: URL;
  try {
    url = new URL(`http://${hostHeader}`);
  } catch {
    return null;
  }
  if (url.username || url.password || url.pathname !== '/') return null;
  return new URL(`http://${url.hostname}:${pagePort}`).origin;
}

/** No Origin (a script, wscat) is let in: origins defend browsers, which always send one. */
export function originAllowed(
  origin: string | undefined,
  hostHeader: string | undefined,
  pagePort: number,
  allowlist: readonly string[],
): boolean {
  if (origin === undefined) return true;
  return origin === pageOrigin(hostHeader, pagePort) || allowlist.includes(origin);
}
