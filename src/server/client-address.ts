// Who a request is from. Without trusted proxies it is the socket's peer. Behind one, the peer is
// the proxy, and the client is what the proxy says it is: the right-most address in the
// forwarding header that is not itself a trusted proxy. Everything left of that was written by
// the client and proves nothing.
//
// node:net's BlockList matches addresses against IPv4 and IPv6 ranges, which is all the
// `proxy-addr` package would add here; the parsing it would not do for `Forwarded` anyway.

import { BlockList, isIP, isIPv4 } from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** Which header a trusted proxy writes: nginx, HAProxy and most load balancers write the first. */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

export class TrustProxyError extends Error {}

/**
 * An address in one spelling per address, or null if it is not one: IPv4-mapped IPv6 as IPv4,
 * IPv6 compressed and in lower case, so one client never counts as two.
 */
export function canonicalAddress(raw: string): string | null {
  let a = raw.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const kind = isIP(a);
  if (kind === 4) return a;
  if (kind !== 6) return null;
  if (a.includes('%')) return null;
  const host = new URL(`http://[${a}]`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1] ?? '0', 16);
    const lo = parseInt(mapped[2] ?? '0', 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}

/** The set of proxies whose forwarding headers are believed. */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  /** Entries: `loopback`, an address, or a CIDR range (`10.0.0.0/8`, `fd00::/8`). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) this.add(entry);
    this.size = entries.length;
  }

  private add(entry: string): void {
    if (entry === 'loopback') {
      this.list.addSubnet('127.0.0.0', 8, 'ipv4');
      this.list.addAddress('::1', 'ipv6');
      return;
    }
    const [base = '', bits, extra] = entry.split('/');
    const address = canonicalAddress(base);
    if (address === null || extra !== undefined) {
      throw new TrustProxyError(`${entry} is not an address, a CIDR range or "loopback"`);
    }
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (bits === undefined) return this.list.addAddress(address, type);
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!(prefix <= (type === 'ipv4' ? 32 : 128))) {
      throw new TrustProxyError(`${entry} has a prefix length out of range`);
    }
    this.list.addSubnet(address, prefix, type);
  }

  /** Takes a canonical address. */
  has(address: string): boolean {
    if (this.size === 0) return false;
    return this.list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}

/** Splits on commas outside double quotes (a quoted `Forwarded` value may hold anything). */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '"') quoted = !quoted;
    else if (c === '\\' && quoted) {
      current += c + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === sep && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** An `X-Forwarded-For` entry or a `Forwarded` `for=` value, with any port dropped. */
function hopAddress(raw: string): string | null {
  const v = raw.trim();
  // RFC 7239 allows an obfuscated port (`_abc`) as well as a number.
  const bracketed = /^\[([^\]]+)\](?::(?:\d{1,5}|_[\w.-]+))?$/.exec(v);
  if (bracketed) return canonicalAddress(bracketed[1] ?? '');
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):(?:\d{1,5}|_[\w.-]+)$/.exec(v);
  if (v4port) return canonicalAddress(v4port[1] ?? '');
  return canonicalAddress(v);
}

/** The hops a header names, left (farthest) to right (nearest); null marks one not understood. */
export function forwardedHops(
  headers: IncomingHttpHeaders,
  header: ForwardedHeader,
): (string | null)[] {
  const value = headers[header];
  const text = Array.isArray(value) ? value.join(',') : value;
  if (text === undefined) return [];
  if (header === 'x-forwarded-for') return text.split(',').map(hopAddress);
  return splitOutsideQuotes(text, ',').map((element) => {
    for (const pair of splitOutsideQuotes(element, ';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      let v = pair.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
        v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      }
      return hopAddress(v);
    }
    return null;
  });
}

export interface ClientAddressOptions {
  trusted: TrustedProxies;
  header: ForwardedHeader;
}

/**
 * The client's address. A hop the header does not make sense of (`unknown`, an obfuscated
 * name, garbage) ends the walk at the trusted proxy that reported it: nothing beyond it can be
 * told apart.
 */
export function clientAddress(
  peer: string | undefined,
  headers: IncomingHttpHeaders,
  { trusted, header }: ClientAddressOptions,
): string {
  let client = canonicalAddress(peer ?? '') ?? peer ?? 'unknown';
  if (!trusted.has(client)) return client;
  const hops = forwardedHops(headers, header);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i];
    if (hop === null || hop === undefined) return client;
    client = hop;
    if (!trusted.has(hop)) return hop;
  }
  return client;
}

/** Whether the request came through a forwarding header its peer was not trusted to set. */
export function forwardedByUntrusted(
  req: IncomingMessage,
  { trusted }: ClientAddressOptions,
): boolean {
  const peer = canonicalAddress(req.socket.remoteAddress ?? '') ?? '';
  if (trusted.has(peer)) return false;
  return req.headers['x-forwarded-for'] !== undefined || req.headers['forwarded'] !== undefined;
}

/** The settings' proxies and header, ready to match. */
export function addressOptions(settings: {
  trustProxy: readonly string[];
  forwardedHeader: ForwardedHeader;
}): ClientAddressOptions {
  return { trusted: new TrustedProxies(settings.trustProxy), header: settings.forwardedHeader };
}

/** The one function every per-address limit, log line and metric keys on. */
export function clientAddressResolver(options: ClientAddressOptions) {
  return (req: IncomingMessage): string =>
    clientAddress(req.socket.remoteAddress, req.headers, options);
}

export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1';
}
