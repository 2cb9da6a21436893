// Enhanced fan-out consumer operations (not in kinesalite; model order).

import { consumerArn, consumerName, integer, nextToken, streamArn, streamId, tagMap, timestamp } from '../shapes.js';
import type { OperationRules } from '../types.js';

// Deregister/Describe take either ConsumerARN or StreamARN+ConsumerName; which
// combination is acceptable is the operation's InvalidArgumentException.
const consumerRef: OperationRules = {
  StreamARN: streamArn(),
  ConsumerName: consumerName(),
  ConsumerARN: consumerArn(),
  StreamId: streamId(),
};

export const consumerRules: Record<string, OperationRules> = {
  RegisterStreamConsumer: {
    StreamARN: streamArn({ notNull: true }),
    ConsumerName: consumerName({ notNull: true }),
    Tags: tagMap(),
    StreamId: streamId(),
  },
  DeregisterStreamConsumer: consumerRef,
  DescribeStreamConsumer: consumerRef,
  ListStreamConsumers: {
    StreamARN: streamArn({ notNull: true }),
    NextToken: nextToken(),
    MaxResults: integer(1, 10000),
    StreamCreationTimestamp: timestamp(),
    StreamId: streamId(),
  },
};
