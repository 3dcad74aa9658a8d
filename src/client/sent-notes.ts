// The line "/msg @bob hi" leaves in the room it was typed in: "Sending to @bob…", then
// "Sent to @bob." with a way there, or why it was not sent.

import { roomLabel } from './dom.js';
import type { OutboxEntry } from './outbox.js';
import type { ChatLog, LogLine } from './ports.js';

export class SentNotes {
  readonly #notes = new Map<string, { to: string; line: LogLine }>();

  readonly #log: ChatLog;
  readonly #sent: (to: string) => void;
  readonly #open: (to: string) => void;

  constructor(
    log: ChatLog,
    /** The message left the outbox: the direct room `to` is shown, opened with `open`. */
    sent: (to: string) => void,
    open: (to: string) => void,
  ) {
    this.#log = log;
    this.#sent = sent;
    this.#open = open;
  }

  add(cid: string, to: string, line: LogLine): void {
    this.#notes.set(cid, { to, line });
  }

  discarded(cid: string): void {
    const note = this.#notes.get(cid);
    this.#notes.delete(cid);
    if (note) this.#log.setSysText(note.line, `Not sent to ${roomLabel(note.to)}: discarded.`);
  }

  /** Brings each line up to date with the outbox. */
  render(get: (cid: string) => OutboxEntry | undefined): void {
    for (const [cid, note] of this.#notes) {
      const e = get(cid);
      const to = roomLabel(note.to);
      if (e?.error !== undefined) {
        this.#log.setSysText(note.line, `Not sent to ${to}: ${e.error}`);
      } else if (e) {
        this.#log.setSysText(note.line, `Sending to ${to}…`);
      } else {
        this.#notes.delete(cid);
        this.#sent(note.to);
        this.#log.setSysText(note.line, `Sent to ${to}.`, {
          label: `Open ${to}`,
          run: () => this.#open(note.to),
        });
      }
    }
  }
}
