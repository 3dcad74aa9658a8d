// The wire: types, codecs and rules shared by the server and the browser. Pure: no I/O.
export * from './types.js';
export * from './errors.js';
export * from './rules.js';
export * from './json-codec.js';
export * from './text-codec.js';
export * from './log-entries.js';
export * from './event-kind.js';
export * from './access-schema.js';
export * from './lifecycle-schema.js';
export * from './search-schema.js';
export * from './read-schema.js';
