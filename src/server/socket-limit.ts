// Open sockets per peer address, counted the moment a connection is accepted, before a byte is
// parsed: sockets that send nothing otherwise hold file descriptors until the header timeout.
// Only the peer is known here, so a trusted proxy is not counted; it must limit its own clients.

import type { Server, Socket } from 'node:net';
import { canonicalAddress, type TrustedProxies } from './client-address.js';

const HELD_MAX = 100_000;

type ConnectionListener = (socket: Socket) => void;

/** The parts of Node's TCP handles used to refuse a connection before it becomes a Socket. */
interface PeerHandle {
  getpeername(out: { address?: string }): number;
  reset?(callback: () => void): number;
  close(): void;
}
interface ListeningHandle {
  onconnection?: (this: ListeningHandle, err: number, client?: PeerHandle) => void;
}

function ignore(): void {}

export class SocketLimit {
  private readonly open = new Map<string, number>();
  /** Peers told to wait (a 429 with Retry-After), until when: their sockets go at accept. */
  private readonly held = new Map<string, number>();

  /**
   * One listener for every counted socket, not a closure each: it finds the address again from
   * the socket, whose peer address Node keeps once read (as it was, at accept).
   */
  private readonly closed: (this: Socket) => void;

  constructor(
    private readonly limit: number,
    private readonly trusted: TrustedProxies,
    private readonly onRefused: (address: string) => void,
  ) {
    const open = this.open;
    this.closed = function (this: Socket) {
      const raw = this.remoteAddress;
      if (raw === undefined) return;
      const address = canonicalAddress(raw) ?? raw;
      const left = (open.get(address) ?? 0) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    };
  }

  /**
   * Counts the sockets of every server given, together. The server's own connection listener
   * (the HTTP parser) runs only for a socket let in: one refused here costs no parser.
   */
  watch(server: Server): void {
    const own = server.listeners('connection') as ConnectionListener[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (this.accept(socket)) for (const l of own) l.call(server, socket);
    });
    server.on('listening', () => this.refuseAtAccept(server));
  }

  /**
   * An address already at its limit is refused on the accepted handle itself, before Node
   * builds a Socket for it: about a fifth of the cost, which is what a flood of connections
   * from one address spends of the server's core. Node's listening handle is internal, so
   * where it is not as expected every socket goes the ordinary way, through accept().
   */
  private refuseAtAccept(server: Server): void {
    const handle = (server as unknown as { _handle?: ListeningHandle | null })._handle;
    const own = handle?.onconnection;
    if (!handle || typeof own !== 'function') return;
    handle.onconnection = (err, client) => {
      const refused = client && err === 0 ? this.fullPeer(client) : undefined;
      if (client && refused !== undefined) {
        // A reset, as for a Socket refused below.
        if (typeof client.reset === 'function') client.reset(ignore);
        else client.close();
        this.onRefused(refused);
        return;
      }
      own.call(handle, err, client);
    };
  }

  /** The peer of a handle just accepted, when it already holds its limit of sockets. */
  private fullPeer(client: PeerHandle): string | undefined {
    const out: { address?: string } = {};
    if (client.getpeername(out) !== 0 || out.address === undefined) return undefined;
    const address = canonicalAddress(out.address) ?? out.address;
    return this.atLimit(address) ? address : undefined;
  }

  /** Whether an address holds its limit of sockets; a trusted proxy never does. */
  private atLimit(address: string): boolean {
    return !this.trusted.has(address) && this.openFrom(address) >= this.limit;
  }

  /**
   * A peer refused for its rate is not served until its Retry-After has passed: a flood of new
   * connections then costs an accept each, not a parse and an answer each. A trusted proxy is
   * never held (its other clients are not the one refused).
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

  /** Whether the socket goes on to the server. */
  private accept(socket: Socket): boolean {
    const raw = socket.remoteAddress;
    if (raw === undefined) {
      socket.destroy();
      return false;
    }
    const address = canonicalAddress(raw) ?? raw;
    if (this.trusted.has(address)) return true;
    if (this.atLimit(address)) {
      // A reset, not a FIN: nothing of the socket stays in the kernel on either side.
      socket.resetAndDestroy();
      this.onRefused(address);
      return false;
    }
    this.open.set(address, this.openFrom(address) + 1);
    socket.on('close', this.closed);
    const until = this.held.get(address);
    if (until === undefined) return true;
    const now = Date.now();
    if (now >= until) {
      this.held.delete(address);
      return true;
    }
    this.tarpit(socket, until - now);
    this.onRefused(address);
    return false;
  }

  /**
   * A held peer's socket is kept, unread, until the hold ends, then reset: a client that waits
   * for an answer before trying again (any ordinary one) is slowed to a try per socket per
   * hold, where a socket dropped at once would have it back at the door within a millisecond.
   * It counts among the address's sockets, so the ones kept are bounded too.
   */
  private tarpit(socket: Socket, ms: number): void {
    socket.pause();
    socket.on('error', ignore);
    const timer = setTimeout(() => socket.resetAndDestroy(), ms);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }
}
