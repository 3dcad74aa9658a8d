// Cross-site WebSocket hijacking defence: a browser's Origin must be the page's own origin (the
// host the request came to, on the page's port) or on the allowlist, matched exactly.
// DNS rebinding defence: that host must itself be one Parley answers to, or a page on a name the
// attacker points at this machine would count as the page's own origin.

import { isIP } from 'node:net';
import { hostname } from 'node:os';

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

/** The host name of a Host header, lower case, without port or trailing dot; null if malformed. */
export function hostName(hostHeader: string): string | null {
  let url: URL;
  try {
    url = new URL(`http://${hostHeader}`);
  } catch {
    return null;
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return null;
  return url.hostname.replace(/\.$/, '');
}

/**
 * Local names (the machine's own name too, as a LAN reaches it), any IP literal (rebinding needs
 * a name the attacker controls; an address also covers the public address of a machine behind
 * NAT), the allowed hosts, and the hosts of the allowed origins. A request without Host
 * (HTTP/1.0) is no browser's.
 */
export function hostCheck(
  allowedHosts: readonly string[],
  allowedOrigins: readonly string[],
): (hostHeader: string | undefined) => boolean {
  const own = hostname().toLowerCase();
  const names = new Set(['localhost', own, `${own.split('.')[0]}.local`, ...allowedHosts]);
  for (const o of allowedOrigins) names.add(new URL(o).hostname);
  return (hostHeader) => {
    if (hostHeader === undefined) return true;
    const name = hostName(hostHeader);
    if (name === null) return false;
    if (names.has(name) || name.endsWith('.localhost')) return true;
    return isIP(name.startsWith('[') ? name.slice(1, -1) : name) !== 0;
  };
}
