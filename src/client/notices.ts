// What the page says in words for a close, a refused name, a text that cannot be sent.

import {
  ERRORS,
  TEXT_MAX_BYTES,
  isTextTooLong,
  isValidText,
  utf8Length,
  type ErrorCode,
} from '../protocol/index.js';

/** Kilobytes with one decimal, rounded up so that "over by" is never 0.0. */
function kb(bytes: number): string {
  return (Math.ceil(bytes / 102.4) / 10).toFixed(1);
}

/** What a close means for the person, in words; nothing when "Connection lost." says it all. */
export function closeNotice(code: number, reason: string): string | undefined {
  const known = Object.hasOwn(ERRORS, reason) ? (reason as ErrorCode) : undefined;
  const close = (known && (ERRORS[known] as { close?: number }).close) || code;
  switch (close) {
    case 1001:
      return 'The server is stopping, maybe to restart; reconnecting once it is back…';
    case 1012:
      return 'The server is restarting; reconnecting…';
    case 1013:
      return 'This page fell behind; reconnecting to catch up…';
    case 1011:
      return 'The server could not catch this page up; reconnecting to try again…';
    case 1008:
      return 'The server closed the connection after too many bad or excess messages; reconnecting…';
    case 1009:
      return 'The server closed the connection: a message was too big. Reconnecting…';
    case 1003:
    case 1007:
      return 'The server closed the connection after a frame it could not read; reconnecting…';
    default:
      if (known) return `${ERRORS[known].message} Reconnecting…`;
      return reason ? `The connection closed (${reason}); reconnecting…` : undefined;
  }
}

export function clip(text: string, n = 200): string {
  return text.length > n ? `${text.slice(0, n)}…` : text;
}

export function nameError(name: string, code: ErrorCode, message: string): string {
  switch (code) {
    case 'NAME_TAKEN':
      return `Someone connected right now is called ${name}. Pick another name.`;
    case 'NAME_RESERVED':
      return `${name} belongs to someone else (it is kept for their browser). Pick another name.`;
    case 'NAME_INVALID':
      return message;
    case 'RATE_LIMITED':
      return 'Too many name changes; wait a minute and try again.';
    default:
      return message;
  }
}

/** Why a message cannot be sent as it is, or undefined when it can. */
export function textProblem(text: string): string | undefined {
  if (isTextTooLong(text)) {
    const n = utf8Length(text);
    return (
      `Too long to send: ${kb(n)} KB, ${kb(n - TEXT_MAX_BYTES)} KB over the ${TEXT_MAX_BYTES / 1024} KB limit. ` +
      'It is still in the box: shorten it or send it in parts.'
    );
  }
  if (!isValidText(text)) return ERRORS.TEXT_INVALID.message;
  return undefined;
}
