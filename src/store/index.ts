// Message stores: SQLite (embedded default) and PostgreSQL (cluster).
export type { MessageStore, Draft, MessageDraft, Committed } from './types.js';
export { openSqliteStore } from './sqlite.js';
export { openStore } from './open-store.js';
export { openPostgresStore } from './postgres.js';
export type { PostgresStoreOptions } from './postgres.js';
