// Open sockets per peer address, counted the moment a connection is accepted, before a byte is
// parsed: sockets that send nothing otherwise hold file descriptors until the header timeout.
// Only the peer is known here, so a trusted proxy is not counted; it must limit its own clients.

import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { canonicalAddress, type TrustedProxies } from './client-address.js';

export class SocketLimit {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly trusted: TrustedProxies,
    private readonly onRefused: (address: string) => void,
  ) {}

  /** Counts the sockets of every server given, together. */
  watch(server: Server): void {
    server.on('connection', (socket: Socket) => this.accept(socket));
  }

  openFrom(address: string): number {
    return this.open.get(address) ?? 0;
  }

  private accept(socket: Socket): void {
    const raw = socket.remoteAddress;
    if (raw === undefined) return void socket.destroy();
    const address = canonicalAddress(raw) ?? raw;
    if (this.trusted.has(address)) return;
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
