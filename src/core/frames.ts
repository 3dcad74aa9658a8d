// Encoding of server events into frames, once per event and codec, shared by every recipient.

import {
  changeEvent,
  encodeEvent,
  formatChange,
  formatMessage,
  formatRemoved,
  textLabel,
  unknownEntry,
  wireMessage,
  type LogEntry,
  type ServerEvent,
} from '../protocol/index.js';
import type { Frame } from './ports.js';

const utf8 = new TextEncoder();

export function frame(text: string): Frame {
  return { text, bytes: utf8.encode(text) };
}

export function jsonFrame(event: ServerEvent): Frame {
  return frame(encodeEvent(event));
}

/**
 * The frames of one log entry as its recipients see it under one label (`lobby`, or `@alice` in
 * a direct conversation), built lazily and at most once each.
 */
export class EntryFrames {
  private json?: Frame;
  private textHere?: Frame;
  private textElsewhere?: Frame;

  constructor(
    readonly entry: LogEntry,
    readonly label: string,
  ) {}

  forJson(): Frame {
    return (this.json ??= jsonFrame(jsonEvent(this.entry, this.label)));
  }

  /** `here` is true when the label is the reader's current room. */
  forText(here: boolean): Frame {
    if (here) return (this.textHere ??= frame(textLine(this.entry, '')));
    return (this.textElsewhere ??= frame(textLine(this.entry, textLabel(this.label))));
  }
}

/** The event a JSON client gets for an entry: a message is the `msg` it always was. */
function jsonEvent(entry: LogEntry, label: string): ServerEvent {
  switch (entry.kind) {
    case 'message':
      return { type: 'msg', ...wireMessage(entry), room: label };
    case 'edit':
    case 'delete':
    case 'reaction':
      return changeEvent(entry, label);
    default:
      return unknownEntry(entry);
  }
}

function textLine(entry: LogEntry, where: string): string {
  switch (entry.kind) {
    case 'message':
      return entry.removed ? formatRemoved(entry, where) : formatMessage(entry, where);
    case 'edit':
    case 'delete':
    case 'reaction':
      return formatChange(entry, where);
    default:
      return unknownEntry(entry);
  }
}
