// "Typing" both ways: how often we tell a room we are typing, and who is typing in a room.

/** We tell a room at most this often. */
export const TYPING_EVERY_MS = 3000;
/** After a send, the next typing notice may go this soon (the server's minimum interval). */
const TYPING_AFTER_SEND_MS = 1000;

export class TypingThrottle {
  readonly #sentAt = new Map<string, number>();

  due(room: string, now: number): boolean {
    return now - (this.#sentAt.get(room) ?? 0) >= TYPING_EVERY_MS;
  }

  sent(room: string, now: number): void {
    this.#sentAt.set(room, now);
  }

  /**
   * The others stop showing "typing" when the message lands; the next message may say so
   * again a second after this one (sooner, the server drops it).
   */
  messageSent(room: string, now: number): void {
    this.#sentAt.set(room, now - TYPING_EVERY_MS + TYPING_AFTER_SEND_MS);
  }
}

/** Who is typing now (the expired are dropped), and when the next indicator ends. */
export function typers(
  typing: Map<string, number>,
  now: number,
): { names: string[]; next: number } {
  let next = Infinity;
  const names: string[] = [];
  for (const [name, until] of typing) {
    if (until <= now) typing.delete(name);
    else {
      names.push(name);
      next = Math.min(next, until);
    }
  }
  return { names, next };
}
