// The session over one connection after another, changed in one place:
//   offline ──opened──▶ greeting ──greeted──▶ ready ──closed──▶ offline
// "greeting" is a socket open whose hello is not answered yet: requests may go, sends wait.

export type SessionPhase = 'offline' | 'greeting' | 'ready';

export class SessionState {
  #state: SessionPhase = 'offline';
  #readyBefore = false;
  /** "Cannot reach the server" (or "Connection lost.") was said since the last connection. */
  saidUnreachable = false;

  /** The socket is open (the hello may not be answered yet). */
  get connected(): boolean {
    return this.#state !== 'offline';
  }

  /** Hello answered on this connection. */
  get ready(): boolean {
    return this.#state === 'ready';
  }

  opened(): void {
    this.#setPhase('greeting');
    this.saidUnreachable = false;
  }

  closed(): void {
    this.#setPhase('offline');
  }

  /** Hello answered; true when an earlier connection was ready too (this is a reconnection). */
  greeted(): boolean {
    const again = this.#readyBefore;
    this.#setPhase('ready');
    this.#readyBefore = true;
    return again;
  }

  #setPhase(next: SessionPhase): void {
    this.#state = next;
  }
}
