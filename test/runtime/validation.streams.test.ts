// Stream lifecycle and configuration operations: kinesalite's suites where it
// has them (CreateStream, DeleteStream, DescribeStream*, ListStreams, retention,
// UpdateShardCount), the API reference's constraints for the rest.

import { describe, expect, it } from '@jest/globals';
import { validateRequest } from '../../runtime/api/validation/index.js';
import {
  ARN,
  NAME,
  STREAM_ARN,
  bad,
  emptyArnTail,
  emptyStreamRef,
  expectValidation,
  gte,
  isNull,
  long,
  lte,
  maxLen,
  minLen,
  oneOf,
  pattern,
  serializations,
} from './validation.helpers.js';

describe('CreateStream', () => {
  const op = 'CreateStream';

  serializations(op, [
    ['StreamName', 'String'],
    ['ShardCount', 'Integer'],
    ['StreamModeDetails', 'Structure'],
    ['StreamModeDetails.StreamMode', 'String'],
    ['Tags', 'Map'],
    ['Tags.a', 'String'],
    ['WarmThroughputMiBps', 'Integer'],
    ['MaxRecordSizeInKiB', 'Integer'],
  ]);

  it('ValidationException for no StreamName (ShardCount is optional for on-demand streams)', () => {
    expectValidation(op, {}, ["Value null at 'streamName' failed to satisfy constraint: Member must not be null"]);
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', ShardCount: 0 }, [
      "Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName (a huge ShardCount is the shard limit’s business)', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, ShardCount: 100000000000 }, [
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('ValidationException for StreamModeDetails without StreamMode', () => {
    expectValidation(op, { StreamName: 's', StreamModeDetails: {} }, [isNull('streamModeDetails.streamMode')]);
  });

  it('ValidationException for an unknown StreamMode', () => {
    expectValidation(op, { StreamName: 's', StreamModeDetails: { StreamMode: 'on_demand' } }, [
      bad('on_demand', 'streamModeDetails.streamMode', oneOf(['PROVISIONED', 'ON_DEMAND'])),
    ]);
  });

  it('ValidationException for empty Tags and out-of-range numbers', () => {
    expectValidation(op, { StreamName: 's', Tags: {}, WarmThroughputMiBps: -1, MaxRecordSizeInKiB: 1023 }, [
      bad('{}', 'tags', minLen(1)),
      bad(-1, 'warmThroughputMiBps', gte(0)),
      bad(1023, 'maxRecordSizeInKiB', gte(1024)),
    ]);
    expectValidation(op, { StreamName: 's', MaxRecordSizeInKiB: 10241 }, [bad(10241, 'maxRecordSizeInKiB', lte(10240))]);
  });

  it('ValidationException for too many tags', () => {
    const tags = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`k${i}`, 'v']));
    const shown = Object.keys(tags).map((k) => `${k}=v`).join(', ');
    expectValidation(op, { StreamName: 's', Tags: tags }, [bad(`{${shown}}`, 'tags', maxLen(200))]);
  });

  it('returns a valid on-demand request as given', () => {
    const body = {
      StreamName: 's',
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      Tags: { team: 'data', empty: '' },
      WarmThroughputMiBps: 0,
      MaxRecordSizeInKiB: 10240,
    };
    expect(validateRequest(op, body, 'json')).toEqual(body);
  });
});

