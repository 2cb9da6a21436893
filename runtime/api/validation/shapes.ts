// Member shapes shared by many operations. Constraints follow the current
// Kinesis API reference (botocore's kinesis 2013-12-02 model); enum orders
// that kinesalite recorded from live Kinesis messages are kept as recorded.

import type { Shape } from './types.js';

export type Opt = { notNull?: boolean };

const NAME_PATTERN = '[a-zA-Z0-9_.-]+';

export const name = ({ notNull = false }: Opt = {}): Shape => ({
  type: 'String',
  notNull,
  pattern: NAME_PATTERN,
  minLength: 1,
  maxLength: 128,
});

/** StreamName, ShardId, ConsumerName and their Exclusive* cousins share one shape. */
export const streamName = name;
export const shardId = name;
export const consumerName = name;

const arn = (pattern: string, { notNull = false }: Opt = {}): Shape => ({
  type: 'String',
  notNull,
  pattern,
  minLength: 1,
  maxLength: 2048,
});

export const streamArn = (opt?: Opt) => arn('arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+', opt);

export const consumerArn = (opt?: Opt) =>
  arn('^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+', opt);

export const resourceArn = (opt?: Opt) => arn('arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+', opt);

/** "Not Implemented. Reserved for future use." in the reference, but validated all the same. */
export const streamId = (): Shape => ({
  type: 'String',
  pattern: '[a-z0-9]{20}-[a-z0-9]{3}',
  minLength: 1,
  maxLength: 24,
});

export const integer = (min?: number, max?: number, { notNull = false }: Opt = {}): Shape => ({
  type: 'Integer',
  notNull,
  min,
  max,
});

export const string = (minLength?: number, maxLength?: number, { notNull = false }: Opt = {}): Shape => ({
  type: 'String',
  notNull,
  minLength,
  maxLength,
});

export const nextToken = () => string(1, 1048576);

export const timestamp = (): Shape => ({ type: 'Timestamp' });

export const boolean = (): Shape => ({ type: 'Boolean' });

export const HASH_KEY_PATTERN = '0|([1-9]\\d{0,38})';
export const SEQUENCE_NUMBER_PATTERN = '0|([1-9]\\d{0,128})';

export const hashKey = ({ notNull = false }: Opt = {}): Shape => ({ type: 'String', notNull, pattern: HASH_KEY_PATTERN });

export const sequenceNumber = (): Shape => ({ type: 'String', pattern: SEQUENCE_NUMBER_PATTERN });

/** In the order Kinesis lists them (kinesalite's GetShardIterator tests). */
export const SHARD_ITERATOR_TYPES = ['AFTER_SEQUENCE_NUMBER', 'LATEST', 'AT_TIMESTAMP', 'AT_SEQUENCE_NUMBER', 'TRIM_HORIZON'];

export const enumOf = (values: readonly string[], { notNull = false }: Opt = {}): Shape => ({
  type: 'String',
  notNull,
  enum: values,
});

export const tagMap = ({ notNull = false }: Opt = {}): Shape => ({
  type: 'Map',
  notNull,
  minLength: 1,
  maxLength: 200,
  keyLengths: [1, 128],
  valueLengths: [0, 256],
  member: { type: 'String' },
});

export const tagKeyList = ({ notNull = false }: Opt = {}): Shape => ({
  type: 'List',
  notNull,
  minLength: 1,
  maxLength: 50,
  memberLengths: [1, 128],
  member: { type: 'String' },
});

export const streamModeDetails = ({ notNull = false }: Opt = {}): Shape => ({
  type: 'Structure',
  notNull,
  members: { StreamMode: enumOf(['PROVISIONED', 'ON_DEMAND'], { notNull: true }) },
});

/**
 * Members current Kinesis added after kinesalite's tables were recorded; they go
 * after the recorded members. StreamName and StreamARN are both optional where
 * either may be given: "neither" is the operation's InvalidArgumentException.
 */
export const arnTail = () => ({ StreamARN: streamArn(), StreamId: streamId() });
