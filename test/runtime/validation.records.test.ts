// PutRecord, PutRecords, GetRecords, GetShardIterator, SubscribeToShard:
// kinesalite's "serializations" and "validations" suites, ported, plus the
// members current Kinesis added (StreamARN, StreamId, ConsumerARN, ...).

import { describe, expect, it } from '@jest/globals';
import { validateRequest } from '../../runtime/api/validation/index.js';
import {
  ARN,
  CONSUMER,
  CONSUMER_ARN,
  HASH_KEY,
  NAME,
  SEQUENCE,
  STREAM_ARN,
  bad,
  bodyAt,
  emptyArnTail,
  expectSerialization,
  expectValidation,
  isNull,
  long,
  maxLen,
  minLen,
  oneOf,
  pattern,
  typeRows,
} from './validation.helpers.js';

const ITERATOR_TYPES = ['AFTER_SEQUENCE_NUMBER', 'LATEST', 'AT_TIMESTAMP', 'AT_SEQUENCE_NUMBER', 'TRIM_HORIZON'];

describe('PutRecord', () => {
  const op = 'PutRecord';

  it.each(
    typeRows([
      ['Data', 'Blob'],
      ['ExplicitHashKey', 'String'],
      ['PartitionKey', 'String'],
      ['SequenceNumberForOrdering', 'String'],
      ['StreamName', 'String'],
      ['StreamARN', 'String'],
      ['StreamId', 'String'],
    ]),
  )('SerializationException when %s (%s) is %s', (path, _t, _s, value, message) => {
    expectSerialization(op, bodyAt(path, value), message);
  });

  it('ValidationException for no members (StreamName is optional now)', () => {
    expectValidation(op, {}, [isNull('partitionKey'), isNull('data')]);
  });

  it('ValidationException for empty StreamName and friends', () => {
    expectValidation(
      op,
      { StreamName: '', PartitionKey: '', Data: '', ExplicitHashKey: '', SequenceNumberForOrdering: '' },
      [
        "Value '' at 'sequenceNumberForOrdering' failed to satisfy constraint: " +
          'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})',
        "Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
        "Value '' at 'explicitHashKey' failed to satisfy constraint: " +
          'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
        "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ],
    );
  });

  it('ValidationException for long StreamName and PartitionKey (Data size is the operation’s job)', () => {
    const name = long(129);
    const key = long(257);
    const data = Buffer.alloc(1048577).toString('base64');
    expectValidation(op, { StreamName: name, PartitionKey: key, Data: data, ExplicitHashKey: '' }, [
      `Value '${key}' at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256`,
      "Value '' at 'explicitHashKey' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it.each(['01', '-1', '1.5', long(40, '9'), 'abc'])('ExplicitHashKey %j fails the pattern', (key) => {
    expectValidation(op, { StreamName: 's', PartitionKey: 'p', Data: '', ExplicitHashKey: key }, [
      bad(key, 'explicitHashKey', pattern(HASH_KEY)),
    ]);
  });

  it('ExplicitHashKey just over 2^128-1 passes validation (range is InvalidArgument later)', () => {
    const key = '340282366920938463463374607431768211456';
    expect(validateRequest(op, { StreamName: 's', PartitionKey: 'p', Data: '', ExplicitHashKey: key }, 'json'))
      .toMatchObject({ ExplicitHashKey: key });
  });

  it.each(['00', '1' + '0'.repeat(129), ' 1'])('SequenceNumberForOrdering %j fails the pattern', (seq) => {
    expectValidation(op, { StreamName: 's', PartitionKey: 'p', Data: '', SequenceNumberForOrdering: seq }, [
      bad(seq, 'sequenceNumberForOrdering', pattern(SEQUENCE)),
    ]);
  });

  it('ValidationException for bad StreamARN and StreamId', () => {
    expectValidation(op, { PartitionKey: 'p', Data: '', StreamARN: '', StreamId: '' }, emptyArnTail);
    const arn = `arn:aws:kinesis:us-east-1:123:stream/s`;
    expectValidation(op, { PartitionKey: 'p', Data: '', StreamARN: arn, StreamId: long(25) }, [
      bad(arn, 'streamARN', pattern(STREAM_ARN)),
      bad(long(25), 'streamId', pattern('[a-z0-9]{20}-[a-z0-9]{3}')),
      bad(long(25), 'streamId', maxLen(24)),
    ]);
  });

  it('accepts a StreamARN instead of a StreamName', () => {
    expect(validateRequest(op, { StreamARN: ARN, PartitionKey: 'p', Data: 'AA==' }, 'json')).toEqual({
      StreamARN: ARN,
      PartitionKey: 'p',
      Data: Buffer.from([0]),
    });
  });

  it('accepts ARNs of other partitions', () => {
    const arn = 'arn:aws-cn:kinesis:cn-north-1:123456789012:stream/x';
    expect(validateRequest(op, { StreamARN: arn, PartitionKey: 'p', Data: '' }, 'cbor')).toMatchObject({ StreamARN: arn });
  });
});

describe('PutRecords', () => {
  const op = 'PutRecords';
  const entry = 'com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310';

  it.each(
    typeRows([
      ['Records', 'List'],
      ['Records.0', 'Structure'],
      ['Records.0.Data', 'Blob'],
      ['Records.0.ExplicitHashKey', 'String'],
      ['Records.0.PartitionKey', 'String'],
      ['StreamName', 'String'],
      ['StreamARN', 'String'],
    ]),
  )('SerializationException when %s (%s) is %s', (path, _t, _s, value, message) => {
    expectSerialization(op, bodyAt(path, value), message);
  });

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('records')]);
  });

  it('ValidationException for empty StreamName and Records', () => {
    expectValidation(op, { StreamName: '', Records: [] }, [
      "Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for empty PartitionKey', () => {
    expectValidation(op, { StreamName: '', Records: [{ PartitionKey: '', Data: '', ExplicitHashKey: '' }] }, [
      "Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: " +
        'Member must have length greater than or equal to 1',
      "Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName and PartitionKey', () => {
    const name = long(129);
    const key = long(257);
    const data = Buffer.alloc(51201).toString('base64');
    expectValidation(op, { StreamName: name, Records: [{ PartitionKey: key, Data: data, ExplicitHashKey: '' }] }, [
      `Value '${key}' at 'records.1.member.partitionKey' failed to satisfy constraint: ` +
        'Member must have length less than or equal to 256',
      "Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('ValidationException for too many records, capped at ten violations', () => {
    const records = Array.from({ length: 501 }, () => ({ PartitionKey: '', Data: '' }));
    const listed = Array.from({ length: 501 }, () => entry).join(', ');
    expectValidation(op, { StreamName: '', Records: records }, [
      `Value '[${listed}]' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500`,
      ...Array.from({ length: 9 }, (_, i) =>
        `Value '' at 'records.${i + 1}.member.partitionKey' failed to satisfy constraint: ` +
          'Member must have length greater than or equal to 1',
      ),
    ]);
  });

  it('accepts exactly 500 records', () => {
    const records = Array.from({ length: 500 }, () => ({ PartitionKey: 'p', Data: '' }));
    expect((validateRequest(op, { StreamName: 's', Records: records }, 'json').Records as unknown[]).length).toBe(500);
  });

  it('ValidationException for missing members of a record', () => {
    expectValidation(op, { StreamName: 's', Records: [{}, { PartitionKey: 'p' }, { Data: '' }] }, [
      isNull('records.1.member.partitionKey'),
      isNull('records.1.member.data'),
      isNull('records.2.member.data'),
      isNull('records.3.member.partitionKey'),
    ]);
  });

  it('ValidationException for a null record', () => {
    expectValidation(op, { StreamName: 's', Records: [{ PartitionKey: 'p', Data: '' }, null] }, [
      isNull('records.2.member'),
    ]);
  });

  it('normalises each record’s Data to a Buffer, in both protocols', () => {
    const json = validateRequest(op, { StreamName: 's', Records: [{ PartitionKey: 'p', Data: 'aGk=' }] }, 'json');
    expect(json.Records).toEqual([{ PartitionKey: 'p', Data: Buffer.from('hi') }]);
    const cbor = validateRequest(
      op,
      { StreamARN: ARN, Records: [{ PartitionKey: 'p', Data: new Uint8Array([104, 105]), Extra: 1 }] },
      'cbor',
    );
    expect(cbor.Records).toEqual([{ PartitionKey: 'p', Data: Buffer.from('hi') }]);
  });
});

describe('GetRecords', () => {
  const op = 'GetRecords';

  it.each(
    typeRows([
      ['Limit', 'Integer'],
      ['ShardIterator', 'String'],
      ['StreamARN', 'String'],
    ]),
  )('SerializationException when %s (%s) is %s', (path, _t, _s, value, message) => {
    expectSerialization(op, bodyAt(path, value), message);
  });

  it('ValidationException for no ShardIterator', () => {
    expectValidation(op, {}, ["Value null at 'shardIterator' failed to satisfy constraint: Member must not be null"]);
  });

  it('ValidationException for empty ShardIterator', () => {
    expectValidation(op, { ShardIterator: '', Limit: 0 }, [
      "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
      "Value '' at 'shardIterator' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long ShardIterator', () => {
    const it513 = long(513);
    expectValidation(op, { ShardIterator: it513, Limit: 100000 }, [
      "Value '100000' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000",
      `Value '${it513}' at 'shardIterator' failed to satisfy constraint: Member must have length less than or equal to 512`,
    ]);
  });

  it('ValidationException for a bad StreamARN', () => {
    expectValidation(op, { ShardIterator: 'x', StreamARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/' }, [
      bad('arn:aws:kinesis:us-east-1:123456789012:stream/', 'streamARN', pattern(STREAM_ARN)),
    ]);
  });

  it('accepts the bounds', () => {
    expect(validateRequest(op, { ShardIterator: long(512), Limit: 10000 }, 'json')).toMatchObject({ Limit: 10000 });
    expect(validateRequest(op, { ShardIterator: 'a', Limit: 1, StreamARN: ARN }, 'json')).toMatchObject({ Limit: 1 });
  });
});

describe('GetShardIterator', () => {
  const op = 'GetShardIterator';

  it.each(
    typeRows([
      ['ShardId', 'String'],
      ['ShardIteratorType', 'String'],
      ['StartingSequenceNumber', 'String'],
      ['StreamName', 'String'],
      ['Timestamp', 'Timestamp'],
      ['StreamARN', 'String'],
    ]),
  )('SerializationException when %s (%s) is %s', (path, _t, _s, value, message) => {
    expectSerialization(op, bodyAt(path, value), message);
  });

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('shardId'), isNull('shardIteratorType')]);
  });

  it('ValidationException for empty StreamName and friends', () => {
    expectValidation(op, { StreamName: '', ShardIteratorType: '', ShardId: '', StartingSequenceNumber: '' }, [
      "Value '' at 'shardId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'shardId' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'shardIteratorType' failed to satisfy constraint: " +
        'Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]',
      "Value '' at 'startingSequenceNumber' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})',
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName and ShardId', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, ShardId: name, ShardIteratorType: 'LATEST' }, [
      `Value '${name}' at 'shardId' failed to satisfy constraint: Member must have length less than or equal to 128`,
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it.each(['latest', 'AT_TIME', 'TRIM_HORIZON '])('ValidationException for ShardIteratorType %j', (type) => {
    expectValidation(op, { StreamName: 's', ShardId: 'shardId-0', ShardIteratorType: type }, [
      bad(type, 'shardIteratorType', oneOf(ITERATOR_TYPES)),
    ]);
  });

  it.each(ITERATOR_TYPES)('accepts %s', (type) => {
    expect(validateRequest(op, { StreamARN: ARN, ShardId: 'shardId-0', ShardIteratorType: type }, 'json'))
      .toMatchObject({ ShardIteratorType: type });
  });

  it('pairing of type with StartingSequenceNumber/Timestamp is left to the operation', () => {
    const params = validateRequest(
      op,
      { StreamName: 's', ShardId: 'shardId-0', ShardIteratorType: 'LATEST', StartingSequenceNumber: '5', Timestamp: 1 },
      'json',
    );
    expect(params).toEqual({
      StreamName: 's',
      ShardId: 'shardId-0',
      ShardIteratorType: 'LATEST',
      StartingSequenceNumber: '5',
      Timestamp: new Date(1000),
    });
  });
});

describe('SubscribeToShard', () => {
  const op = 'SubscribeToShard';
  const position = { Type: 'LATEST' };

  it.each(
    typeRows([
      ['ConsumerARN', 'String'],
      ['ShardId', 'String'],
      ['StartingPosition', 'Structure'],
      ['StartingPosition.Type', 'String'],
      ['StartingPosition.SequenceNumber', 'String'],
      ['StartingPosition.Timestamp', 'Timestamp'],
      ['StreamId', 'String'],
    ]),
  )('SerializationException when %s (%s) is %s', (path, _t, _s, value, message) => {
    expectSerialization(op, bodyAt(path, value), message);
  });

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('consumerARN'), isNull('shardId'), isNull('startingPosition')]);
  });

  it('ValidationException for an empty StartingPosition', () => {
    expectValidation(op, { ConsumerARN: CONSUMER, ShardId: 'shardId-0', StartingPosition: {} }, [
      isNull('startingPosition.type'),
    ]);
  });

  it('ValidationException for empty strings everywhere', () => {
    expectValidation(
      op,
      { ConsumerARN: '', ShardId: '', StartingPosition: { Type: '', SequenceNumber: '' }, StreamId: '' },
      [
        bad('', 'consumerARN', pattern(CONSUMER_ARN)),
        bad('', 'consumerARN', minLen(1)),
        bad('', 'shardId', pattern(NAME)),
        bad('', 'shardId', minLen(1)),
        bad('', 'startingPosition.type', oneOf(ITERATOR_TYPES)),
        bad('', 'startingPosition.sequenceNumber', pattern(SEQUENCE)),
        bad('', 'streamId', pattern('[a-z0-9]{20}-[a-z0-9]{3}')),
        bad('', 'streamId', minLen(1)),
      ],
    );
  });

  it('ValidationException for a stream ARN where a consumer ARN is expected', () => {
    expectValidation(op, { ConsumerARN: ARN, ShardId: 'shardId-0', StartingPosition: position }, [
      bad(ARN, 'consumerARN', pattern(CONSUMER_ARN)),
    ]);
  });

  it('normalises the starting timestamp', () => {
    const params = validateRequest(
      op,
      { ConsumerARN: CONSUMER, ShardId: 'shardId-0', StartingPosition: { Type: 'AT_TIMESTAMP', Timestamp: 1700000000000 } },
      'cbor',
    );
    expect(params.StartingPosition).toEqual({ Type: 'AT_TIMESTAMP', Timestamp: new Date(1700000000000) });
  });

});
