// Shard listing and resharding operations.

import { arnTail, enumOf, hashKey, integer, nextToken, shardId, streamName, timestamp } from '../shapes.js';
import type { OperationRules } from '../types.js';

export const shardRules: Record<string, OperationRules> = {
  ListShards: {
    ExclusiveStartShardId: shardId(),
    MaxResults: integer(1, 10000),
    NextToken: nextToken(),
    StreamCreationTimestamp: timestamp(),
    StreamName: streamName(),
    ShardFilter: {
      type: 'Structure',
      members: {
        Type: enumOf(
          ['AFTER_SHARD_ID', 'AT_TRIM_HORIZON', 'FROM_TRIM_HORIZON', 'AT_LATEST', 'AT_TIMESTAMP', 'FROM_TIMESTAMP'],
          { notNull: true },
        ),
        ShardId: shardId(),
        Timestamp: timestamp(),
      },
    },
    ...arnTail(),
  },
  MergeShards: {
    ShardToMerge: shardId({ notNull: true }),
    AdjacentShardToMerge: shardId({ notNull: true }),
    StreamName: streamName(),
    ...arnTail(),
  },
  SplitShard: {
    NewStartingHashKey: hashKey({ notNull: true }),
    StreamName: streamName(),
    ShardToSplit: shardId({ notNull: true }),
    ...arnTail(),
  },
};
