// validateRequest in general: operation lookup, body shape, type checking and
// normalisation for both wire protocols, check ordering and the error cap.

import { describe, expect, it } from '@jest/globals';
import {
  OPERATIONS,
  isKnownOperation,
  streamRef,
  validateRequest,
} from '../../runtime/api/validation/index.js';
import {
  ARN,
  NAME,
  bad,
  errorOf,
  expectSerialization,
  expectValidation,
  isNull,
  long,
  maxLen,
  minLen,
  pattern,
} from './validation.helpers.js';

const ALL_OPERATIONS = [
  'AddTagsToStream', 'CreateStream', 'DecreaseStreamRetentionPeriod', 'DeleteResourcePolicy', 'DeleteStream',
  'DeregisterStreamConsumer', 'DescribeAccountSettings', 'DescribeLimits', 'DescribeStream',
  'DescribeStreamConsumer', 'DescribeStreamSummary', 'DisableEnhancedMonitoring', 'EnableEnhancedMonitoring',
  'GetRecords', 'GetResourcePolicy', 'GetShardIterator', 'IncreaseStreamRetentionPeriod', 'ListShards',
  'ListStreamConsumers', 'ListStreams', 'ListTagsForResource', 'ListTagsForStream', 'MergeShards', 'PutRecord',
  'PutRecords', 'PutResourcePolicy', 'RegisterStreamConsumer', 'RemoveTagsFromStream', 'SplitShard',
  'StartStreamEncryption', 'StopStreamEncryption', 'SubscribeToShard', 'TagResource', 'UntagResource',
  'UpdateAccountSettings', 'UpdateMaxRecordSize', 'UpdateShardCount', 'UpdateStreamMode',
  'UpdateStreamWarmThroughput',
];

describe('operations', () => {
  it.each(ALL_OPERATIONS)('knows %s', (op) => {
    expect(isKnownOperation(op)).toBe(true);
  });

  it('lists exactly the Kinesis operations', () => {
    expect([...OPERATIONS].sort()).toEqual([...ALL_OPERATIONS].sort());
  });

  it.each(['', 'putRecord', 'PutRecordz', 'toString', 'constructor', '__proto__', 'hasOwnProperty'])(
    'rejects %j as UnknownOperationException',
    (op) => {
      expect(isKnownOperation(op)).toBe(false);
      expect(errorOf(op, {})).toEqual({ type: 'UnknownOperationException', message: '' });
    },
  );

  it('accepts an empty body for operations without members', () => {
    expect(validateRequest('DescribeLimits', {}, 'json')).toEqual({});
    expect(validateRequest('DescribeAccountSettings', { Anything: 1 }, 'cbor')).toEqual({});
  });
});

describe('body', () => {
  it.each([null, undefined, 'str', 5, true])('answers a bare SerializationException for %j', (body) => {
    expect(errorOf('ListStreams', body)).toEqual({ type: 'SerializationException', message: '' });
  });

  it('treats an array body as an empty object (no members), like kinesalite', () => {
    expect(validateRequest('ListStreams', [1, 2], 'json')).toEqual({});
  });

  it('ignores unknown members and drops nulls', () => {
    const params = validateRequest(
      'DescribeStream',
      { StreamName: 's', Limit: null, Foo: { bar: 1 }, streamName: 5, ExclusiveStartShardId: undefined },
      'json',
    );
    expect(params).toEqual({ StreamName: 's' });
  });

  it('does not type check unknown members', () => {
    expect(validateRequest('ListStreams', { Bogus: [], Limit: 5 }, 'json')).toEqual({ Limit: 5 });
  });

  it('drops unknown members of nested structures', () => {
    const params = validateRequest('ListShards', { StreamName: 's', ShardFilter: { Type: 'AT_LATEST', X: 1 } }, 'json');
    expect(params).toEqual({ StreamName: 's', ShardFilter: { Type: 'AT_LATEST' } });
  });

  it('ignores inherited properties', () => {
    const body = Object.create({ StreamName: 'a*b' }) as Record<string, unknown>;
    body.Limit = 5;
    expect(validateRequest('ListStreams', body, 'json')).toEqual({ Limit: 5 });
  });

  it('accepts Map instances from a CBOR decoder', () => {
    const body = new Map<string, unknown>([
      ['StreamName', 's'],
      ['Tags', new Map([['k', 'v']])],
    ]);
    expect(validateRequest('AddTagsToStream', body, 'cbor')).toEqual({ StreamName: 's', Tags: { k: 'v' } });
  });
});

