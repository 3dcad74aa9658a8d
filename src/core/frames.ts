// Encoding of server events into frames, once per event and codec, shared by every recipient.

import {
  encodeEvent,
  formatMessage,
  textLabel,
  type ChatMessage,
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
 * The frames of one message as its recipients see it under one label (`lobby`, or `@alice` in
 * a direct conversation), built lazily and at most once each.
 */
export class MessageFrames {
  private json?: Frame;
  private textHere?: Frame;
  private textElsewhere?: Frame;

  constructor(
    readonly message: ChatMessage,
    readonly label: string,
  ) {}

  forJson(): Frame {
    return (this.json ??= jsonFrame({ type: 'msg', ...this.message, room: this.label }));
  }

  /** `here` is true when the label is the reader's current room. */
  forText(here: boolean): Frame {
    if (here) return (this.textHere ??= frame(formatMessage(this.message)));
    return (this.textElsewhere ??= frame(formatMessage(this.message, textLabel(this.label))));
  }
}
