// Tagging by stream (kinesalite's suites ported, with today's 200-tag / 50-key
// / Limit 50 bounds) and by resource ARN.

import { describe, expect, it } from '@jest/globals';
import { validateRequest } from '../../runtime/api/validation/index.js';
import {
  ARN,
  CONSUMER,
  RESOURCE_ARN,
  bad,
  emptyArnTail,
  expectValidation,
  isNull,
  long,
  maxLen,
  minLen,
  pattern,
  serializations,
} from './validation.helpers.js';

const KEYS = 'Map keys must satisfy constraint: [Member must have length less than or equal to 128, ' +
  'Member must have length greater than or equal to 1]';
const VALUES = 'Map value must satisfy constraint: [Member must have length less than or equal to 256, ' +
  'Member must have length greater than or equal to 0]';
const KEY_LIST = 'Member must satisfy constraint: [Member must have length less than or equal to 128, ' +
  'Member must have length greater than or equal to 1]';

const manyTags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `${i}`]));
const shown = (tags: Record<string, string>) => `{${Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(', ')}}`;

describe.each(['AddTagsToStream', 'TagResource'])('%s tag map', (op) => {
  const target = op === 'TagResource' ? { ResourceARN: ARN } : { StreamName: 's' };

  it('ValidationException for empty Tags', () => {
    expectValidation(op, { ...target, Tags: {} }, [
      "Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long tag key', () => {
    const name = long(129);
    const tags = { a: '1', b: '2', [name]: '3' };
    expectValidation(op, { ...target, Tags: tags }, [
      `Value '{a=1, b=2, ${name}=3}' at 'tags' failed to satisfy constraint: ${KEYS}`,
    ]);
  });

  it('ValidationException for empty tag key', () => {
    expectValidation(op, { ...target, Tags: { '': 'x' } }, [`Value '{=x}' at 'tags' failed to satisfy constraint: ${KEYS}`]);
  });

  it('ValidationException for long tag value', () => {
    const value = long(257);
    const tags = { a: '1', b: '2', c: value };
    expectValidation(op, { ...target, Tags: tags }, [
      `Value '{a=1, b=2, c=${value}}' at 'tags' failed to satisfy constraint: ${VALUES}`,
    ]);
  });

  it('ValidationException for a null tag value', () => {
    expectValidation(op, { ...target, Tags: { a: null } }, [`Value '{a=null}' at 'tags' failed to satisfy constraint: ${VALUES}`]);
  });

  it('ValidationException for long key and value together, keys first', () => {
    const tags = { [long(129)]: long(257) };
    expectValidation(op, { ...target, Tags: tags }, [
      `Value '${shown(tags)}' at 'tags' failed to satisfy constraint: ${KEYS}`,
      `Value '${shown(tags)}' at 'tags' failed to satisfy constraint: ${VALUES}`,
    ]);
  });

  it('ValidationException for too many tags (more than 200)', () => {
    const tags = manyTags(201);
    expectValidation(op, { ...target, Tags: tags }, [
      `Value '${shown(tags)}' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200`,
    ]);
  });

  it('accepts 200 tags, empty values and any characters (character rules are the operation’s)', () => {
    expect(Object.keys(validateRequest(op, { ...target, Tags: manyTags(200) }, 'json').Tags as object)).toHaveLength(200);
    const tags = { 'a;b': '', 'ü0 _.': 'x' };
    expect(validateRequest(op, { ...target, Tags: tags }, 'json').Tags).toEqual(tags);
  });
});

describe('AddTagsToStream', () => {
  const op = 'AddTagsToStream';

  serializations(op, [
    ['Tags', 'Map'],
    ['Tags.a', 'String'],
    ['StreamName', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, ["Value null at 'tags' failed to satisfy constraint: Member must not be null"]);
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', Tags: {} }, [
      "Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, Tags: { 'a;b': 'b' } }, [
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('ValidationException for empty StreamARN and StreamId', () => {
    expectValidation(op, { Tags: { a: 'b' }, StreamARN: '', StreamId: '' }, emptyArnTail);
  });
});

describe.each(['RemoveTagsFromStream', 'UntagResource'])('%s tag keys', (op) => {
  const target = op === 'UntagResource' ? { ResourceARN: ARN } : { StreamName: 's' };

  serializations(op, [
    ['TagKeys', 'List'],
    ['TagKeys.0', 'String'],
  ]);

  it('ValidationException for empty TagKeys', () => {
    expectValidation(op, { ...target, TagKeys: [] }, [
      "Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long TagKey', () => {
    const name = long(129);
    expectValidation(op, { ...target, TagKeys: ['a', name, 'b'] }, [
      `Value '[a, ${name}, b]' at 'tagKeys' failed to satisfy constraint: ${KEY_LIST}`,
    ]);
  });

  it('ValidationException for empty or null TagKey', () => {
    expectValidation(op, { ...target, TagKeys: ['a', ''] }, [`Value '[a, ]' at 'tagKeys' failed to satisfy constraint: ${KEY_LIST}`]);
    expectValidation(op, { ...target, TagKeys: [null] }, [`Value '[null]' at 'tagKeys' failed to satisfy constraint: ${KEY_LIST}`]);
  });

  it('ValidationException for too many TagKeys (more than 50)', () => {
    const keys = Array.from({ length: 51 }, (_, i) => String(i + 1));
    expectValidation(op, { ...target, TagKeys: keys }, [
      `Value '[${keys.join(', ')}]' at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to 50`,
    ]);
  });

  it('accepts 50 keys', () => {
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    expect(validateRequest(op, { ...target, TagKeys: keys }, 'json').TagKeys).toEqual(keys);
  });
});

describe('RemoveTagsFromStream', () => {
  const op = 'RemoveTagsFromStream';

  serializations(op, [['StreamName', 'String'], ['StreamARN', 'String']]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, ["Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"]);
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', TagKeys: [] }, [
      "Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, TagKeys: ['a'] }, [
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });
});

describe('ListTagsForStream', () => {
  const op = 'ListTagsForStream';

  serializations(op, [
    ['Limit', 'Integer'],
    ['ExclusiveStartTagKey', 'String'],
    ['StreamName', 'String'],
    ['StreamARN', 'String'],
  ]);

  it('accepts no members (StreamName or StreamARN is checked by the operation)', () => {
    expect(validateRequest(op, {}, 'json')).toEqual({});
  });

  it('ValidationException for empty StreamName', () => {
    expectValidation(op, { StreamName: '', ExclusiveStartTagKey: '', Limit: 0 }, [
      "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
      "Value '' at 'exclusiveStartTagKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]);
  });

  it('ValidationException for long StreamName (Limit is now at most 50)', () => {
    const name = long(129);
    expectValidation(op, { StreamName: name, ExclusiveStartTagKey: name, Limit: 100 }, [
      "Value '100' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50",
      `Value '${name}' at 'exclusiveStartTagKey' failed to satisfy constraint: Member must have length less than or equal to 128`,
      `Value '${name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    ]);
  });

  it('accepts Limit 50', () => {
    expect(validateRequest(op, { StreamARN: ARN, Limit: 50 }, 'json')).toEqual({ StreamARN: ARN, Limit: 50 });
  });
});

describe('TagResource', () => {
  const op = 'TagResource';

  serializations(op, [
    ['Tags', 'Map'],
    ['Tags.a', 'String'],
    ['ResourceARN', 'String'],
    ['StreamId', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('tags'), isNull('resourceARN')]);
  });

  it('ValidationException for a bad ResourceARN', () => {
    expectValidation(op, { Tags: { a: 'b' }, ResourceARN: '' }, [
      bad('', 'resourceARN', pattern(RESOURCE_ARN)),
      bad('', 'resourceARN', minLen(1)),
    ]);
  });

  it('accepts stream and consumer ARNs', () => {
    expect(validateRequest(op, { Tags: { a: 'b' }, ResourceARN: ARN }, 'json')).toEqual({ Tags: { a: 'b' }, ResourceARN: ARN });
    expect(validateRequest(op, { Tags: { a: 'b' }, ResourceARN: CONSUMER }, 'json')).toMatchObject({ ResourceARN: CONSUMER });
  });
});

describe('UntagResource', () => {
  const op = 'UntagResource';

  serializations(op, [['ResourceARN', 'String']]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('tagKeys'), isNull('resourceARN')]);
  });

  it('ValidationException for a long ResourceARN', () => {
    const arn = `${ARN}${long(2049 - ARN.length)}`;
    expectValidation(op, { TagKeys: ['a'], ResourceARN: arn }, [bad(arn, 'resourceARN', maxLen(2048))]);
  });
});

describe('ListTagsForResource', () => {
  const op = 'ListTagsForResource';

  serializations(op, [
    ['ResourceARN', 'String'],
    ['StreamId', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('resourceARN')]);
  });

  it.each([
    'arn:aws:kinesis:us-east-1:123456789012:table/s',
    'arn:aws:kinesis:us-east-1:123456789012:stream/',
    'arn:aws:dynamodb:us-east-1:123456789012:stream/s',
  ])('ValidationException for ResourceARN %j', (arn) => {
    expectValidation(op, { ResourceARN: arn }, [bad(arn, 'resourceARN', pattern(RESOURCE_ARN))]);
  });

  it('accepts a stream ARN', () => {
    expect(validateRequest(op, { ResourceARN: ARN }, 'cbor')).toEqual({ ResourceARN: ARN });
  });
});