describe('DeleteStream', () => {
  const op = 'DeleteStream';

  serializations(op, [
    ['StreamName', 'String'],
    ['EnforceConsumerDeletion', 'Boolean'],
    ['StreamARN', 'String'],
    ['StreamId', 'String'],
  ]);

  it('accepts no members (StreamName or StreamARN is checked by the operation)', () => {
    expect(validateRequest(op, {}, 'json')).toEqual({});
  });

  it('ValidationException for empty StreamName, StreamARN and StreamId', () => {
    expectValidation(op, { StreamName: '', StreamARN: '', StreamId: '' }, [...emptyStreamRef, ...emptyArnTail]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name }, [
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('ValidationException for a long StreamARN', () => {
    const arn = `${ARN}${long(2048 - ARN.length + 1)}`;
    expectValidation(op, { StreamARN: arn }, [bad(arn, 'streamARN', maxLen(2048))]);
  });

  it.each([
    'arn:aws:kinesis:us-east-1:12345678901:stream/s',
    'arn:aws:kinesis:us-east-1:123456789012:stream/',
    'arn:aws:kinesis:us-east-1:123456789012:stream/a b',
    'arn:aws:sqs:us-east-1:123456789012:stream/s',
    'aws:kinesis:us-east-1:123456789012:stream/s',
    's',
  ])('ValidationException for StreamARN %j', (arn) => {
    expectValidation(op, { StreamARN: arn }, [bad(arn, 'streamARN', pattern(STREAM_ARN))]);
  });

  it('keeps EnforceConsumerDeletion', () => {
    expect(validateRequest(op, { StreamARN: ARN, EnforceConsumerDeletion: true }, 'cbor')).toEqual({
      StreamARN: ARN,
      EnforceConsumerDeletion: true,
    });
  });
});

describe('DescribeStream', () => {
  const op = 'DescribeStream';

  serializations(op, [
    ['Limit', 'Integer'],
    ['ExclusiveStartShardId', 'String'],
    ['StreamName', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', Limit: 0, ExclusiveStartShardId: '' }, [
      "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
      "Value '' at 'exclusiveStartShardId' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
      "Value '' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, Limit: 100000, ExclusiveStartShardId: name }, [
      "Value '100000' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000",
      `Value '${name}' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length less than or equal to 128`,
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });
});

describe('DescribeStreamSummary', () => {
  const op = 'DescribeStreamSummary';

  serializations(op, [
    ['StreamName', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '' }, emptyStreamRef);
  });

  it('ValidationException for long StreamName', () => {
    expectValidation(op, { StreamName: long(129) }, [bad(long(129), 'streamName', maxLen(128))]);
  });

  it('ValidationException for a bad name character', () => {
    expectValidation(op, { StreamName: 'a*b' }, [
      "Value 'a*b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    ]);
  });
});

describe('ListStreams', () => {
  const op = 'ListStreams';

  serializations(op, [
    ['Limit', 'Integer'],
    ['ExclusiveStartStreamName', 'String'],
    ['NextToken', 'String'],
  ]);

  it('accepts no members', () => {
    expect(validateRequest(op, {}, 'json')).toEqual({});
  });

  it('ValidationException for empty ExclusiveStartStreamName', () => {
    expectValidation(op, { ExclusiveStartStreamName: '', Limit: 0, NextToken: '' }, [
      "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
      "Value '' at 'exclusiveStartStreamName' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
      "Value '' at 'exclusiveStartStreamName' failed to satisfy constraint: " +
        'Member must have length greater than or equal to 1',
      bad('', 'nextToken', minLen(1)),
    ]);
  });

  it('ValidationException for long ExclusiveStartStreamName', () => {
    const name = long(129);
    expectValidation(op, { ExclusiveStartStreamName: name, Limit: 100000 }, [
      "Value '100000' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000",
      `Value '${name}' at 'exclusiveStartStreamName' failed to satisfy constraint: ` +
        'Member must have length less than or equal to 128',
    ]);
  });
});

describe.each(['IncreaseStreamRetentionPeriod', 'DecreaseStreamRetentionPeriod'])('%s', (op) => {
  serializations(op, [
    ['RetentionPeriodHours', 'Integer'],
    ['StreamName', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [
      "Value null at 'retentionPeriodHours' failed to satisfy constraint: Member must not be null",
    ]);
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', RetentionPeriodHours: -1 }, [
      "Value '-1' at 'retentionPeriodHours' failed to satisfy constraint: Member must have value greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, RetentionPeriodHours: 24 }, [
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('leaves 24..8760 to the operation (no upper bound in validation)', () => {
    expect(validateRequest(op, { StreamARN: ARN, RetentionPeriodHours: 8761 }, 'json')).toEqual({
      StreamARN: ARN,
      RetentionPeriodHours: 8761,
    });
  });
});

describe('UpdateShardCount', () => {
  const op = 'UpdateShardCount';

  serializations(op, [
    ['StreamName', 'String'],
    ['ScalingType', 'String'],
    ['TargetShardCount', 'Integer'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [
      "Value null at 'scalingType' failed to satisfy constraint: Member must not be null",
      "Value null at 'targetShardCount' failed to satisfy constraint: Member must not be null",
    ]);
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', ScalingType: '', TargetShardCount: 0 }, [
      "Value '' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set: [UNIFORM_SCALING]",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '0' at 'targetShardCount' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, ScalingType: 'UNIFORM_SCALING', TargetShardCount: 1 }, [
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('leaves large TargetShardCount to the shard limits', () => {
    expect(validateRequest(op, { StreamName: 's', ScalingType: 'UNIFORM_SCALING', TargetShardCount: 100001 }, 'json'))
      .toMatchObject({ TargetShardCount: 100001 });
  });
});

describe.each(['StartStreamEncryption', 'StopStreamEncryption'])('%s', (op) => {
  serializations(op, [
    ['StreamName', 'String'],
    ['EncryptionType', 'String'],
    ['KeyId', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('encryptionType'), isNull('keyId')]);
  });

  it('ValidationException for empty strings', () => {
    expectValidation(op, { StreamName: '', EncryptionType: '', KeyId: '' }, [
      ...emptyStreamRef,
      bad('', 'encryptionType', oneOf(['NONE', 'KMS'])),
      bad('', 'keyId', minLen(1)),
    ]);
  });

  it('ValidationException for a long KeyId', () => {
    expectValidation(op, { StreamName: 's', EncryptionType: 'KMS', KeyId: long(2049) }, [
      bad(long(2049), 'keyId', maxLen(2048)),
    ]);
  });

  it('accepts a KMS alias', () => {
    const body = { StreamARN: ARN, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' };
    expect(validateRequest(op, body, 'json')).toEqual(body);
  });
});

describe.each(['EnableEnhancedMonitoring', 'DisableEnhancedMonitoring'])('%s', (op) => {
  const METRICS = [
    'IncomingBytes',
    'IncomingRecords',
    'OutgoingBytes',
    'OutgoingRecords',
    'WriteProvisionedThroughputExceeded',
    'ReadProvisionedThroughputExceeded',
    'IteratorAgeMilliseconds',
    'ALL',
  ];

  serializations(op, [
    ['StreamName', 'String'],
    ['ShardLevelMetrics', 'List'],
    ['ShardLevelMetrics.0', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('shardLevelMetrics')]);
  });

  it('ValidationException for an empty list', () => {
    expectValidation(op, { StreamName: 's', ShardLevelMetrics: [] }, [bad('[]', 'shardLevelMetrics', minLen(1))]);
  });

  it('ValidationException for an unknown metric, reported against the list', () => {
    expectValidation(op, { StreamName: '', ShardLevelMetrics: ['ALL', 'Bogus'] }, [
      ...emptyStreamRef,
      bad(
        '[ALL, Bogus]',
        'shardLevelMetrics',
        `Member must satisfy constraint: [Member must satisfy enum value set: [${METRICS.join(', ')}]]`,
      ),
    ]);
  });

  it('ValidationException for more than 7 metrics', () => {
    const metrics = [...METRICS, 'ALL'];
    expectValidation(op, { StreamName: 's', ShardLevelMetrics: metrics }, [
      bad(`[${metrics.join(', ')}]`, 'shardLevelMetrics', maxLen(7)),
    ]);
  });

  it('accepts every metric name', () => {
    const body = { StreamARN: ARN, ShardLevelMetrics: METRICS.slice(0, 7) };
    expect(validateRequest(op, body, 'json')).toEqual(body);
  });
});

describe('UpdateStreamMode', () => {
  const op = 'UpdateStreamMode';

  serializations(op, [
    ['StreamARN', 'String'],
    ['StreamModeDetails', 'Structure'],
    ['StreamModeDetails.StreamMode', 'String'],
    ['WarmThroughputMiBps', 'Integer'],
  ]);

  it('ValidationException for no members (StreamARN is required here)', () => {
    expectValidation(op, {}, [isNull('streamARN'), isNull('streamModeDetails')]);
  });

  it('ValidationException for a bad StreamARN and mode', () => {
    expectValidation(op, { StreamARN: 's', StreamModeDetails: { StreamMode: 'X' }, WarmThroughputMiBps: -5 }, [
      bad('s', 'streamARN', pattern(STREAM_ARN)),
      bad('X', 'streamModeDetails.streamMode', oneOf(['PROVISIONED', 'ON_DEMAND'])),
      bad(-5, 'warmThroughputMiBps', gte(0)),
    ]);
  });

  it('ignores a StreamName (not a member of this operation)', () => {
    expect(validateRequest(op, { StreamName: 'a*b', StreamARN: ARN, StreamModeDetails: { StreamMode: 'PROVISIONED' } }, 'json'))
      .toEqual({ StreamARN: ARN, StreamModeDetails: { StreamMode: 'PROVISIONED' } });
  });
});

describe('UpdateMaxRecordSize', () => {
  const op = 'UpdateMaxRecordSize';

  serializations(op, [
    ['MaxRecordSizeInKiB', 'Integer'],
    ['StreamARN', 'String'],
    ['StreamId', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('maxRecordSizeInKiB')]);
  });

  it.each([
    [1023, gte(1024)],
    [0, gte(1024)],
    [10241, lte(10240)],
  ])('ValidationException for MaxRecordSizeInKiB %j', (size, constraint) => {
    expectValidation(op, { StreamARN: ARN, MaxRecordSizeInKiB: size }, [bad(size, 'maxRecordSizeInKiB', constraint)]);
  });

  it.each([1024, 10240])('accepts %j', (size) => {
    expect(validateRequest(op, { StreamARN: ARN, MaxRecordSizeInKiB: size }, 'json')).toMatchObject({ MaxRecordSizeInKiB: size });
  });
});

describe('UpdateStreamWarmThroughput', () => {
  const op = 'UpdateStreamWarmThroughput';

  serializations(op, [
    ['StreamName', 'String'],
    ['WarmThroughputMiBps', 'Integer'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('warmThroughputMiBps')]);
  });

  it('ValidationException for bad values', () => {
    expectValidation(op, { StreamName: 'a b', WarmThroughputMiBps: -1 }, [
      bad('a b', 'streamName', pattern(NAME)),
      bad(-1, 'warmThroughputMiBps', gte(0)),
    ]);
  });
});
