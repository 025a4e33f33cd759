export * from './chat.js';
export * from './errors.js';
export * from './json.js';
export * from './tier.js';
export * from './principal.js';
