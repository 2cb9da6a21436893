// shardline/consumer: consumer groups over Shardline or any Kinesis endpoint (KCL equivalent).
export type * from './types.js';
export { Consumer } from './consumer.js';
export { LeaseLostError } from './shardRunner.js';
export { SHARD_END } from './leaseRecords.js';
export { directSource } from './sources/direct.js';
// directSource and kvLeaseStore take the stream library's NATS handle.
export { connectStore, type Store, type StoreOptions } from '../stream/connect.js';
export { kinesisSource, type KinesisSourceOptions } from './sources/kinesis.js';
export { kvLeaseStore, LEASES_BUCKET } from './leases/kv.js';
export { memoryLeaseStore } from './leases/memory.js';
export { fileLeaseStore } from './leases/file.js';
export { consumerMetrics, type ConsumerMetrics } from './metrics.js';
export { EventSourceMapping, type EventSourceMappingOptions, type BatchHandler } from './batching/eventSourceMapping.js';
export { validateSettings, InvalidSettingError, MAX_PAYLOAD_BYTES, type EventSourceMappingSettings } from './batching/settings.js';
export { dataStreamDestination, onFailureRecord, type FailureDestination, type OnFailureRecord, type FailureCondition } from './batching/failure.js';
export { toLambdaEvent, type KinesisEventRecord } from './batching/lambdaEvent.js';
