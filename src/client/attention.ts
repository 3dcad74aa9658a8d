// What a new message from someone asks of the reader: whether it is a mention (reading.ts counts
// it), the hidden tab's title, a desktop notification, words for a screen reader.

import type { ChatMessage } from '../protocol/index.js';
import { roomLabel } from './dom.js';
import { clip } from './notices.js';
import { mentionsName } from './rich-text.js';
import { isMine, type Self } from './message-state.js';

export interface Where {
  me: Self;
  direct: boolean;
  /** The room is the one shown. */
  here: boolean;
  /** The tab is not visible. */
  hidden: boolean;
}

export interface Attention {
  mention: boolean;
  notify?: { title: string; body: string };
  announce?: string;
}

/** Nothing for one's own messages. */
export function attention(m: ChatMessage, w: Where): Attention | undefined {
  if (isMine(m, w.me)) return undefined;
  // A direct message is addressed to you as much as a mention is.
  const mention = w.direct || mentionsName(m.text, w.me.name);
  const a: Attention = { mention };
  if (w.hidden && mention) {
    const where = w.direct ? '(direct message)' : `in ${roomLabel(m.room)}`;
    a.notify = { title: `${m.from} ${where}`, body: clip(m.text) };
  }
  const said = m.me ? `${m.from} ${m.text}` : `${m.from}: ${m.text}`;
  if (w.here) a.announce = clip(said);
  else if (mention) a.announce = clip(`In ${roomLabel(m.room)}, ${said}`);
  return a;
}
