// Operations kinesalite never had: stream consumers, resource policies and
// account settings, checked against the API reference's constraints.

import { describe, expect, it } from '@jest/globals';
import { validateRequest } from '../../runtime/api/validation/index.js';
import {
  ARN,
  CONSUMER,
  CONSUMER_ARN,
  NAME,
  RESOURCE_ARN,
  STREAM_ARN,
  STREAM_ID,
  bad,
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

describe('RegisterStreamConsumer', () => {
  const op = 'RegisterStreamConsumer';

  serializations(op, [
    ['StreamARN', 'String'],
    ['ConsumerName', 'String'],
    ['Tags', 'Map'],
    ['Tags.a', 'String'],
    ['StreamId', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('streamARN'), isNull('consumerName')]);
  });

  it('ValidationException for empty strings', () => {
    expectValidation(op, { StreamARN: '', ConsumerName: '', Tags: {} }, [
      bad('', 'streamARN', pattern(STREAM_ARN)),
      bad('', 'streamARN', minLen(1)),
      bad('', 'consumerName', pattern(NAME)),
      bad('', 'consumerName', minLen(1)),
      bad('{}', 'tags', minLen(1)),
    ]);
  });

  it('ValidationException for a long consumer name', () => {
    expectValidation(op, { StreamARN: ARN, ConsumerName: long(129) }, [bad(long(129), 'consumerName', maxLen(128))]);
  });

  it('accepts a valid registration with tags', () => {
    const body = { StreamARN: ARN, ConsumerName: 'app-1.v2_x', Tags: { team: 'a' } };
    expect(validateRequest(op, body, 'json')).toEqual(body);
  });
});

describe.each(['DeregisterStreamConsumer', 'DescribeStreamConsumer'])('%s', (op) => {
  serializations(op, [
    ['StreamARN', 'String'],
    ['ConsumerName', 'String'],
    ['ConsumerARN', 'String'],
    ['StreamId', 'String'],
  ]);

  it('accepts no members (which combination is required is the operation’s InvalidArgument)', () => {
    expect(validateRequest(op, {}, 'json')).toEqual({});
  });

  it('ValidationException for empty strings, in member order', () => {
    expectValidation(op, { ConsumerARN: '', ConsumerName: '', StreamARN: '', StreamId: '' }, [
      bad('', 'streamARN', pattern(STREAM_ARN)),
      bad('', 'streamARN', minLen(1)),
      bad('', 'consumerName', pattern(NAME)),
      bad('', 'consumerName', minLen(1)),
      bad('', 'consumerARN', pattern(CONSUMER_ARN)),
      bad('', 'consumerARN', minLen(1)),
      bad('', 'streamId', pattern(STREAM_ID)),
      bad('', 'streamId', minLen(1)),
    ]);
  });

  it.each([
    `${ARN}/consumer/c1`,
    `${ARN}/consumer/c 1:1700000000`,
    `${ARN}/consumer/c1:now`,
    'arn:aws:kinesis:us-east-1:1234:stream/s1/consumer/c1:1',
  ])('ValidationException for ConsumerARN %j', (arn) => {
    expectValidation(op, { ConsumerARN: arn }, [bad(arn, 'consumerARN', pattern(CONSUMER_ARN))]);
  });

  it('accepts a ConsumerARN, or StreamARN plus ConsumerName', () => {
    expect(validateRequest(op, { ConsumerARN: CONSUMER }, 'json')).toEqual({ ConsumerARN: CONSUMER });
    expect(validateRequest(op, { StreamARN: ARN, ConsumerName: 'c1' }, 'cbor')).toEqual({ StreamARN: ARN, ConsumerName: 'c1' });
  });
});

