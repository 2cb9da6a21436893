// X-Amz-Target operation name → implementation.
import type { Operation } from './context.js';
import {
  createStream, deleteStreamOp, describeStream, describeStreamSummary, listStreams,
  increaseRetention, decreaseRetention, describeLimits,
} from './ops/streams.js';
import { putRecord, putRecords } from './ops/put.js';
import { getRecords, getShardIterator } from './ops/read.js';
import { listShards } from './ops/listShards.js';
import { splitShard, mergeShards, updateShardCount, updateStreamMode } from './ops/reshard.js';
import {
  registerStreamConsumer, deregisterStreamConsumer, describeStreamConsumer, listStreamConsumers,
} from './ops/consumers.js';
import { subscribeToShard, type StreamingOperation } from './subscribe.js';
import {
  addTagsToStream, removeTagsFromStream, listTagsForStream, tagResource, untagResource, listTagsForResource,
} from './ops/tags.js';
import { startStreamEncryption, stopStreamEncryption } from './ops/encryption.js';
import { enableEnhancedMonitoring, disableEnhancedMonitoring } from './ops/monitoring.js';
import { putResourcePolicy, getResourcePolicy, deleteResourcePolicy } from './ops/policies.js';
import { updateMaxRecordSize, describeAccountSettings, updateAccountSettings } from './ops/settings.js';

export const OPERATIONS: Record<string, Operation> = {
  CreateStream: createStream,
  DeleteStream: deleteStreamOp,
  DescribeStream: describeStream,
  DescribeStreamSummary: describeStreamSummary,
  ListStreams: listStreams,
  ListShards: listShards,
  PutRecord: putRecord,
  PutRecords: putRecords,
  GetShardIterator: getShardIterator,
  GetRecords: getRecords,
  IncreaseStreamRetentionPeriod: increaseRetention,
  DecreaseStreamRetentionPeriod: decreaseRetention,
  DescribeLimits: describeLimits,
  AddTagsToStream: addTagsToStream,
  RemoveTagsFromStream: removeTagsFromStream,
  ListTagsForStream: listTagsForStream,
  TagResource: tagResource,
  UntagResource: untagResource,
  ListTagsForResource: listTagsForResource,
  SplitShard: splitShard,
  MergeShards: mergeShards,
  UpdateShardCount: updateShardCount,
  UpdateStreamMode: updateStreamMode,
  StartStreamEncryption: startStreamEncryption,
  StopStreamEncryption: stopStreamEncryption,
  EnableEnhancedMonitoring: enableEnhancedMonitoring,
  DisableEnhancedMonitoring: disableEnhancedMonitoring,
  PutResourcePolicy: putResourcePolicy,
  GetResourcePolicy: getResourcePolicy,
  DeleteResourcePolicy: deleteResourcePolicy,
  UpdateMaxRecordSize: updateMaxRecordSize,
  DescribeAccountSettings: describeAccountSettings,
  UpdateAccountSettings: updateAccountSettings,
  RegisterStreamConsumer: registerStreamConsumer,
  DeregisterStreamConsumer: deregisterStreamConsumer,
  DescribeStreamConsumer: describeStreamConsumer,
  ListStreamConsumers: listStreamConsumers,
};

/** Operations answered with an event stream written as it goes. */
export const STREAMING_OPERATIONS: Record<string, StreamingOperation> = {
  SubscribeToShard: subscribeToShard,
};