describe('type checking', () => {
  it('reports the first offending member in rule order and stops', () => {
    // GetShardIterator checks ShardId before StreamName.
    expectSerialization(
      'GetShardIterator',
      { StreamName: 5, ShardId: true },
      'class java.lang.Boolean can not be converted to an String',
    );
  });

  it('type errors win over constraint violations', () => {
    expectSerialization(
      'PutRecord',
      { StreamName: 'a*b', PartitionKey: '', Data: 5 },
      'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob',
    );
  });

  it('type checks nested list members', () => {
    expectSerialization(
      'PutRecords',
      { Records: [{ PartitionKey: 'a', Data: '' }, { PartitionKey: 5, Data: '' }] },
      'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String',
    );
  });

  it('truncates fractional integers and saturates at Integer.MAX_VALUE', () => {
    expect(validateRequest('ListStreams', { Limit: 5.9 }, 'json')).toEqual({ Limit: 5 });
    expectValidation('ListStreams', { Limit: 100000000000 }, [bad(2147483647, 'limit', 'Member must have value less than or equal to 10000')]);
    expectValidation('ListStreams', { Limit: 0.5 }, [bad(0, 'limit', 'Member must have value greater than or equal to 1')]);
  });

  it('accepts bigint integers from CBOR', () => {
    expect(validateRequest('ListStreams', { Limit: 7n }, 'cbor')).toEqual({ Limit: 7 });
  });

  it('accepts booleans only as booleans', () => {
    expect(validateRequest('DeleteStream', { StreamName: 's', EnforceConsumerDeletion: false }, 'json')).toEqual({
      StreamName: 's',
      EnforceConsumerDeletion: false,
    });
    expectSerialization('DeleteStream', { EnforceConsumerDeletion: 'true' }, "'TRUE' can not be converted to an Boolean");
  });
});

describe('blobs', () => {
  it('decodes base64 to a Buffer (json)', () => {
    const params = validateRequest('PutRecord', { StreamName: 's', PartitionKey: 'p', Data: 'aGVsbG8=' }, 'json');
    expect(Buffer.isBuffer(params.Data)).toBe(true);
    expect((params.Data as Buffer).toString()).toBe('hello');
  });

  it('accepts empty data', () => {
    const params = validateRequest('PutRecord', { StreamName: 's', PartitionKey: 'p', Data: '' }, 'json');
    expect(params.Data).toEqual(Buffer.alloc(0));
  });

  it.each([
    ['YQ', "'YQ' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 2"],
    ['YQ=a', "'YQ=a' can not be converted to a Blob: Invalid Base64 character: '='"],
    ['aGV$', "'aGV$' can not be converted to a Blob: Invalid Base64 character: '$'"],
    ['aGVsbG8-', "'aGVsbG8-' can not be converted to a Blob: Invalid Base64 character: '-'"],
    ['YR==', "'YR==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"],
    ['YWJ=', "'YWJ=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"],
  ])('rejects invalid base64 %j', (data, message) => {
    expectSerialization('PutRecord', { StreamName: 's', PartitionKey: 'p', Data: data }, message);
  });

  it('passes CBOR byte strings through as Buffer', () => {
    const data = Buffer.from([0, 1, 2, 255]);
    const params = validateRequest('PutRecord', { StreamName: 's', PartitionKey: 'p', Data: data }, 'cbor');
    expect(params.Data).toBe(data);
  });

  it('wraps a CBOR Uint8Array view without copying the wrong bytes', () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const view = backing.subarray(2, 5);
    const params = validateRequest('PutRecord', { StreamName: 's', PartitionKey: 'p', Data: view }, 'cbor');
    expect(Buffer.isBuffer(params.Data)).toBe(true);
    expect([...(params.Data as Buffer)]).toEqual([1, 2, 3]);
  });

  it('still rejects non-blob CBOR values with the JSON messages', () => {
    expectSerialization(
      'PutRecord',
      { StreamName: 's', PartitionKey: 'p', Data: 7 },
      'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob',
      'cbor',
    );
    expectSerialization(
      'PutRecord',
      { StreamName: 's', PartitionKey: 'p', Data: [1, 2] },
      'Start of list found where not expected',
      'cbor',
    );
  });

  it('does not limit Data size (the stream may allow up to 10 MiB; the operation checks)', () => {
    const data = Buffer.alloc(1048577).toString('base64');
    const params = validateRequest('PutRecord', { StreamName: 's', PartitionKey: 'p', Data: data }, 'json');
    expect((params.Data as Buffer).length).toBe(1048577);
  });
});

