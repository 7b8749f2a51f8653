export * from './error-codes.js';
export * from './sas.js';
export * from './connection-string.js';
export * from './topics.js';
