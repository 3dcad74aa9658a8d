// How the bench writes numbers, errors and command lines, and its progress notes.

export function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return '-';
  return x.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function note(line: string): void {
  process.stdout.write(`  ${line}\n`);
}

export function reason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return reason(err.errors[0]);
  return err instanceof Error ? err.message || err.name : String(err);
}

/** `//user:secret@` becomes `//user:***@`, for what goes into logs and results. */
export function redactArg(a: string): string {
  return a.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
