// Data-plane operations: writing, iterating and reading records.

import {
  SHARD_ITERATOR_TYPES,
  arnTail,
  consumerArn,
  enumOf,
  hashKey,
  integer,
  sequenceNumber,
  shardId,
  streamId,
  streamName,
  string,
  timestamp,
} from '../shapes.js';
import type { OperationRules, Shape } from '../types.js';

// No maximum on Data here: the per-record limit depends on the stream's
// MaxRecordSizeInKiB (up to 10 MiB), so PutRecord/PutRecords enforce it.
const data = (): Shape => ({ type: 'Blob', notNull: true });

const partitionKey = () => string(1, 256, { notNull: true });

export const recordRules: Record<string, OperationRules> = {
  PutRecord: {
    SequenceNumberForOrdering: sequenceNumber(),
    PartitionKey: partitionKey(),
    ExplicitHashKey: hashKey(),
    Data: data(),
    StreamName: streamName(),
    ...arnTail(),
  },
  PutRecords: {
    Records: {
      type: 'List',
      notNull: true,
      minLength: 1,
      maxLength: 500,
      // AWS prints each entry as a Java object reference.
      memberStr: 'com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310',
      member: {
        type: 'Structure',
        members: {
          PartitionKey: partitionKey(),
          ExplicitHashKey: hashKey(),
          Data: data(),
        },
      },
    },
    StreamName: streamName(),
    ...arnTail(),
  },
  GetRecords: {
    Limit: integer(1, 10000),
    ShardIterator: string(1, 512, { notNull: true }),
    ...arnTail(),
  },
  GetShardIterator: {
    ShardId: shardId({ notNull: true }),
    ShardIteratorType: enumOf(SHARD_ITERATOR_TYPES, { notNull: true }),
    StartingSequenceNumber: sequenceNumber(),
    StreamName: streamName(),
    Timestamp: timestamp(),
    ...arnTail(),
  },
  SubscribeToShard: {
    ConsumerARN: consumerArn({ notNull: true }),
    ShardId: shardId({ notNull: true }),
    StartingPosition: {
      type: 'Structure',
      notNull: true,
      members: {
        Type: enumOf(SHARD_ITERATOR_TYPES, { notNull: true }),
        SequenceNumber: sequenceNumber(),
        Timestamp: timestamp(),
      },
    },
    StreamId: streamId(),
  },
};
