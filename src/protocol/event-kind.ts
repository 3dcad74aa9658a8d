// Which shape a parsed server frame claims to be: the server-side decoder and the page's
// generated checks look a frame up the same way, so they refuse the same unknown kinds.

/**
 * The entry for a frame's kind: `events` under its `type`, or for a result `results` under its
 * `of`; undefined when the frame is no kind of the protocol's (own keys only).
 */
export function byKind<C>(
  frame: Record<string, unknown>,
  events: Readonly<Record<string, C>>,
  results: Readonly<Record<string, C>>,
): C | undefined {
  const { type, of } = frame;
  if (type === 'result')
    return typeof of === 'string' && Object.hasOwn(results, of) ? results[of] : undefined;
  return typeof type === 'string' && Object.hasOwn(events, type) ? events[type] : undefined;
}

/** A parsed frame when it is a JSON object, else null. */
export function parseObject(frame: string): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(frame);
  } catch {
    return null;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : null;
}
