// The page's handling of room log entries, one handler per kind: a handler map missing a kind
// does not compile, so a new kind reaches the page only once the page knows what to do with it.

import { unknownEntry, type LogEntry } from '../protocol/index.js';

export type EntryHandlers = {
  [K in LogEntry['kind']]: (entry: Extract<LogEntry, { kind: K }>) => void;
};

export function handleEntry(entry: LogEntry, on: EntryHandlers): void {
  switch (entry.kind) {
    case 'message':
      on.message(entry);
      return;
    case 'edit':
      on.edit(entry);
      return;
    case 'delete':
      on.delete(entry);
      return;
    case 'reaction':
      on.reaction(entry);
      return;
    default:
      unknownEntry(entry);
  }
}
