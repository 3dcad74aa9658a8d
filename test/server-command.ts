// A server a test starts as its own process runs the way the test itself runs: compiled by
// `npm test` (scripts/test.mjs), or from source through tsx when a file is run on its own.

const compiled = import.meta.url.endsWith('.js');

/** Node's arguments to run `src/server/main` before the server's own. */
export function serverCommand(): string[] {
  return compiled ? ['src/server/main.js'] : ['--import', 'tsx', 'src/server/main.ts'];
}
