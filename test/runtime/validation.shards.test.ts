// ListShards, MergeShards, SplitShard: kinesalite's suites ported, plus
// ShardFilter and the StreamARN/StreamId members.

import { describe, expect, it } from '@jest/globals';
import { validateRequest } from '../../runtime/api/validation/index.js';
import {
  ARN,
  NAME,
  bad,
  emptyArnTail,
  expectValidation,
  isNull,
  long,
  maxLen,
  minLen,
  oneOf,
  pattern,
  serializations,
} from './validation.helpers.js';

const FILTER_TYPES = ['AFTER_SHARD_ID', 'AT_TRIM_HORIZON', 'FROM_TRIM_HORIZON', 'AT_LATEST', 'AT_TIMESTAMP', 'FROM_TIMESTAMP'];

describe('ListShards', () => {
  const op = 'ListShards';

  serializations(op, [
    ['StreamName', 'String'],
    ['MaxResults', 'Integer'],
    ['ExclusiveStartShardId', 'String'],
    ['NextToken', 'String'],
    ['StreamCreationTimestamp', 'Timestamp'],
    ['ShardFilter', 'Structure'],
    ['ShardFilter.Type', 'String'],
    ['ShardFilter.ShardId', 'String'],
    ['ShardFilter.Timestamp', 'Timestamp'],
    ['StreamARN', 'String'],
  ]);

  it('accepts no members (NextToken vs StreamName is the operation’s InvalidArgument)', () => {
    expect(validateRequest(op, {}, 'json')).toEqual({});
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', NextToken: '', MaxResults: 0, ExclusiveStartShardId: '' }, [
      "Value '' at 'exclusiveStartShardId' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
      "Value '' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1",
      "Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, MaxResults: 100000, ExclusiveStartShardId: name }, [
      `Value '${name}' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length less than or equal to 128`,
      "Value '100000' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10000",
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('ValidationException for a NextToken over 1 MiB', () => {
    const token = long(1048577);
    expectValidation(op, { NextToken: token }, [bad(token, 'nextToken', maxLen(1048576))]);
  });

  it('ValidationException for a ShardFilter without Type', () => {
    expectValidation(op, { StreamName: 's', ShardFilter: {} }, [isNull('shardFilter.type')]);
  });

  it('ValidationException for bad ShardFilter members', () => {
    expectValidation(op, { StreamName: 's', ShardFilter: { Type: 'LATEST', ShardId: '' } }, [
      bad('LATEST', 'shardFilter.type', oneOf(FILTER_TYPES)),
      bad('', 'shardFilter.shardId', pattern(NAME)),
      bad('', 'shardFilter.shardId', minLen(1)),
    ]);
  });

  it('ValidationException for empty StreamARN and StreamId', () => {
    expectValidation(op, { StreamARN: '', StreamId: '' }, emptyArnTail);
  });

  it.each(FILTER_TYPES)('accepts ShardFilter type %s', (type) => {
    expect(validateRequest(op, { StreamARN: ARN, ShardFilter: { Type: type, ShardId: 'shardId-000000000001' } }, 'json'))
      .toEqual({ StreamARN: ARN, ShardFilter: { Type: type, ShardId: 'shardId-000000000001' } });
  });

  it('normalises both timestamps for CBOR', () => {
    const created = new Date(1600000000000);
    const params = validateRequest(
      op,
      { StreamName: 's', StreamCreationTimestamp: created, ShardFilter: { Type: 'FROM_TIMESTAMP', Timestamp: 1600000001000 } },
      'cbor',
    );
    expect(params).toEqual({
      StreamName: 's',
      StreamCreationTimestamp: created,
      ShardFilter: { Type: 'FROM_TIMESTAMP', Timestamp: new Date(1600000001000) },
    });
  });
});

describe('MergeShards', () => {
  const op = 'MergeShards';

  serializations(op, [
    ['ShardToMerge', 'String'],
    ['AdjacentShardToMerge', 'String'],
    ['StreamName', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [
      "Value null at 'shardToMerge' failed to satisfy constraint: Member must not be null",
      "Value null at 'adjacentShardToMerge' failed to satisfy constraint: Member must not be null",
    ]);
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', ShardToMerge: '', AdjacentShardToMerge: '' }, [
      "Value '' at 'shardToMerge' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'shardToMerge' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'adjacentShardToMerge' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
      "Value '' at 'adjacentShardToMerge' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, ShardToMerge: name, AdjacentShardToMerge: name }, [
      `Value '${name}' at 'shardToMerge' failed to satisfy constraint: Member must have length less than or equal to 128`,
      `Value '${name}' at 'adjacentShardToMerge' failed to satisfy constraint: Member must have length less than or equal to 128`,
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('accepts a StreamARN', () => {
    const body = { StreamARN: ARN, ShardToMerge: 'shardId-0', AdjacentShardToMerge: 'shardId-1' };
    expect(validateRequest(op, body, 'json')).toEqual(body);
  });
});

describe('SplitShard', () => {
  const op = 'SplitShard';

  serializations(op, [
    ['NewStartingHashKey', 'String'],
    ['ShardToSplit', 'String'],
    ['StreamName', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [
      "Value null at 'newStartingHashKey' failed to satisfy constraint: Member must not be null",
      "Value null at 'shardToSplit' failed to satisfy constraint: Member must not be null",
    ]);
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', ShardToSplit: '', NewStartingHashKey: '' }, [
      "Value '' at 'newStartingHashKey' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'shardToSplit' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'shardToSplit' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, ShardToSplit: name, NewStartingHashKey: '0' }, [
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
      `Value '${name}' at 'shardToSplit' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('leaves hash keys above 2^128-1 with at most 39 digits to the operation', () => {
    const key = '999999999999999999999999999999999999999';
    expect(validateRequest(op, { StreamName: 's', ShardToSplit: 'shard-2', NewStartingHashKey: key }, 'json'))
      .toMatchObject({ NewStartingHashKey: key });
    expectValidation(op, { StreamName: 's', ShardToSplit: 'shard-2', NewStartingHashKey: `${key}9` }, [
      bad(`${key}9`, 'newStartingHashKey', pattern('0|([1-9]\\d{0,38})')),
    ]);
  });
});
