// Who a request is from, behind trusted proxies and in front of forged headers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { hostname } from 'node:os';
import {
  TrustedProxies,
  canonicalAddress,
  clientAddress,
  forwardedHops,
  type ForwardedHeader,
} from '../src/server/client-address.js';
import { AddressRateLimit } from '../src/server/address-rate-limit.js';
import { hostCheck } from '../src/server/origin.js';
import { loadConfig } from '../src/server/config.js';

function from(
  peer: string,
  headers: IncomingHttpHeaders,
  trust: string[],
  header: ForwardedHeader = 'x-forwarded-for',
): string {
  return clientAddress(peer, headers, { trusted: new TrustedProxies(trust), header });
}

test('with no trusted proxy, forwarding headers are ignored', () => {
  const headers = { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=203.0.113.8' };
  assert.equal(from('198.51.100.1', headers, []), '198.51.100.1');
  assert.equal(from('127.0.0.1', headers, []), '127.0.0.1');
});

test('a header from a peer that is not a trusted proxy is ignored', () => {
  const headers = { 'x-forwarded-for': '127.0.0.1' };
  assert.equal(from('198.51.100.1', headers, ['10.0.0.0/8', 'loopback']), '198.51.100.1');
});

test('behind a trusted proxy, the right-most untrusted address is the client', () => {
  assert.equal(
    from('127.0.0.1', { 'x-forwarded-for': '203.0.113.7' }, ['loopback']),
    '203.0.113.7',
  );
  // The client wrote the left entries itself; the proxy appended what it saw.
  assert.equal(
    from('127.0.0.1', { 'x-forwarded-for': '127.0.0.1, 10.9.9.9, 203.0.113.7' }, ['loopback']),
    '203.0.113.7',
  );
  // Two trusted proxies in a row: walk past both.
  assert.equal(
    from('10.0.0.2', { 'x-forwarded-for': '1.1.1.1, 203.0.113.7, 10.0.0.1' }, ['10.0.0.0/24']),
    '203.0.113.7',
  );
  // Header lines sent twice are one list, in order.
  assert.equal(
    from('127.0.0.1', { 'x-forwarded-for': ['6.6.6.6', '203.0.113.7'] as unknown as string }, [
      'loopback',
    ]),
    '203.0.113.7',
  );
});

test('a trusted proxy with no header, or naming only trusted hops, is itself the address', () => {
  assert.equal(from('127.0.0.1', {}, ['loopback']), '127.0.0.1');
  assert.equal(from('127.0.0.1', { 'x-forwarded-for': '127.0.0.5' }, ['loopback']), '127.0.0.5');
});

test('a malformed right-most hop stops at the proxy that wrote it; forged ones left of a good hop do not count', () => {
  for (const bad of [
    'unknown',
    'garbage',
    '',
    '999.1.1.1',
    '1.2.3.4.5',
    'fe80::1%eth0',
    '<script>',
  ]) {
    assert.equal(from('127.0.0.1', { 'x-forwarded-for': bad }, ['loopback']), '127.0.0.1', bad);
  }
  assert.equal(
    from('127.0.0.1', { 'x-forwarded-for': 'garbage, 203.0.113.7' }, ['loopback']),
    '203.0.113.7',
  );
});

test('ports and brackets are dropped; IPv6 is spelled one way; IPv4-mapped IPv6 is IPv4', () => {
  const t = ['loopback'];
  assert.equal(from('127.0.0.1', { 'x-forwarded-for': '203.0.113.7:5555' }, t), '203.0.113.7');
  assert.equal(from('127.0.0.1', { 'x-forwarded-for': '[2001:DB8:0::1]:443' }, t), '2001:db8::1');
  assert.equal(from('127.0.0.1', { 'x-forwarded-for': '2001:db8:0:0::1' }, t), '2001:db8::1');
  assert.equal(from('::ffff:127.0.0.1', { 'x-forwarded-for': '203.0.113.7' }, t), '203.0.113.7');
  assert.equal(canonicalAddress('::ffff:198.51.100.4'), '198.51.100.4');
  assert.equal(from('::1', { 'x-forwarded-for': '::ffff:203.0.113.7' }, t), '203.0.113.7');
});

test('Forwarded (RFC 7239): for= of each element, quoted IPv6 with port, obfuscated and unknown', () => {
  const t = ['loopback'];
  const h = (forwarded: string) => from('127.0.0.1', { forwarded }, t, 'forwarded');
  assert.equal(h('for=203.0.113.7'), '203.0.113.7');
  assert.equal(h('For="[2001:db8:cafe::17]:4711";proto=https'), '2001:db8:cafe::17');
  assert.equal(h('for=6.6.6.6, for=203.0.113.7;by=127.0.0.1'), '203.0.113.7');
  assert.equal(h('for=203.0.113.7, for=unknown'), '127.0.0.1');
  assert.equal(h('for="[2001:db8::9]:_gateway"'), '2001:db8::9');
  assert.equal(h('for="203.0.113.7:_p"'), '203.0.113.7');
  assert.equal(h('for=_hidden'), '127.0.0.1');
  assert.equal(h('proto=https'), '127.0.0.1');
  // A quoted comma is not an element boundary.
  assert.equal(h('for="6.6.6.6,203.0.113.9"'), '127.0.0.1');
  assert.deepEqual(
    forwardedHops({ forwarded: 'for=1.2.3.4;proto=http, for="[::1]"' }, 'forwarded'),
    ['1.2.3.4', '::1'],
  );
});

test('only the configured header is read: the other one is the client’s to forge', () => {
  const headers = { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=6.6.6.6' };
  assert.equal(from('127.0.0.1', headers, ['loopback'], 'x-forwarded-for'), '203.0.113.7');
  assert.equal(from('127.0.0.1', headers, ['loopback'], 'forwarded'), '6.6.6.6');
  assert.equal(from('127.0.0.1', { forwarded: 'for=6.6.6.6' }, ['loopback']), '127.0.0.1');
});

test('trusted ranges: IPv4 and IPv6 CIDR, single addresses, loopback; bad entries are refused', () => {
  const t = new TrustedProxies(['10.1.0.0/16', '2001:db8::/32', '192.0.2.1', 'loopback']);
  for (const a of ['10.1.2.3', '2001:db8:ffff::1', '192.0.2.1', '127.0.0.9', '::1']) {
    assert.ok(t.has(a), a);
  }
  for (const a of ['10.2.0.1', '2001:db9::1', '192.0.2.2', '::2']) assert.ok(!t.has(a), a);
  for (const bad of ['10.0.0.0/33', '::/129', 'example.com', '10.0.0.0/8/8', '10.0.0.0/x']) {
    assert.throws(() => loadConfig(['--trust-proxy', bad], {}), /--trust-proxy/, bad);
  }
  const c = loadConfig([], { PARLEY_TRUST_PROXY: 'loopback, 10.0.0.0/8' });
  assert.ok(c !== 'help');
  assert.deepEqual(c.trustProxy, ['loopback', '10.0.0.0/8']);
  assert.throws(() => loadConfig(['--forwarded-header', 'x-real-ip'], {}), /--forwarded-header/);
  assert.throws(() => loadConfig(['--allowed-hosts', 'https://a.example'], {}), /--allowed-hosts/);
});

test('the HTTP rate bucket refills with time, says when to retry, and forgets idle addresses', () => {
  let now = 0;
  const limit = new AddressRateLimit(2, 4, () => now, 3);
  for (let i = 0; i < 4; i++) assert.ok(limit.take('a').ok);
  const refused = limit.take('a');
  assert.equal(refused.ok, false);
  assert.equal(refused.retryAfterSeconds, 1);
  assert.ok(limit.take('b').ok, 'another address has its own bucket');
  now += 500;
  assert.ok(limit.take('a').ok, 'one token after half a second at 2/s');
  assert.equal(limit.take('a').ok, false);
  for (const x of ['c', 'd', 'e']) limit.take(x);
  assert.ok(limit.size <= 3, `bounded: ${limit.size}`);
  now += 10_000;
  limit.take('f');
  assert.equal(limit.size, 1, 'idle full buckets are forgotten');
});

test('hosts: local names and IP literals, configured hosts and the hosts of allowed origins', () => {
  const ok = hostCheck(['chat.example.com'], ['https://other.example:8443']);
  for (const h of [
    'localhost',
    'localhost:8098',
    'LOCALHOST.',
    'app.localhost',
    '127.0.0.1:8098',
    '[::1]:8098',
    '192.0.2.5',
    'chat.example.com',
    'other.example',
    hostname(),
    undefined,
  ]) {
    assert.ok(ok(h), String(h));
  }
  for (const h of [
    'evil.example',
    'localhost.evil.example',
    'chat.example.com.evil.example',
    '127.0.0.1.nip.io',
    'a@localhost',
    'localhost/x',
    '',
  ]) {
    assert.ok(!ok(h), h);
  }
});
