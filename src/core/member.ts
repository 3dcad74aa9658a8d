// A connection as a room's fan-out sees it. Rooms hold their subscribers by this interface, so
// that a room needs nothing of the session that implements it.

import type { ServerEvent } from '../protocol/index.js';
import type { Frame, Peer } from './ports.js';

export interface Member {
  readonly peer: Peer;
  readonly name: string;
  readonly key: string;
  readonly closed: boolean;
  /** The room plain lines go to (text mode). */
  readonly current: string | undefined;
  readonly isText: boolean;
  send(f: Frame): void;
  /** JSON clients only. */
  event(e: ServerEvent): void;
  /** Text clients only. */
  line(text: string): void;
}
