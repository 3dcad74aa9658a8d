// The key a client address is limited under. An IPv6 host is usually given a whole /64, so
// limits keyed by the full address would give one host billions of fresh buckets.

/** `1.2.3.4` as is; `::ffff:1.2.3.4` as `1.2.3.4`; any other IPv6 address as its /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const groups = expandIpv6(address.split('%')[0] as string);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : address;
}

/** The eight groups of an IPv6 address, without leading zeros; undefined if malformed. */
function expandIpv6(address: string): string[] | undefined {
  const halves = address.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const split = (s: string | undefined) => (s ? s.split(':') : []);
  const head = split(halves[0]);
  const tail = split(halves[1]);
  // An embedded IPv4 tail is two groups; only the first four groups matter here.
  const last = tail.length > 0 ? tail : head;
  if (last.length > 0 && (last[last.length - 1] as string).includes('.'))
    last.splice(-1, 1, '0', '0');
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => g.replace(/^0+(?=.)/, ''));
}
