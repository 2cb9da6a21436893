// Tagging, by stream (kinesalite's tables) and by resource ARN (model order).
// Kinesis has since raised the limits kinesalite recorded (10 tags, 10 keys,
// Limit 10) to the model's 200 / 50 / 50.

import { arnTail, integer, resourceArn, streamId, streamName, string, tagKeyList, tagMap } from '../shapes.js';
import type { OperationRules } from '../types.js';

export const tagRules: Record<string, OperationRules> = {
  AddTagsToStream: {
    Tags: tagMap({ notNull: true }),
    StreamName: streamName(),
    ...arnTail(),
  },
  RemoveTagsFromStream: {
    TagKeys: tagKeyList({ notNull: true }),
    StreamName: streamName(),
    ...arnTail(),
  },
  ListTagsForStream: {
    Limit: integer(1, 50),
    ExclusiveStartTagKey: string(1, 128),
    StreamName: streamName(),
    ...arnTail(),
  },
  TagResource: {
    Tags: tagMap({ notNull: true }),
    ResourceARN: resourceArn({ notNull: true }),
    StreamId: streamId(),
  },
  UntagResource: {
    TagKeys: tagKeyList({ notNull: true }),
    ResourceARN: resourceArn({ notNull: true }),
    StreamId: streamId(),
  },
  ListTagsForResource: {
    ResourceARN: resourceArn({ notNull: true }),
    StreamId: streamId(),
  },
};
