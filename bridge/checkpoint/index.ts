/** The bridge's durable progress: the checkpoint file (store.ts) and the schemas of its parts. */
export * from './store.js';
export * from '../../src/core/bliss/stream-ids.js';
export * from './bluesky.js';
export * from './lima.js';
export { CheckpointError } from '../errors.js';
