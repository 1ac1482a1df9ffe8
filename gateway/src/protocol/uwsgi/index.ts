export * from './constants.js';
export * from './decoder.js';
export * from './encoder.js';