describe('timestamps', () => {
  const body = (ts: unknown) => ({ StreamName: 's', ShardId: 'shardId-0', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: ts });

  it('reads JSON numbers as epoch seconds, fractions included', () => {
    const params = validateRequest('GetShardIterator', body(1500000000.123), 'json');
    expect(params.Timestamp).toEqual(new Date(1500000000123));
  });

  it('reads CBOR numbers as epoch milliseconds', () => {
    const params = validateRequest('GetShardIterator', body(1500000000123), 'cbor');
    expect(params.Timestamp).toEqual(new Date(1500000000123));
  });

  it('passes CBOR Dates (tag 1) through', () => {
    const date = new Date(1500000000123);
    expect(validateRequest('GetShardIterator', body(date), 'cbor').Timestamp).toBe(date);
  });

  it('normalises nested timestamps', () => {
    const params = validateRequest(
      'ListShards',
      { StreamName: 's', StreamCreationTimestamp: 1, ShardFilter: { Type: 'AT_TIMESTAMP', Timestamp: 2.5 } },
      'json',
    );
    expect(params.StreamCreationTimestamp).toEqual(new Date(1000));
    expect((params.ShardFilter as { Timestamp: Date }).Timestamp).toEqual(new Date(2500));
  });

  it.each([
    ['2017-07-14T02:40:00Z', 'class java.lang.String can not be converted to milliseconds since epoch'],
    [false, 'class java.lang.Boolean can not be converted to milliseconds since epoch'],
    [[1], 'Start of list found where not expected'],
    [{ a: 1 }, 'Start of structure or map found where not expected.'],
  ])('rejects %j', (ts, message) => {
    expectSerialization('GetShardIterator', body(ts), message);
    expectSerialization('GetShardIterator', body(ts), message, 'cbor');
  });
});

describe('constraints', () => {
  it('anchors patterns to the whole value', () => {
    expectValidation('SplitShard', { ShardToSplit: 's', NewStartingHashKey: '0abc' }, [
      bad('0abc', 'newStartingHashKey', pattern('0|([1-9]\\d{0,38})')),
    ]);
    expectValidation('SplitShard', { ShardToSplit: 's', NewStartingHashKey: 'x12' }, [
      bad('x12', 'newStartingHashKey', pattern('0|([1-9]\\d{0,38})')),
    ]);
    expect(validateRequest('SplitShard', { ShardToSplit: 's', NewStartingHashKey: '12' }, 'json')).toBeTruthy();
  });

  it('lists a member’s violations in check order: pattern, then lengths', () => {
    expectValidation('DescribeStreamSummary', { StreamName: `${long(128)}!` }, [
      bad(`${long(128)}!`, 'streamName', pattern(NAME)),
      bad(`${long(128)}!`, 'streamName', maxLen(128)),
    ]);
  });

  it('stops listing after ten violations', () => {
    const records = Array.from({ length: 12 }, () => ({ PartitionKey: '', Data: '' }));
    const err = errorOf('PutRecords', { StreamName: 'a*b', Records: records });
    expect(err.type).toBe('ValidationException');
    expect(err.message.startsWith('10 validation errors detected: ')).toBe(true);
    expect(err.message).toContain("'records.10.member.partitionKey'");
    expect(err.message).not.toContain("'records.11.member.partitionKey'");
    expect(err.message).not.toContain('streamName');
  });

  it('uses the singular for one violation', () => {
    expect(errorOf('GetRecords', {})).toEqual({
      type: 'ValidationException',
      message: `1 validation error detected: ${isNull('shardIterator')}`,
    });
  });

  it('returns the normalised params when everything is valid', () => {
    expect(validateRequest('DescribeStream', { StreamName: 's', Limit: 10, ExclusiveStartShardId: 'shardId-1' }, 'json')).toEqual({
      StreamName: 's',
      Limit: 10,
      ExclusiveStartShardId: 'shardId-1',
    });
  });
});

describe('streamRef', () => {
  it('returns whichever of StreamName and StreamARN was given', () => {
    expect(streamRef(validateRequest('DescribeStreamSummary', { StreamName: 's' }, 'json'))).toEqual({ name: 's' });
    expect(streamRef(validateRequest('DescribeStreamSummary', { StreamARN: ARN }, 'json'))).toEqual({ arn: ARN });
    expect(streamRef({ StreamName: 's', StreamARN: ARN })).toEqual({ name: 's', arn: ARN });
    expect(streamRef(validateRequest('DescribeStreamSummary', {}, 'json'))).toEqual({});
  });
});

describe('non-finite numbers', () => {
  it('rejects NaN integers and unrepresentable timestamps', () => {
    expectSerialization('ListStreams', { Limit: NaN }, 'class java.lang.Double can not be converted to an Integer', 'cbor');
    const iterator = { StreamName: 's', ShardId: 'shardId-0', ShardIteratorType: 'AT_TIMESTAMP' };
    expectSerialization('GetShardIterator', { ...iterator, Timestamp: NaN }, 'class java.lang.Double can not be converted to milliseconds since epoch', 'cbor');
    expectSerialization('GetShardIterator', { ...iterator, Timestamp: new Date(NaN) }, 'class java.lang.Double can not be converted to milliseconds since epoch', 'cbor');
    expectSerialization('GetShardIterator', JSON.parse(`{"ShardId":"s","ShardIteratorType":"LATEST","Timestamp":1e999}`), 'class java.lang.Double can not be converted to milliseconds since epoch');
  });

  it('saturates a huge JSON integer literal like any other large one', () => {
    expectValidation('ListStreams', JSON.parse('{"Limit":1e999}'), [bad(2147483647, 'limit', 'Member must have value less than or equal to 10000')]);
  });
});