describe('ListStreamConsumers', () => {
  const op = 'ListStreamConsumers';

  serializations(op, [
    ['StreamARN', 'String'],
    ['NextToken', 'String'],
    ['MaxResults', 'Integer'],
    ['StreamCreationTimestamp', 'Timestamp'],
    ['StreamId', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('streamARN')]);
  });

  it('ValidationException for out-of-range values', () => {
    expectValidation(op, { StreamARN: ARN, NextToken: '', MaxResults: 0 }, [bad('', 'nextToken', minLen(1)), bad(0, 'maxResults', gte(1))]);
    expectValidation(op, { StreamARN: ARN, MaxResults: 10001 }, [bad(10001, 'maxResults', lte(10000))]);
  });

  it('normalises StreamCreationTimestamp', () => {
    expect(validateRequest(op, { StreamARN: ARN, StreamCreationTimestamp: 1600000000 }, 'json')).toEqual({
      StreamARN: ARN,
      StreamCreationTimestamp: new Date(1600000000000),
    });
  });
});

describe('PutResourcePolicy', () => {
  const op = 'PutResourcePolicy';

  serializations(op, [
    ['ResourceARN', 'String'],
    ['Policy', 'String'],
    ['StreamId', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('resourceARN'), isNull('policy')]);
  });

  it('ValidationException for a bad ResourceARN; any Policy text passes (parsed by the operation)', () => {
    expectValidation(op, { ResourceARN: 'x', Policy: '' }, [bad('x', 'resourceARN', pattern(RESOURCE_ARN))]);
    expect(validateRequest(op, { ResourceARN: CONSUMER, Policy: 'not json' }, 'json')).toEqual({
      ResourceARN: CONSUMER,
      Policy: 'not json',
    });
  });
});

describe.each(['GetResourcePolicy', 'DeleteResourcePolicy'])('%s', (op) => {
  serializations(op, [
    ['ResourceARN', 'String'],
    ['StreamId', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('resourceARN')]);
  });

  it('ValidationException for bad members', () => {
    expectValidation(op, { ResourceARN: '', StreamId: 'ABCDEFGHIJKLMNOPQRST-abc' }, [
      bad('', 'resourceARN', pattern(RESOURCE_ARN)),
      bad('', 'resourceARN', minLen(1)),
      bad('ABCDEFGHIJKLMNOPQRST-abc', 'streamId', pattern(STREAM_ID)),
    ]);
  });

  it('accepts a well-formed StreamId', () => {
    const body = { ResourceARN: ARN, StreamId: 'abcdefghij0123456789-abc' };
    expect(validateRequest(op, body, 'json')).toEqual(body);
  });
});

describe('UpdateAccountSettings', () => {
  const op = 'UpdateAccountSettings';

  serializations(op, [
    ['MinimumThroughputBillingCommitment', 'Structure'],
    ['MinimumThroughputBillingCommitment.Status', 'String'],
  ]);

  it('ValidationException for no members', () => {
    expectValidation(op, {}, [isNull('minimumThroughputBillingCommitment')]);
  });

  it('ValidationException for a missing or unknown Status', () => {
    expectValidation(op, { MinimumThroughputBillingCommitment: {} }, [isNull('minimumThroughputBillingCommitment.status')]);
    expectValidation(op, { MinimumThroughputBillingCommitment: { Status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' } }, [
      bad('ENABLED_UNTIL_EARLIEST_ALLOWED_END', 'minimumThroughputBillingCommitment.status', oneOf(['ENABLED', 'DISABLED'])),
    ]);
  });

  it.each(['ENABLED', 'DISABLED'])('accepts %s', (status) => {
    const body = { MinimumThroughputBillingCommitment: { Status: status } };
    expect(validateRequest(op, body, 'cbor')).toEqual(body);
  });
});

describe.each(['DescribeLimits', 'DescribeAccountSettings'])('%s', (op) => {
  it('has no members and ignores whatever is sent', () => {
    expect(validateRequest(op, {}, 'json')).toEqual({});
    expect(validateRequest(op, { StreamName: 5, Limit: 'x' }, 'json')).toEqual({});
  });
});
