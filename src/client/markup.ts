// The message format lives with the protocol: the server counts mentions by the same rules.
export * from '../protocol/markup.js';
