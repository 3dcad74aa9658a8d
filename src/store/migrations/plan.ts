// The numbered steps of the schema, shared by both stores: each store writes every step in its
// own SQL, and records the steps it ran in `schema_migrations` (version, name, applied_at).
//
// A database written before the steps were recorded has no such table, and is taken to be at
// version 0: steps 1 to 3 are written to hold on every layout an unrecorded Parley left (tables
// made if missing, a column dropped or added only where it still is or is not). Later steps run
// only on recorded databases, and need not.

export interface Step {
  version: number;
  name: string;
}

/** The steps every store has, in order; a store's steps must match these one for one. */
export const STEPS: readonly Step[] = [
  { version: 1, name: 'initial' },
  { version: 2, name: 'rooms numbered from their messages' },
  { version: 3, name: 'name skeletons and settings' },
  { version: 4, name: 'user ids of names and senders' },
  { version: 5, name: 'direct rooms between user ids' },
  { version: 6, name: 'accounts, sessions, rooms with owners, audit' },
  { version: 7, name: 'message lifecycle' },
  { version: 8, name: 'search index' },
  { version: 9, name: 'read markers' },
];

export const LATEST_VERSION = STEPS.length;

/** The step of this number, for a store's own list. */
export function named(version: number): Step {
  const step = STEPS[version - 1];
  if (!step) throw new Error(`no schema step ${version}`);
  return step;
}

export class SchemaTooNewError extends Error {
  constructor(
    readonly version: number,
    readonly latest: number,
  ) {
    super(
      `this database is at schema version ${version}; this Parley knows up to ${latest}: ` +
        'upgrade Parley',
    );
    this.name = 'SchemaTooNewError';
  }
}

/**
 * The steps to run on a database at `current` (0 for an empty one). A database from a newer
 * Parley is refused rather than guessed at: its layout may mean what this code cannot know.
 */
export function pendingSteps<S extends Step>(steps: readonly S[], current: number): S[] {
  if (steps.length !== STEPS.length || steps.some((s, i) => s.version !== STEPS[i]?.version)) {
    throw new Error('the store steps do not match the numbered schema steps');
  }
  if (current > LATEST_VERSION) throw new SchemaTooNewError(current, LATEST_VERSION);
  return steps.filter((s) => s.version > current);
}
