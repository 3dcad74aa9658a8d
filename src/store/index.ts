// Message stores: SQLite (embedded default) and PostgreSQL (cluster).
export type { MessageStore, Draft, Committed } from './types.js';
export { openSqliteStore } from './sqlite.js';
