// shardline/producer: the KPL equivalent for any Kinesis endpoint (Shardline, AWS, kinesalite).
export { Producer, type ProducerOptions, type ProducerRecord, type PutResult, type ProducerStats, type AggregationOptions } from './producer.js';
export { ProducerError, type AttemptFailure } from './errors.js';
export type { ShardRateLimit } from './rateLimiter.js';
export type { OpenShard } from './shardMap.js';
export { aggregate, deaggregate, isAggregated, AggregateBuilder, type UserRecord, type DeaggregatedRecord } from '../stream/kinesis/aggregation.js';
