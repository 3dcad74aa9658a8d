// What the HTTP routes ask about a request before serving it: who sent it, whether it is over
// its address's rate, whether its Host is one Parley answers to, and whether it may see the
// operator's routes (/metrics, and why /readyz fails).

import type { IncomingMessage } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Config } from './config.js';
import { AddressRateLimit } from './address-rate-limit.js';
import {
  addressOptions,
  clientAddressResolver,
  forwardedByUntrusted,
  isLoopback,
} from './client-address.js';
import { hostCheck } from './origin.js';

export interface HttpGuard {
  addressOf(req: IncomingMessage): string;
  rate: AddressRateLimit;
  hostAllowed(hostHeader: string | undefined): boolean;
  /** Loopback (as forwarded by a trusted proxy, if any), or the right bearer token. */
  operator(req: IncomingMessage, address: string): boolean;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function createHttpGuard(config: Config, now: () => number): HttpGuard {
  const options = addressOptions(config);
  const token = config.metricsToken ? digest(config.metricsToken) : undefined;
  return {
    addressOf: clientAddressResolver(options),
    rate: new AddressRateLimit(config.httpRatePerSecond, config.httpRateBurst, now),
    hostAllowed: hostCheck(config.allowedHosts, config.allowedOrigins),
    operator(req, address) {
      const auth = req.headers.authorization;
      if (token && auth?.startsWith('Bearer ')) {
        // Equal-length digests, so the comparison says nothing about the token's length.
        return timingSafeEqual(digest(auth.slice(7).trim()), token);
      }
      // A forwarding header from a peer not trusted to set it: a proxy in front that is not in
      // --trust-proxy; its clients are not local even though the peer is.
      return isLoopback(address) && !forwardedByUntrusted(req, options);
    },
  };
}
