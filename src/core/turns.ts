// Long reads (history pages) take turns with everything else: each waits here between chunks,
// and one waiter goes on per event-loop turn, so the messages of others are handled between
// two chunks however many pages are being read at once.

export class Turns {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  /** Resolves on a later turn of the event loop, one waiter per turn, first come first served. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.waiting.shift()?.();
      // Scheduled from within this turn's immediates, so it runs on the next turn.
      if (this.waiting.length > 0) this.schedule();
    });
  }
}
