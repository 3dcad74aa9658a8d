// Open sockets per peer address, counted the moment a connection is accepted, before a byte is
// parsed: sockets that send nothing otherwise hold file descriptors until the header timeout.
// Only the peer is known here, so a trusted proxy is not counted; it must limit its own clients.

import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { canonicalAddress, type TrustedProxies } from './client-address.js';

const HELD_MAX = 100_000;

export class SocketLimit {
  private readonly open = new Map<string, number>();
  /** Peers told to wait (a 429 with Retry-After), until when: their sockets go at accept. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly trusted: TrustedProxies,
    private readonly onRefused: (address: string) => void,
  ) {}

  /** Counts the sockets of every server given, together. */
  watch(server: Server): void {
    server.on('connection', (socket: Socket) => this.accept(socket));
  }

  /**
   * A peer refused for its rate is dropped at accept until its Retry-After has passed: a flood
   * of new connections then costs an accept each, not a parse and an answer each. A trusted
   * proxy is never held (its other clients are not the one refused).
   */
  hold(peer: string | undefined, seconds: number, now = Date.now()): void {
    if (peer === undefined) return;
    const address = canonicalAddress(peer) ?? peer;
    if (this.trusted.has(address)) return;
    this.held.delete(address);
    this.held.set(address, now + seconds * 1000);
    if (this.held.size > HELD_MAX) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
  }

  openFrom(address: string): number {
    return this.open.get(address) ?? 0;
  }

  private accept(socket: Socket): void {
    const raw = socket.remoteAddress;
    if (raw === undefined) return void socket.destroy();
    const address = canonicalAddress(raw) ?? raw;
    if (this.trusted.has(address)) return;
    const until = this.held.get(address);
    if (until !== undefined) {
      if (Date.now() < until) {
        socket.destroy();
        this.onRefused(address);
        return;
      }
      this.held.delete(address);
    }
    const n = this.openFrom(address);
    if (n >= this.limit) {
      socket.destroy();
      this.onRefused(address);
      return;
    }
    this.open.set(address, n + 1);
    socket.once('close', () => {
      const left = this.openFrom(address) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    });
  }
}
