// Stream lifecycle and configuration operations. Members kinesalite knows come
// first in its (Kinesis') reporting order; newer members follow in model order.

import {
  arnTail,
  boolean,
  enumOf,
  integer,
  nextToken,
  shardId,
  streamArn,
  streamId,
  streamModeDetails,
  streamName,
  string,
  tagMap,
} from '../shapes.js';
import type { OperationRules, Shape } from '../types.js';
import { SHARD_LEVEL_METRICS } from '../../../../stream/enhancedMonitoring.js';

const METRICS = [...SHARD_LEVEL_METRICS, 'ALL'];

const shardLevelMetrics: Shape = {
  type: 'List',
  notNull: true,
  minLength: 1,
  maxLength: 7,
  memberEnum: METRICS,
  member: { type: 'String' },
};

// kinesalite caps retention at 168; Kinesis now allows up to 8760 and the model
// has no range, so only the floor kinesalite recorded stays here.
const retention: OperationRules = {
  RetentionPeriodHours: integer(1, undefined, { notNull: true }),
  StreamName: streamName(),
  ...arnTail(),
};

const encryption: OperationRules = {
  StreamName: streamName(),
  EncryptionType: enumOf(['NONE', 'KMS'], { notNull: true }),
  KeyId: string(1, 2048, { notNull: true }),
  ...arnTail(),
};

const monitoring: OperationRules = {
  StreamName: streamName(),
  ShardLevelMetrics: shardLevelMetrics,
  ...arnTail(),
};

export const streamRules: Record<string, OperationRules> = {
  CreateStream: {
    // Optional now: on-demand streams have no shard count; no upper bound in the model.
    ShardCount: integer(1),
    StreamName: streamName({ notNull: true }),
    StreamModeDetails: streamModeDetails(),
    Tags: tagMap(),
    WarmThroughputMiBps: integer(0),
    MaxRecordSizeInKiB: integer(1024, 10240),
  },
  DeleteStream: {
    StreamName: streamName(),
    EnforceConsumerDeletion: boolean(),
    ...arnTail(),
  },
  DescribeStream: {
    Limit: integer(1, 10000),
    ExclusiveStartShardId: shardId(),
    StreamName: streamName(),
    ...arnTail(),
  },
  DescribeStreamSummary: {
    StreamName: streamName(),
    ...arnTail(),
  },
  ListStreams: {
    Limit: integer(1, 10000),
    ExclusiveStartStreamName: streamName(),
    NextToken: nextToken(),
  },
  IncreaseStreamRetentionPeriod: retention,
  DecreaseStreamRetentionPeriod: retention,
  StartStreamEncryption: encryption,
  StopStreamEncryption: encryption,
  EnableEnhancedMonitoring: monitoring,
  DisableEnhancedMonitoring: monitoring,
  UpdateShardCount: {
    ScalingType: enumOf(['UNIFORM_SCALING'], { notNull: true }),
    StreamName: streamName(),
    // kinesalite caps at 100000; the model only sets the floor.
    TargetShardCount: integer(1, undefined, { notNull: true }),
    ...arnTail(),
  },
  UpdateStreamMode: {
    StreamARN: streamArn({ notNull: true }),
    StreamModeDetails: streamModeDetails({ notNull: true }),
    WarmThroughputMiBps: integer(0),
    StreamId: streamId(),
  },
  UpdateMaxRecordSize: {
    MaxRecordSizeInKiB: integer(1024, 10240, { notNull: true }),
    ...arnTail(),
  },
  UpdateStreamWarmThroughput: {
    StreamName: streamName(),
    WarmThroughputMiBps: integer(0, undefined, { notNull: true }),
    ...arnTail(),
  },
};
