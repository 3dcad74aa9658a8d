// The one registry of Parley's errors: a stable code, a human message, its HTTP status, and the
// WebSocket close code when the error ends the connection. Every codec renders an error from its
// entry here; README's "Error codes" lists every entry (tested).

import type { ErrorEvent } from './types.js';

export interface ErrorSpec {
  /** Shown to users and logged. */
  message: string;
  /** The HTTP status that answers it. */
  status: number;
  /** Set when the error closes the connection. */
  close?: number;
}

export const ERRORS = {
  BAD_JSON: { message: 'The frame is not valid JSON.', status: 400 },
  BAD_REQUEST: {
    message: 'The request is missing a field or has a field of the wrong type.',
    status: 400,
  },
  UNKNOWN_TYPE: { message: 'Unknown request type.', status: 400 },
  UNKNOWN_COMMAND: { message: 'Unknown command; /help lists them.', status: 400 },
  NAME_INVALID: {
    message:
      'Names are 1 to 32 characters with no spaces, control, zero-width or direction characters.',
    status: 400,
  },
  NAME_TAKEN: { message: 'That name is in use by someone else.', status: 409 },
  NAME_RESERVED: {
    message: 'That name is taken; if it is yours, sign in (or give the key you took it with).',
    status: 409,
  },
  ROOM_INVALID: {
    message:
      'Room names are 1 to 32 characters with no spaces, control, zero-width or direction characters, and do not start with @.',
    status: 400,
  },
  NOT_IN_ROOM: { message: 'Join the room first.', status: 403 },
  NO_SUCH_USER: { message: 'No one has that name.', status: 404 },
  TEXT_INVALID: {
    message: 'A message must have text and no control characters but newlines and tabs.',
    status: 400,
  },
  TEXT_TOO_LONG: {
    message: 'A message is at most 16 KiB of UTF-8 text; shorten it or send it in parts.',
    status: 413,
  },
  CID_INVALID: {
    message: 'A client message id is 1 to 64 characters of letters, digits, - and _.',
    status: 400,
  },
  TOO_MANY_ROOMS: { message: 'You are in too many rooms; leave one first.', status: 403 },
  ROOM_LIMIT: {
    message: 'Too many new rooms were made lately; join an existing one or try later.',
    status: 429,
  },
  RATE_LIMITED: { message: 'Too many messages; slow down.', status: 429 },
  STORE_UNAVAILABLE: {
    message: 'The message could not be stored; it was not sent. Try again.',
    status: 503,
  },
  NAME_REQUIRED: {
    message: 'Take a name first (/nick NAME) to send direct messages.',
    status: 403,
  },
  // Accounts and access.
  ACCOUNT_REQUIRED: {
    message: 'Sign in or register first; guests may only talk in rooms open to guests.',
    status: 401,
  },
  GUESTS_OFF: {
    message: 'This server has no guests: sign in (/login NAME PASSWORD) or register.',
    status: 401,
  },
  LOGIN_FAILED: { message: 'Wrong name or password.', status: 401 },
  LOGIN_THROTTLED: {
    message: 'Too many sign-in attempts; wait a few minutes and try again.',
    status: 429,
  },
  PASSWORD_WEAK: {
    message: 'A password is 8 to 256 characters, with no spaces at either end.',
    status: 400,
  },
  REGISTRATION_CLOSED: {
    message: 'This server takes no new accounts; ask its owner.',
    status: 403,
  },
  INVITE_REQUIRED: {
    message: 'New accounts on this server need an invite link.',
    status: 403,
  },
  TICKET_INVALID: { message: 'That link is unknown, used up or expired.', status: 403 },
  FORBIDDEN: { message: 'You may not do that here.', status: 403 },
  NO_SUCH_ROOM: { message: 'There is no such room.', status: 404 },
  BANNED: { message: 'You are banned from this room.', status: 403 },
  MUTED: { message: 'You are muted in this room.', status: 403 },
  DURATION_INVALID: {
    message: 'A duration is a number and a unit: 30m, 2h or 7d.',
    status: 400,
  },
  // Editing, removing, reacting to and answering messages.
  NO_SUCH_MESSAGE: { message: 'There is no such message in this room.', status: 404 },
  MESSAGE_REMOVED: { message: 'That message was removed.', status: 409 },
  NOT_YOUR_MESSAGE: {
    message: 'You may edit and remove only your own messages.',
    status: 403,
  },
  EDIT_WINDOW_PASSED: {
    message: 'That message is too old to edit (--edit-window).',
    status: 403,
  },
  EMOJI_INVALID: { message: 'A reaction is one emoji.', status: 400 },
  TOO_MANY_REACTIONS: {
    message: 'That message has as many different reactions as it can take.',
    status: 409,
  },
  QUERY_INVALID: { message: 'Say what to search for: a word or more.', status: 400 },
  INTERNAL: { message: 'Something went wrong on the server; try again.', status: 500 },
  // Errors of the HTTP port only.
  NOT_FOUND: { message: 'Not found.', status: 404 },
  METHOD_NOT_ALLOWED: { message: 'Only GET and HEAD are served here.', status: 405 },
  HOST_NOT_ALLOWED: {
    message: 'This server does not answer to that host name; --allowed-hosts adds it.',
    status: 421,
  },
  ORIGIN_NOT_ALLOWED: {
    message: 'Pages from that origin may not connect; --allowed-origins adds it.',
    status: 403,
  },
  OPERATOR_ONLY: {
    message: 'Metrics are served to loopback or with --metrics-token.',
    status: 403,
  },
  // Errors that end the connection.
  MESSAGE_TOO_BIG: { message: 'Message too big.', status: 413, close: 1009 },
  INVALID_UTF8: { message: 'Text frames must be valid UTF-8.', status: 400, close: 1007 },
  BINARY_UNSUPPORTED: { message: 'Only text frames are accepted.', status: 415, close: 1003 },
  POLICY_VIOLATION: { message: 'Too many bad or excess messages.', status: 429, close: 1008 },
  SLOW_CONSUMER: { message: 'Too far behind; reconnect to catch up.', status: 503, close: 1013 },
  SHUTTING_DOWN: { message: 'The server is going away.', status: 503, close: 1001 },
  SERVER_BUSY: {
    message: 'The server is busy catching up; try again in a few seconds.',
    status: 503,
    close: 1013,
  },
  RESTARTING: { message: 'The server is restarting.', status: 503, close: 1012 },
  SESSION_ENDED: {
    message: 'This session was ended; sign in again.',
    status: 401,
    close: 4001,
  },
  SERVER_BANNED: { message: 'You are banned from this server.', status: 403, close: 4003 },
  RESYNC_FAILED: {
    message: 'Could not catch up from history; reconnect to try again.',
    status: 500,
    close: 1011,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes that end the connection. */
export type ClosingCode = {
  [K in ErrorCode]: (typeof ERRORS)[K] extends { close: number } ? K : never;
}[ErrorCode];

/** A request that cannot be served; carries a registry code. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    /** When trying again can work: HTTP sends it as Retry-After. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}

/** A code, or a ChatError that may say more than its code's message. */
export type ErrorLike = ErrorCode | ChatError;

function parts(e: ErrorLike): { code: ErrorCode; message: string } {
  return typeof e === 'string' ? { code: e, message: ERRORS[e].message } : e;
}

/** JSON mode's error frame, echoing the request's id. */
export function errorFrame(e: ErrorLike, id?: string): ErrorEvent {
  const { code, message } = parts(e);
  return { type: 'error', id, code, message };
}

/** Text mode's error line. */
export function errorLine(e: ErrorLike): string {
  return `! ${parts(e).message}`;
}

/** The HTTP answer: the code's status and a JSON body. */
export function httpError(e: ErrorLike): {
  status: number;
  body: { error: { code: ErrorCode; message: string } };
} {
  const { code, message } = parts(e);
  return { status: ERRORS[code].status, body: { error: { code, message } } };
}

/** The WebSocket close: the code's close code, and the code itself as the reason. */
export function closeFrame(code: ClosingCode): { code: number; reason: string } {
  return { code: ERRORS[code].close, reason: code };
}

/** Ends a connection with a closing code. */
export function closeWith(
  peer: { close(code: number, reason: string): void },
  code: ClosingCode,
): void {
  const frame = closeFrame(code);
  peer.close(frame.code, frame.reason);
}
