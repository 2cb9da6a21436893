// The batching suite's imports from the library, in one place.
export * from '../../consumer/index.js';
export { eventBytes as eventBytesForTest } from '../../consumer/batching/shardBatcher.js';
