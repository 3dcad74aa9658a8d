// The page's generated event checks (scripts/event-checks.ts), provided by the page build.
declare module 'parley:event-checks' {
  type Check = (value: unknown) => boolean;
  /** A check for each event under its `type` (results excepted). */
  export const EVENT_CHECKS: Readonly<Record<string, Check>>;
  /** A check for each result under its `of`. */
  export const RESULT_CHECKS: Readonly<Record<string, Check>>;
}
