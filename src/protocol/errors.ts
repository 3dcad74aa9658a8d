// The one registry of Parley's errors: a stable code, a human message, and the WebSocket close
// code when the error ends the connection. README's "Error codes" lists every entry (tested).

export interface ErrorSpec {
  /** Shown to users and logged. */
  message: string;
  /** Set when the error closes the connection. */
  close?: number;
}

export const ERRORS = {
  BAD_JSON: { message: 'The frame is not valid JSON.' },
  BAD_REQUEST: { message: 'The request is missing a field or has a field of the wrong type.' },
  UNKNOWN_TYPE: { message: 'Unknown request type.' },
  UNKNOWN_COMMAND: { message: 'Unknown command; /help lists them.' },
  NAME_INVALID: {
    message:
      'Names are 1 to 32 characters with no spaces, control, zero-width or direction characters.',
  },
  NAME_TAKEN: { message: 'That name is in use by someone else.' },
  NAME_RESERVED: { message: 'That name is reserved; give its key to reclaim it.' },
  ROOM_INVALID: {
    message:
      'Room names are 1 to 32 characters with no spaces, control, zero-width or direction characters, and do not start with @.',
  },
  NOT_IN_ROOM: { message: 'Join the room first.' },
  NO_SUCH_USER: { message: 'No one has that name.' },
  TEXT_INVALID: {
    message: 'A message must have text and no control characters but newlines and tabs.',
  },
  TEXT_TOO_LONG: {
    message: 'A message is at most 16 KiB of UTF-8 text; shorten it or send it in parts.',
  },
  CID_INVALID: {
    message: 'A client message id is 1 to 64 characters of letters, digits, - and _.',
  },
  TOO_MANY_ROOMS: { message: 'You are in too many rooms; leave one first.' },
  ROOM_LIMIT: {
    message: 'Too many new rooms were made lately; join an existing one or try later.',
  },
  RATE_LIMITED: { message: 'Too many messages; slow down.' },
  STORE_UNAVAILABLE: { message: 'The message could not be stored; it was not sent. Try again.' },
  NAME_REQUIRED: { message: 'Take a name first (/nick NAME) to send direct messages.' },
  INTERNAL: { message: 'Something went wrong on the server; try again.' },
  // Errors that end the connection.
  MESSAGE_TOO_BIG: { message: 'Message too big.', close: 1009 },
  INVALID_UTF8: { message: 'Text frames must be valid UTF-8.', close: 1007 },
  BINARY_UNSUPPORTED: { message: 'Only text frames are accepted.', close: 1003 },
  POLICY_VIOLATION: { message: 'Too many bad or excess messages.', close: 1008 },
  SLOW_CONSUMER: { message: 'Too far behind; reconnect to catch up.', close: 1013 },
  SHUTTING_DOWN: { message: 'The server is going away.', close: 1001 },
  RESTARTING: { message: 'The server is restarting.', close: 1012 },
  RESYNC_FAILED: {
    message: 'Could not catch up from history; reconnect to try again.',
    close: 1011,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A request that cannot be served; carries a registry code. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}
